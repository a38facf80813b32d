"""Use cases: planning visits (one-off or recurring) and ending a plan."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from sim_desk.records.codes import (
    ConsultationMechanism,
    PersonStatus,
    PlannedVisitStatus,
    VisitFrequency,
)
from sim_desk.records.dates import add_months
from sim_desk.records.errors import NotFound, ValidationError
from sim_desk.records.model import Person, PlannedVisit, VisitPlan
from sim_desk.records.people import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.records.validation import check_date, check_moment, clean_text
from sim_desk.records.vault.audit import Action
from sim_desk.records.visits.recurrence import (
    MAX_DAYS_AHEAD,
    MAX_OCCURRENCES,
    MAX_PLAN_YEARS,
    start_of_local_day,
    visit_times,
)

# -- planning -------------------------------------------------------------------------------


@dataclass
class PlanDetails:
    """A visit plan as entered on a form."""

    frequency: str
    first_visit_at: datetime
    end_on: date | None = None
    occurrences: int | None = None
    duration_minutes: int = 60
    mechanism: str = ConsultationMechanism.FACE_TO_FACE.value
    place: str | None = None


def clean_plan(vault: UnlockedVault, details: PlanDetails) -> dict[str, Any]:
    frequency = VisitFrequency.parse(details.frequency, field="frequency")
    first = check_moment(details.first_visit_at, field="first_visit_at", label="First visit")
    first_day = local_date(first)
    today = vault.today()
    if first_day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationError(
            f"First visit: {first_day:%d/%m/%Y} is more than a year ahead; check the year.",
            "first_visit_at",
        )
    end_on, occurrences = details.end_on, details.occurrences
    if occurrences is not None and (
        isinstance(occurrences, bool) or not isinstance(occurrences, int)
    ):
        raise ValidationError("Number of visits: enter a whole number.", "occurrences")
    if end_on is not None and (not isinstance(end_on, date) or isinstance(end_on, datetime)):
        raise ValidationError("End date: enter a date, or leave it blank.", "end_on")
    if frequency == VisitFrequency.ONCE:
        if end_on is not None or occurrences not in (None, 1):
            raise ValidationError(
                "A one-off visit has no end date or number of visits: leave them blank, or"
                " choose weekly, fortnightly or monthly.",
                "frequency",
            )
        occurrences = None
    elif (end_on is None) == (occurrences is None):
        raise ValidationError(
            f"{frequency.label} visits: give either an end date or a number of visits (not both),"
            " so the plan knows when to stop.",
            "end_on" if end_on is not None else "occurrences",
        )
    elif occurrences is not None and not 1 <= occurrences <= MAX_OCCURRENCES:
        raise ValidationError(
            f"Number of visits: enter between 1 and {MAX_OCCURRENCES}. For a longer plan, make a"
            " new one when this one ends.",
            "occurrences",
        )
    elif end_on is not None:
        if end_on < first_day:
            raise ValidationError(
                "End date: it is before the first visit; check both dates.", "end_on"
            )
        if end_on > add_months(first_day, 12 * MAX_PLAN_YEARS):
            raise ValidationError(
                f"End date: a plan can run for at most {MAX_PLAN_YEARS} years from its first"
                " visit. Choose an earlier end date and make a new plan when this one ends.",
                "end_on",
            )
    if isinstance(details.duration_minutes, bool) or not isinstance(details.duration_minutes, int):
        raise ValidationError("Duration: enter whole minutes.", "duration_minutes")
    if not 1 <= details.duration_minutes <= 24 * 60:
        raise ValidationError(
            "Duration: enter between 1 minute and 24 hours (1440 minutes).", "duration_minutes"
        )
    return {
        "frequency": frequency.value,
        "first_visit_at": first.astimezone(UTC),
        "end_on": end_on,
        "occurrences": occurrences,
        "duration_minutes": details.duration_minutes,
        "mechanism": ConsultationMechanism.parse(details.mechanism, field="mechanism").value,
        "place": clean_text(details.place, field="place", label="Place", max_chars=200),
    }


def check_person_can_be_visited(person: Person, due_on: date, *, field: str, label: str) -> None:
    if person.status == PersonStatus.CLOSED.value:
        raise ValidationError(
            "This person's record is closed, so no visits can be planned. If they are coming back"
            " to the programme, record a new referral first.",
            field,
        )
    if due_on < person.referred_on:
        raise ValidationError(
            f"{label}: {due_on:%d/%m/%Y} is before this person was referred"
            f" ({person.referred_on:%d/%m/%Y}); check the date.",
            field,
        )


def plan_visits(vault: UnlockedVault, person_id: uuid.UUID, details: PlanDetails) -> uuid.UUID:
    """Saves a visit plan and makes its planned visits.

    The first visit may be in the past (a plan entered after it began): visits already past are
    made as planned, so they show as overdue until a contact is logged or they are marked missed.

    Returns:
        The new plan's id.

    Raises:
        ValidationError: bad input, a closed record, or a first visit before the referral.
        PermissionDenied: an analyst, or someone not on the person's pair.
    """
    vault.require_role(*CASEWORKERS, doing="plan visits")
    values = clean_plan(vault, details)
    first: datetime = values["first_visit_at"]
    times = visit_times(
        values["frequency"], first, end_on=values["end_on"], occurrences=values["occurrences"]
    )
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        check_person_can_be_visited(
            person, local_date(first), field="first_visit_at", label="First visit"
        )
        plan = VisitPlan(person_id=person.id, created_by=vault.actor.user_id, **values)
        session.add(plan)
        session.flush()
        session.add_all(
            PlannedVisit(
                person_id=person.id,
                plan_id=plan.id,
                due_at=moment,
                status=PlannedVisitStatus.PLANNED.value,
                created_by=vault.actor.user_id,
            )
            for moment in times
        )
        vault.audit(
            session,
            Action.CREATE,
            "visit_plan",
            plan.id,
            person=person.id,
            frequency=plan.frequency,
            visits=len(times),
        )
        return plan.id


# -- ending a plan --------------------------------------------------------------------------


def end_plan(
    vault: UnlockedVault, plan_id: uuid.UUID, on: date, *, reason: str | None = None
) -> int:
    """Stops a plan on a UK date. Its visits still planned after that date are cancelled.

    Visits on or before ``on`` are left as they are (an overdue one still needs a contact or to be
    marked missed). ``on`` may be in the past (the plan stopped when the person went into
    hospital) or the future (the plan stops after the holidays).

    Returns:
        How many planned visits were cancelled.
    """
    vault.require_role(*CASEWORKERS, doing="end visit plans")
    check_date(on, field="on", label="End date")
    why = clean_text(reason, field="reason", label="Reason", max_chars=2_000, multiline=True)
    with vault.write() as session:
        plan = session.get(VisitPlan, plan_id)
        if plan is None:
            raise NotFound("That visit plan was not found.")
        person = load_person(vault, session, plan.person_id)
        if not plan.active:
            ended = f" on {plan.end_on:%d/%m/%Y}" if plan.end_on else ""
            raise ValidationError(f"This plan has already ended{ended}.", "on")
        if on < person.referred_on:
            raise ValidationError(
                "End date: it is before this person was referred; check the date.", "on"
            )
        cancelled = 0
        after = start_of_local_day(on + timedelta(days=1))
        for visit in session.execute(
            select(PlannedVisit).where(
                PlannedVisit.plan_id == plan.id,
                PlannedVisit.status == PlannedVisitStatus.PLANNED.value,
                PlannedVisit.due_at >= after,
            )
        ).scalars():
            visit.status = PlannedVisitStatus.CANCELLED.value
            visit.status_reason = why or f"Plan ended on {on:%d/%m/%Y}"
            cancelled += 1
        plan.active = False
        if plan.end_on is None or on < plan.end_on:
            plan.end_on = on
        vault.audit(
            session, Action.UPDATE, "visit_plan", plan.id, active=False, cancelled=cancelled
        )
        return cancelled
