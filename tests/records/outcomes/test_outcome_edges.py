"""Who and what the outcome figures count, on a real vault of awkward cases (outcome_edges.py):
nothing on a closure day or at a window's edge is lost, and everyone left out of a figure is
there with a reason. Expected figures are worked out by hand in the comments."""

from __future__ import annotations

from datetime import date

import pytest

from sim_desk.records.outcomes import DirectionCounts, LeftOut, Window
from sim_desk.records.read_models import outcome_data
from tests.records.outcomes import outcome_edges


@pytest.fixture
def edges(clinician) -> outcome_edges.Edges:
    return outcome_edges.build(clinician)


def test_death_and_detention_on_the_day_the_record_closed_are_counted(clinician, edges):
    report = outcome_data.person_outcomes(clinician, edges.died)
    o = report.outcome
    # 29 March to 25 October 2026 inclusive: 3 + 30 + 31 + 30 + 31 + 31 + 30 + 25 days.
    assert o.windows.after == Window(date(2026, 3, 29), date(2026, 10, 26))
    assert o.after_days_at_risk == 211
    assert o.type_outcome("death").after.count == 1
    # 00:30 GMT on the enrolment day (as the clocks went forward) and 01:30 BST on the day of
    # closure (as they went back); 23:59 GMT the day before enrolment is before.
    s136 = o.type_outcome("s136")
    assert (s136.before.count, s136.after.count, s136.later.count) == (2, 2, 0)


def test_contacts_on_the_closure_day_count_and_those_before_enrolment_are_said_apart(
    clinician, edges
):
    e = outcome_data.person_outcomes(clinician, edges.died).engagement
    # 2 April, and 23:00 GMT on the day of closure; 10 March was during referral.
    assert (e.contacts, e.contacts_before, e.contacts_after) == (2, 1, 0)


def test_window_edges_fall_at_uk_midnight_in_summer_time(clinician, edges):
    o = outcome_data.person_outcomes(clinician, edges.midnight).outcome
    assert o.windows.after == Window(date(2025, 7, 1), date(2026, 7, 1))
    calls = o.type_outcome("call_999")
    assert (calls.before.count, calls.after.count) == (1, 1)  # 23:59 and 00:00 BST
    s136 = o.type_outcome("s136")
    assert (s136.before.count, s136.after.count, s136.later.count) == (1, 1, 1)
    # 00:00 BST on the enrolment day, and a month after the twelve: both since enrolment.
    e = outcome_data.person_outcomes(clinician, edges.midnight).engagement
    assert (e.contacts, e.contacts_before) == (2, 0)


def test_someone_enrolled_today_is_counted_and_named_as_left_out(clinician, edges):
    o = outcome_data.person_outcomes(clinician, edges.today).outcome
    assert o.windows.after.days == 0
    assert o.type_outcome("call_999").later.count == 1  # this morning's call is shown
    assert o.left_out is LeftOut.ENROLLED_TODAY


def test_an_open_hospital_stay_is_named_as_the_reason(clinician, edges):
    o = outcome_data.person_outcomes(clinician, edges.in_hospital).outcome
    assert (o.windows.after.days, o.after_days_at_risk) == (93, 19)  # in since 20 August
    assert o.left_out is LeftOut.STILL_IN_HOSPITAL


def test_short_follow_up_is_too_early_to_tell_not_an_improvement(clinician, edges):
    o = outcome_data.person_outcomes(clinician, edges.short).outcome
    assert o.after_days_at_risk == 40
    assert o.type_outcome("s136").before.count == 3 and o.left_out is LeftOut.SHORT_FOLLOW_UP


def test_cohort_counts_everyone_and_says_who_is_left_out_of_the_comparison(clinician, edges):
    report = outcome_data.cohort_outcomes(clinician)
    cohort = report.outcome
    assert cohort.n_people == 6
    assert dict(cohort.left_out) == {
        LeftOut.ENROLLED_TODAY: 1,
        LeftOut.STILL_IN_HOSPITAL: 1,
        LeftOut.SHORT_FOLLOW_UP: 1,
    }
    assert (cohort.n_compared, cohort.too_early) == (3, 3)
    s136 = cohort.type_outcome("s136")
    # Dana 2 in 365 days → 2 in 211 (up); Mo 1 → 1 over a year each (level); Lior 3 → 1 (down).
    assert s136.directions == DirectionCounts(down=1, level=1, up=1, too_early=3)
    assert s136.wilcoxon.n_people == 3
    assert cohort.type_outcome("death").after_total.count == 1
    assert s136.later_total.count == 2  # Mo's 1 July 2026 and Lior's June 2025
    assert cohort.type_outcome("call_999").later_total.count == 1  # Tove's, this morning


def test_the_flow_files_a_referral_closed_before_enrolment_under_not_enrolled(clinician, edges):
    flow = outcome_data.cohort_outcomes(clinician).flow
    assert (flow.referred, flow.enrolled, flow.not_enrolled) == (7, 6, 1)
    assert flow.closed == {"died": 1}
    assert flow.closed_at_referral == {"disengaged": 1}
    assert flow.waiting == 0
    # The rows under "enrolled" add up to the people enrolled.
    assert flow.active + flow.stepping_down + sum(flow.closed.values()) == flow.enrolled
