from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from sim_desk.records import contacts, people, visits
from sim_desk.records.codes import PersonStatus, PlannedVisitStatus
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import AuditEvent
from sim_desk.records.people import PersonDetails
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.records.visits import DueState, PlanDetails
from tests.conftest import FIXED_NOW

TODAY = date(2026, 11, 2)  # FIXED_NOW in the UK (GMT, so UK time equals UTC)


@pytest.fixture
def person_id(officer):
    pid = people.create_person(
        officer,
        PersonDetails(given_name="Zofia", family_name="Wójcik", referred_on=date(2026, 1, 5)),
    )
    people.change_status(officer, pid, PersonStatus.ACTIVE, on=date(2026, 1, 20))
    return pid


def at(year, month, day, hour=10, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def plan(vault, person_id, frequency, first, **kwargs):
    return visits.plan_visits(vault, person_id, PlanDetails(frequency, first, **kwargs))


def due_times(vault, person_id):
    return [v.due_at for v in visits.list_planned_visits(vault, person_id)]


# -- making plans ---------------------------------------------------------------------------


def test_fortnightly_plan_with_count_makes_that_many_visits_two_weeks_apart(officer, person_id):
    plan(officer, person_id, "fortnightly", at(2026, 11, 10, 14), occurrences=4)
    assert due_times(officer, person_id) == [
        at(2026, 11, 10, 14),
        at(2026, 11, 24, 14),
        at(2026, 12, 8, 14),
        at(2026, 12, 22, 14),
    ]


def test_fortnightly_plan_with_end_date_includes_a_visit_on_that_date(officer, person_id):
    plan(officer, person_id, "fortnightly", at(2026, 11, 10, 14), end_on=date(2026, 12, 8))
    assert due_times(officer, person_id) == [
        at(2026, 11, 10, 14),
        at(2026, 11, 24, 14),
        at(2026, 12, 8, 14),
    ]


def test_monthly_plan_from_31_january_keeps_to_month_ends_and_uk_time(officer, person_id):
    # 10:00 GMT on 31 January; from 29 March the UK is on BST, so 10:00 there is 09:00 UTC.
    plan(officer, person_id, "monthly", at(2027, 1, 31, 10), occurrences=5)
    assert due_times(officer, person_id) == [
        at(2027, 1, 31, 10),
        at(2027, 2, 28, 10),
        at(2027, 3, 31, 9),
        at(2027, 4, 30, 9),
        at(2027, 5, 31, 9),
    ]


def test_weekly_visits_stay_at_10am_uk_time_when_the_clocks_go_back(officer, person_id):
    # 10:00 BST on 19 October is 09:00 UTC; the clocks go back on 25 October 2026.
    plan(officer, person_id, "weekly", at(2026, 10, 19, 9), occurrences=3)
    views = visits.list_planned_visits(officer, person_id)
    assert [v.due_at for v in views] == [at(2026, 10, 19, 9), at(2026, 10, 26, 10), at(2026, 11, 2)]
    assert {v.due_at.astimezone(LOCAL_ZONE).hour for v in views} == {10}


def test_one_off_visit_makes_one_planned_visit(officer, person_id):
    plan_id = plan(officer, person_id, "once", at(2026, 11, 20, 15))
    [view] = visits.list_planned_visits(officer, person_id)
    assert view.plan_id == plan_id and view.due_on == date(2026, 11, 20)
    assert view.status == PlannedVisitStatus.PLANNED and view.state == DueState.UPCOMING


@pytest.mark.parametrize(
    ("end_on", "occurrences"), [(None, None), (date(2026, 12, 31), 5)], ids=["neither", "both"]
)
def test_recurring_plan_needs_an_end_date_or_a_count(officer, person_id, end_on, occurrences):
    with pytest.raises(ValidationError, match="either an end date or a number of visits"):
        plan(officer, person_id, "weekly", at(2026, 11, 9), end_on=end_on, occurrences=occurrences)
    assert visits.list_plans(officer, person_id) == []


def test_plans_are_capped_at_104_visits_and_two_years(officer, person_id):
    with pytest.raises(ValidationError) as error:
        plan(officer, person_id, "weekly", at(2026, 11, 9), occurrences=105)
    assert error.value.field == "occurrences" and "104" in str(error.value)
    with pytest.raises(ValidationError) as error:
        plan(officer, person_id, "monthly", at(2026, 11, 9), end_on=date(2028, 11, 10))
    assert error.value.field == "end_on" and "2 years" in str(error.value)
    plan(officer, person_id, "monthly", at(2026, 11, 9), end_on=date(2028, 11, 9))
    assert len(due_times(officer, person_id)) == 25


def test_first_visit_before_referral_is_refused(officer, person_id):
    with pytest.raises(ValidationError) as error:
        plan(officer, person_id, "once", at(2026, 1, 4, 12))
    assert error.value.field == "first_visit_at" and "before this person was referred" in str(
        error.value
    )
    plan(officer, person_id, "once", at(2026, 1, 5, 12))  # the referral day itself is fine


def test_closed_person_cannot_get_a_new_plan(officer, person_id):
    people.change_status(
        officer, person_id, PersonStatus.CLOSED, on=date(2026, 10, 1), exit_reason="moved"
    )
    with pytest.raises(ValidationError, match="closed"):
        plan(officer, person_id, "once", at(2026, 11, 20))
    assert visits.list_planned_visits(officer, person_id) == []


def test_making_a_plan_is_audited_without_personal_data(lead, officer, person_id):
    plan_id = plan(officer, person_id, "weekly", at(2026, 11, 9), occurrences=3, place="Café Nero")
    with lead.read() as session:
        entity_type, detail = session.execute(
            select(AuditEvent.entity_type, AuditEvent.detail).where(AuditEvent.entity_id == plan_id)
        ).one()
    assert entity_type == "visit_plan" and detail["visits"] == 3
    assert "Café" not in str(detail)


# -- derived state --------------------------------------------------------------------------


def test_due_today_overdue_and_upcoming_are_derived_from_the_uk_date(officer, person_id):
    plan(officer, person_id, "once", at(2026, 11, 1, 23, 59))
    plan(officer, person_id, "once", at(2026, 11, 2, 0, 1))
    plan(officer, person_id, "once", at(2026, 11, 2, 23, 59))
    plan(officer, person_id, "once", at(2026, 11, 3, 0, 1))
    states = [v.state for v in visits.list_planned_visits(officer, person_id)]
    assert states == [DueState.OVERDUE, DueState.DUE_TODAY, DueState.DUE_TODAY, DueState.UPCOMING]


def test_due_state_uses_uk_date_in_summer_time():
    # 23:30 UTC on 1 July is 00:30 on 2 July in London.
    assert visits.due_state("planned", at(2026, 7, 1, 23, 30), date(2026, 7, 2)) == (
        DueState.DUE_TODAY
    )
    assert visits.due_state("planned", at(2026, 7, 1, 22, 30), date(2026, 7, 2)) == (
        DueState.OVERDUE
    )
    assert visits.due_state("missed", at(2026, 7, 1, 22, 30), date(2026, 7, 2)) is None


def test_include_past_false_keeps_overdue_visits_but_drops_settled_ones(officer, person_id):
    plan(officer, person_id, "weekly", at(2026, 10, 12), occurrences=5)  # 12 Oct .. 9 Nov
    first, second, *_ = visits.list_planned_visits(officer, person_id)
    visits.mark_visit(officer, first.id, "missed")
    shown = visits.list_planned_visits(officer, person_id, include_past=False)
    assert [v.due_on for v in shown] == [
        date(2026, 10, 19),
        date(2026, 10, 26),
        date(2026, 11, 2),
        date(2026, 11, 9),
    ]
    assert shown[0].id == second.id and shown[0].is_overdue


# -- doing, missing and moving visits ---------------------------------------------------------


def test_logging_a_contact_from_the_prefill_marks_the_visit_done(officer, person_id):
    plan(officer, person_id, "fortnightly", at(2026, 10, 30, 14), occurrences=2, place="Library")
    visit = visits.list_planned_visits(officer, person_id)[0]
    details = visits.contact_prefill(officer, visit.id)
    assert details.started_at == at(2026, 10, 30, 14)
    assert details.planned_visit_id == visit.id and details.place == "Library"
    assert details.duration_minutes == 60 and details.mechanism == "01"
    contact_id = contacts.log_contact(officer, person_id, details)
    done = visits.list_planned_visits(officer, person_id)[0]
    assert done.status == PlannedVisitStatus.DONE and done.state is None
    assert done.contact_id == contact_id and done.done_on == date(2026, 10, 30)
    [running] = visits.list_plans(officer, person_id)
    assert (running.done, running.still_planned) == (1, 1)


def test_prefill_for_a_visit_later_today_starts_now(officer, person_id):
    plan(officer, person_id, "once", at(2026, 11, 2, 15), mechanism="02", duration_minutes=20)
    [visit] = visits.list_planned_visits(officer, person_id)
    details = visits.contact_prefill(officer, visit.id)
    assert details.started_at == FIXED_NOW
    assert (details.mechanism, details.duration_minutes) == ("02", 20)


def test_a_missed_visit_keeps_its_reason(officer, person_id):
    plan(officer, person_id, "once", at(2026, 10, 28))
    [visit] = visits.list_planned_visits(officer, person_id)
    visits.mark_visit(officer, visit.id, PlannedVisitStatus.MISSED, reason="Not at home")
    [missed] = visits.list_planned_visits(officer, person_id)
    assert missed.status == PlannedVisitStatus.MISSED and missed.status_reason == "Not at home"
    assert missed.state is None


def test_a_future_visit_cannot_be_missed_but_can_be_cancelled(officer, person_id):
    plan(officer, person_id, "once", at(2026, 11, 12))
    [visit] = visits.list_planned_visits(officer, person_id)
    with pytest.raises(ValidationError, match="not due until 12/11/2026"):
        visits.mark_visit(officer, visit.id, "missed")
    visits.mark_visit(officer, visit.id, "cancelled", reason="In hospital")
    [cancelled] = visits.list_planned_visits(officer, person_id)
    assert cancelled.status == PlannedVisitStatus.CANCELLED


def test_rescheduling_keeps_the_old_visit_pointing_at_the_new_one(officer, person_id):
    plan_id = plan(officer, person_id, "once", at(2026, 11, 4, 10))
    [visit] = visits.list_planned_visits(officer, person_id)
    new_id = visits.reschedule_visit(officer, visit.id, at(2026, 11, 6, 11), reason="Clash")
    old, new = visits.list_planned_visits(officer, person_id)
    assert old.id == visit.id and old.status == PlannedVisitStatus.RESCHEDULED
    assert old.rescheduled_to_id == new_id and old.status_reason == "Clash"
    assert new.id == new_id and new.status == PlannedVisitStatus.PLANNED
    assert new.plan_id == plan_id and new.due_at == at(2026, 11, 6, 11)


def test_a_done_visit_cannot_be_marked_missed_or_moved(officer, person_id):
    plan(officer, person_id, "once", at(2026, 10, 30, 14))
    [visit] = visits.list_planned_visits(officer, person_id)
    contacts.log_contact(officer, person_id, visits.contact_prefill(officer, visit.id))
    with pytest.raises(ValidationError, match="already done"):
        visits.mark_visit(officer, visit.id, "missed")
    with pytest.raises(ValidationError, match="already done"):
        visits.reschedule_visit(officer, visit.id, at(2026, 11, 9))
    with pytest.raises(ValidationError, match="already done"):
        visits.contact_prefill(officer, visit.id)
    [still] = visits.list_planned_visits(officer, person_id)
    assert still.status == PlannedVisitStatus.DONE


@pytest.mark.parametrize(
    ("status", "message"),
    [("done", "log the contact"), ("rescheduled", "reschedule it"), ("planned", "set back")],
)
def test_done_and_rescheduled_cannot_be_set_by_hand(officer, person_id, status, message):
    plan(officer, person_id, "once", at(2026, 10, 30))
    [visit] = visits.list_planned_visits(officer, person_id)
    with pytest.raises(ValidationError, match=message):
        visits.mark_visit(officer, visit.id, status)
    [unchanged] = visits.list_planned_visits(officer, person_id)
    assert unchanged.status == PlannedVisitStatus.PLANNED


def test_a_rescheduled_visit_cannot_be_missed_or_moved_again(officer, person_id):
    plan(officer, person_id, "once", at(2026, 10, 30))
    [visit] = visits.list_planned_visits(officer, person_id)
    visits.reschedule_visit(officer, visit.id, at(2026, 11, 5))
    with pytest.raises(ValidationError, match="already rescheduled"):
        visits.mark_visit(officer, visit.id, "missed")
    with pytest.raises(ValidationError, match="already rescheduled"):
        visits.reschedule_visit(officer, visit.id, at(2026, 11, 7))


# -- ending plans ---------------------------------------------------------------------------


def test_ending_a_plan_cancels_only_the_visits_after_that_day(officer, person_id):
    plan_id = plan(officer, person_id, "weekly", at(2026, 10, 19, 9), occurrences=6)
    assert visits.end_plan(officer, plan_id, TODAY) == 3
    statuses = [(v.due_on, v.status) for v in visits.list_planned_visits(officer, person_id)]
    assert statuses == [
        (date(2026, 10, 19), PlannedVisitStatus.PLANNED),
        (date(2026, 10, 26), PlannedVisitStatus.PLANNED),
        (date(2026, 11, 2), PlannedVisitStatus.PLANNED),
        (date(2026, 11, 9), PlannedVisitStatus.CANCELLED),
        (date(2026, 11, 16), PlannedVisitStatus.CANCELLED),
        (date(2026, 11, 23), PlannedVisitStatus.CANCELLED),
    ]
    [ended] = visits.list_plans(officer, person_id)
    assert not ended.active and ended.end_on == TODAY
    assert ended.next_due_at == at(2026, 11, 2)  # today's visit still needs doing
    with pytest.raises(ValidationError, match="already ended on 02/11/2026"):
        visits.end_plan(officer, plan_id, TODAY)


def test_ending_a_plan_leaves_done_visits_alone(officer, person_id):
    plan_id = plan(officer, person_id, "weekly", at(2026, 10, 26), occurrences=3)
    first = visits.list_planned_visits(officer, person_id)[0]
    contacts.log_contact(officer, person_id, visits.contact_prefill(officer, first.id))
    visits.end_plan(officer, plan_id, date(2026, 10, 20))
    assert [v.status for v in visits.list_planned_visits(officer, person_id)] == [
        PlannedVisitStatus.DONE,
        PlannedVisitStatus.CANCELLED,
        PlannedVisitStatus.CANCELLED,
    ]


# -- who may do it --------------------------------------------------------------------------


def test_officer_of_another_pair_cannot_plan_see_or_change_visits(team, officer, person_id):
    plan(officer, person_id, "once", at(2026, 11, 20))
    [visit] = visits.list_planned_visits(officer, person_id)
    with team.unlock("officer2") as other:
        with pytest.raises(PermissionDenied):
            plan(other, person_id, "once", at(2026, 11, 21))
        with pytest.raises(PermissionDenied):
            visits.list_planned_visits(other, person_id)
        with pytest.raises(PermissionDenied):
            visits.mark_visit(other, visit.id, "cancelled")
        with pytest.raises(PermissionDenied):
            visits.contact_prefill(other, visit.id)
    assert [v.status for v in visits.list_planned_visits(officer, person_id)] == ["planned"]


def test_analyst_cannot_plan_visits(team, person_id):
    with team.unlock("analyst") as analyst, pytest.raises(PermissionDenied):
        plan(analyst, person_id, "once", at(2026, 11, 20))


def test_team_lead_can_plan_for_any_pair(lead, person_id):
    plan(lead, person_id, "weekly", at(2026, 11, 9), end_on=date(2026, 11, 9) + timedelta(weeks=1))
    assert len(visits.list_planned_visits(lead, person_id)) == 2


def test_closing_a_record_cancels_the_visits_still_planned_after_it(officer):
    from sim_desk.records import people, visits
    from sim_desk.records.codes import ExitReason, PersonStatus
    from sim_desk.records.people import PersonDetails

    person_id = people.create_person(
        officer, PersonDetails(given_name="Rhys", referred_on=date(2026, 1, 5))
    )
    people.change_status(officer, person_id, PersonStatus.ACTIVE, on=date(2026, 2, 1))
    visits.plan_visits(
        officer,
        person_id,
        visits.PlanDetails(
            frequency="weekly", first_visit_at=datetime(2026, 10, 20, 10, tzinfo=UTC), occurrences=6
        ),
    )
    people.change_status(
        officer, person_id, PersonStatus.CLOSED, on=date(2026, 11, 1), exit_reason=ExitReason.MOVED
    )
    statuses = {v.due_on: v.status.value for v in visits.list_planned_visits(officer, person_id)}
    assert statuses[date(2026, 10, 27)] == "planned"  # before closure: left as it was
    assert statuses[date(2026, 11, 3)] == "cancelled"
    assert all(p.active is False for p in visits.list_plans(officer, person_id))
