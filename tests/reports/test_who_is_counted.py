"""The printed reports count everyone and every event, and say who each figure leaves out and
why (issue 14), on the vault of awkward cases in tests/records/outcomes/outcome_edges.py."""

from __future__ import annotations

import re

import pytest

from sim_desk.reports import charts
from sim_desk.reports.cohort_report import cohort_report_pdf
from sim_desk.reports.person_report import person_report_pdf
from tests.records.outcomes import outcome_edges
from tests.reports.conftest import all_text


@pytest.fixture
def edges(clinician) -> outcome_edges.Edges:
    return outcome_edges.build(clinician)


@pytest.fixture
def cohort_text(clinician, edges) -> str:
    return all_text(cohort_report_pdf(clinician))


def row(label: str, cells: list[str]) -> re.Pattern[str]:
    return re.compile(re.escape(label) + " " + " ".join(re.escape(c) for c in cells) + r"\b")


def test_the_death_on_the_closure_day_sits_beside_the_closure(cohort_text):
    assert "closed: died 1" in cohort_text
    # Prior, before, after, later: the death is after enrolment.
    assert row("Death", ["0", "0", "1", "0"]).search(cohort_text)
    assert "Records closed because the person died: 1. Deaths recorded as incidents:" in (
        cohort_text
    )
    assert "These differ" not in cohort_text


def test_the_flow_adds_up_under_enrolled(cohort_text):
    flow = cohort_text[cohort_text.index("Everyone counted") : cohort_text.index("Person-time")]
    assert "not enrolled: closed at referral (disengaged) 1" in flow
    assert "closed: disengaged" not in flow
    assert "enrolled (everyone counted below) 6" in flow
    assert "active 5" in flow and "stepping down 0" in flow and "closed: died 1" in flow


def test_the_paired_section_names_everyone_left_out_and_why(cohort_text):
    paired = cohort_text[cohort_text.index("Person by person") :]
    assert "3 of the 6 people enrolled are compared" in paired
    for reason in (
        "1 enrolled today, so not yet followed up",
        "1 in hospital or custody with no discharge or release date recorded",
        "1 followed up for fewer than 90 days at risk",
    ):
        assert reason in paired, reason
    # Down, level, up, then too early to tell: a row adds up to the people enrolled.
    assert re.search(r"Section 136 detention 3 .*? 1 1 1 3 ", paired)
    assert "3 too early to tell: not drawn" in paired  # beside the trajectory chart


def test_later_incidents_are_shown_and_person_time_says_who_has_none(cohort_text):
    # Section 136: Mo's at 00:00 BST after his twelve months, Lior's in June 2025.
    assert re.search(r"Section 136 detention \d+ \d+ \d+ 2 ", cohort_text)
    assert "1 in the after window (enrolled today, or in hospital or custody throughout)" in (
        cohort_text
    )


def test_text_is_escaped_and_each_note_said_once(cohort_text):
    assert "A&E;" not in cohort_text and "A&amp;E" not in cohort_text
    assert "A&E attendance" in cohort_text
    assert cohort_text.count("fewer than two people's rates changed") == 1
    assert "had a different rate after enrolment" not in cohort_text


def test_the_cohort_report_says_how_to_read_it_and_where_windows_end(cohort_text):
    reading = cohort_text[cohort_text.index("How to read these figures") :]
    assert "A rate ratio of 0.6 with a confidence interval (CI) of 0.4 to 0.9" in reading
    assert "It does not mean the programme caused the fall" in reading
    assert "Wilcoxon p:" in reading and "Pratt's method:" in reading
    assert "Person-years at risk:" in reading
    assert "the day the record closed, which is included (a death that day is counted)" in (
        cohort_text
    )
    assert "an incident at 00:00 that day is after" in cohort_text
    assert "only after 90 days at risk since enrolment" in cohort_text


def test_the_person_report_counts_the_closure_day_and_every_contact(clinician, edges):
    text = all_text(person_report_pdf(clinician, edges.died))
    assert row("Death", ["0", "0", "1", "0"]).search(text)
    assert row("Section 136 detention", ["0", "2", "2", "0"]).search(text)
    assert "After 29/03/2026 25/10/2026 211 211" in text
    # Engagement since enrolment and all contacts logged agree: 2 since, 1 before.
    assert "is counted: 2. Of the 3 contacts logged in all, 1 were before enrolment" in text
    assert "All contacts logged 3" in text


def test_the_person_report_shows_what_came_after_the_window(clinician, edges):
    text = all_text(person_report_pdf(clinician, edges.long))
    assert row("Section 136 detention", ["0", "3", "1", "1"]).search(text)
    assert "Later (in no rate) 15/01/2025 02/11/2026" in text
    assert "is counted: 2. Of the 2 contacts logged in all, 0 were before" in text
    assert "After window ends 14/01/2025" in text  # marked on the monthly chart


def test_a_person_followed_up_briefly_is_too_early_to_tell(clinician, edges):
    text = all_text(person_report_pdf(clinician, edges.short))
    assert "Too early to tell: followed up for fewer than 90 days at risk (40 days" in text
    text = all_text(person_report_pdf(clinician, edges.in_hospital))
    assert "Too early to tell: in hospital or custody with no discharge" in text


def test_monthly_counts_are_charted_on_a_whole_number_axis():
    bars = [charts.MonthBar("Jan 26", 1), charts.MonthBar("Feb 26", 2, 0)]
    drawing = charts.monthly_chart(
        bars, marker_index=1, marker_label="Enrolled", legend=(), value_label="n", whole=True
    )
    ticks = [
        s.text for s in drawing.contents[0].contents if isinstance(s, charts.String) and s.x < 30
    ]
    assert ticks[:3] == ["0", "1", "2"]
    for value in (1, 2, 3, 4, 5, 6, 7, 9, 11, 17, 48):
        top, steps = charts.nice_scale(value, whole=True)
        assert top >= value and (top / steps).is_integer(), value
