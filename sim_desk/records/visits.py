"""Use cases for visit plans and planned visits: plan, mark, reschedule, end, list.

A plan is a rule (weekly, fortnightly, monthly or once); its planned visits are rows of their own,
made when the plan is saved, so that each one can be done, missed, cancelled or rescheduled on its
own. A visit becomes done by logging a contact linked to it (:func:`contacts.log_contact`), which is
what :func:`contact_prefill` sets up for a form.

Visits keep their UK wall-clock time: a fortnightly 10:00 visit is at 10:00 in Europe/London both
sides of a clock change. Each due time is worked out as a local date and time, then stored as UTC.

"Due today", "overdue" and "upcoming" are derived from the due date and today's UK date whenever
they are asked for (:func:`due_state`); they are never stored.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from sim_desk.records.audit import Action
from sim_desk.records.codes import (
    ConsultationMechanism,
    PersonStatus,
    PlannedVisitStatus,
    VisitFrequency,
)
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import NotFound, ValidationError
from sim_desk.records.model import Contact, Person, PlannedVisit, VisitPlan
from sim_desk.records.people import CASEWORKERS, load_person
from sim_desk.records.unlocked import LOCAL_ZONE, UnlockedVault, local_date
from sim_desk.records.validation import check_date, check_moment, clean_text

#: A recurring plan may run for at most this many visits, or this many years from its first visit.
MAX_OCCURRENCES = 104
MAX_PLAN_YEARS = 2
#: A first visit further ahead than this is almost always a mistyped year.
MAX_DAYS_AHEAD = 366

#: The statuses a planned visit may be marked with by hand, and from which status.
#: "done" comes only from a linked contact and "rescheduled" only from :func:`reschedule_visit`,
#: so that each has the record that explains it.
_MARKABLE = frozenset({PlannedVisitStatus.MISSED, PlannedVisitStatus.CANCELLED})


class DueState(StrEnum):
    """Where a still-planned visit stands against today's UK date. Derived, never stored."""

    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    UPCOMING = "upcoming"

    @property
    def label(self) -> str:
        return {"overdue": "Overdue", "due_today": "Due today", "upcoming": "Upcoming"}[self.value]


# -- time helpers ---------------------------------------------------------------------------


def start_of_local_day(day: date) -> datetime:
    """The UTC moment at which a UK calendar day begins (midnight, BST or GMT as it falls)."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_ZONE).astimezone(UTC)


def due_state(status: str, due_at: datetime, today: date) -> DueState | None:
    """Derives a visit's due state.

    Only visits still *planned* have one: a visit is overdue when its UK due date is before
    ``today``, due today when it is ``today`` (even if the hour has passed), and upcoming after.
    Done, missed, cancelled and rescheduled visits return None.
    """
    if status != PlannedVisitStatus.PLANNED.value:
        return None
    due_on = local_date(due_at)
    if due_on < today:
        return DueState.OVERDUE
    if due_on == today:
        return DueState.DUE_TODAY
    return DueState.UPCOMING


def _add_months(day: date, months: int, anchor_day: int) -> date:
    """``day`` moved on by whole calendar months, on ``anchor_day`` or the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def _local_days(frequency: VisitFrequency, first: date) -> Iterator[date]:
    """The UK dates of a plan's visits, without end."""
    step = 0
    while True:
        if frequency == VisitFrequency.WEEKLY:
            yield first + timedelta(weeks=step)
        elif frequency == VisitFrequency.FORTNIGHTLY:
            yield first + timedelta(weeks=2 * step)
        else:
            # Each month counts from the first visit, not from the month before, so 31 Jan
            # gives 28 (or 29) Feb and then 31 Mar again, not 28 Mar.
            yield _add_months(first, step, first.day)
        step += 1


def visit_times(
    frequency: VisitFrequency | str,
    first_visit_at: datetime,
    *,
    end_on: date | None = None,
    occurrences: int | None = None,
) -> list[datetime]:
    """The due times (UTC) of a plan's visits, keeping the first visit's UK wall-clock time.

    Args:
        frequency: weekly, fortnightly, monthly or once.
        first_visit_at: the first visit, time-zone aware.
        end_on: the last UK date a visit may fall on (inclusive).
        occurrences: how many visits. Give ``end_on`` or ``occurrences`` for a recurring plan.

    A wall-clock time that does not exist on a day (01:30 when the clocks go forward) comes out
    an hour later; one that happens twice (01:30 when they go back) is the first of the two.
    """
    freq = VisitFrequency(frequency)
    local = first_visit_at.astimezone(LOCAL_ZONE)
    wall = local.time().replace(tzinfo=None, fold=0)
    if freq == VisitFrequency.ONCE:
        return [first_visit_at.astimezone(UTC)]
    if end_on is None and occurrences is None:
        raise ValueError("a recurring plan needs an end date or a number of visits")
    result: list[datetime] = []
    for day in _local_days(freq, local.date()):
        if end_on is not None and day > end_on:
            break
        if occurrences is not None and len(result) >= occurrences:
            break
        moment = datetime.combine(day, wall, tzinfo=LOCAL_ZONE)
        # Round-trip through UTC so a non-existent local time lands on a real instant.
        result.append(moment.astimezone(UTC))
    return result


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


def _check_moment(value: object, *, field: str, label: str) -> datetime:
    return check_moment(value, field=field, label=label)


def _clean_plan(vault: UnlockedVault, details: PlanDetails) -> dict[str, Any]:
    frequency = VisitFrequency.parse(details.frequency, field="frequency")
    first = _check_moment(details.first_visit_at, field="first_visit_at", label="First visit")
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
        if end_on > _add_months(first_day, 12 * MAX_PLAN_YEARS, first_day.day):
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


def _check_person_can_be_visited(person: Person, due_on: date, *, field: str, label: str) -> None:
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
    values = _clean_plan(vault, details)
    first: datetime = values["first_visit_at"]
    times = visit_times(
        values["frequency"], first, end_on=values["end_on"], occurrences=values["occurrences"]
    )
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        _check_person_can_be_visited(
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


# -- changing one visit ---------------------------------------------------------------------


def _load_visit(
    vault: UnlockedVault, session: Session, visit_id: uuid.UUID
) -> tuple[PlannedVisit, Person]:
    """The visit and its person, if this user may see them."""
    visit = session.get(PlannedVisit, visit_id)
    if visit is None:
        raise NotFound("That planned visit was not found. It may have been rescheduled or removed.")
    return visit, load_person(vault, session, visit.person_id)


def _require_planned(visit: PlannedVisit, doing: str) -> None:
    if visit.status != PlannedVisitStatus.PLANNED.value:
        current = PlannedVisitStatus(visit.status).label.lower()
        hint = {
            PlannedVisitStatus.DONE.value: " A contact was logged for it; amend that contact if"
            " something was recorded wrongly.",
            PlannedVisitStatus.RESCHEDULED.value: " Open the visit it was moved to instead.",
        }.get(visit.status, " Plan a new visit if one is still needed.")
        raise ValidationError(
            f"This visit is already {current}, so it cannot be {doing}.{hint}", "status"
        )


def mark_visit(
    vault: UnlockedVault,
    visit_id: uuid.UUID,
    status: PlannedVisitStatus | str,
    reason: str | None = None,
) -> None:
    """Marks a planned visit missed or cancelled, with an optional reason.

    Only a visit that is still planned can be marked. A visit is done when a contact is logged
    for it (see :func:`contact_prefill`) and is moved with :func:`reschedule_visit`. A visit can
    be marked missed only once its day has come; before that, cancel it.
    """
    vault.require_role(*CASEWORKERS, doing="update planned visits")
    target = PlannedVisitStatus.parse(str(status), field="status")
    if target == PlannedVisitStatus.DONE:
        raise ValidationError(
            "To mark a visit done, log the contact for it: the contact is the record that it"
            " happened.",
            "status",
        )
    if target == PlannedVisitStatus.RESCHEDULED:
        raise ValidationError(
            "To move a visit, reschedule it and choose the new date and time.", "status"
        )
    if target not in _MARKABLE:
        raise ValidationError(
            "A visit cannot be set back to planned. Plan a new visit instead.", "status"
        )
    why = clean_text(reason, field="reason", label="Reason", max_chars=2_000, multiline=True)
    with vault.write() as session:
        visit, _ = _load_visit(vault, session, visit_id)
        _require_planned(visit, f"marked {target.label.lower()}")
        due_on = local_date(visit.due_at)
        if target == PlannedVisitStatus.MISSED and due_on > vault.today():
            raise ValidationError(
                f"This visit is not due until {due_on:%d/%m/%Y}, so it cannot have been missed."
                " Cancel it if it will not happen.",
                "status",
            )
        visit.status = target.value
        visit.status_reason = why
        vault.audit(
            session, Action.UPDATE, "planned_visit", visit.id, status=target.value, reason=bool(why)
        )


def reschedule_visit(
    vault: UnlockedVault,
    visit_id: uuid.UUID,
    new_due_at: datetime,
    *,
    reason: str | None = None,
) -> uuid.UUID:
    """Moves a planned visit to a new time.

    The old visit is kept, marked rescheduled and pointing at the new one, so the history shows
    what was moved and when.

    Returns:
        The new planned visit's id.
    """
    vault.require_role(*CASEWORKERS, doing="reschedule visits")
    moment = _check_moment(new_due_at, field="new_due_at", label="New date and time")
    new_day = local_date(moment)
    if new_day > vault.today() + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationError(
            f"New date and time: {new_day:%d/%m/%Y} is more than a year ahead; check the year.",
            "new_due_at",
        )
    why = clean_text(reason, field="reason", label="Reason", max_chars=2_000, multiline=True)
    with vault.write() as session:
        visit, person = _load_visit(vault, session, visit_id)
        _require_planned(visit, "rescheduled")
        _check_person_can_be_visited(person, new_day, field="new_due_at", label="New date and time")
        if moment == visit.due_at:
            raise ValidationError(
                "New date and time: it is the same as the visit's current time; choose another.",
                "new_due_at",
            )
        moved = PlannedVisit(
            id=uuid.uuid4(),
            person_id=visit.person_id,
            plan_id=visit.plan_id,
            due_at=moment.astimezone(UTC),
            status=PlannedVisitStatus.PLANNED.value,
            created_by=vault.actor.user_id,
        )
        session.add(moved)
        session.flush()
        visit.status = PlannedVisitStatus.RESCHEDULED.value
        visit.status_reason = why
        visit.rescheduled_to_id = moved.id
        vault.audit(
            session,
            Action.UPDATE,
            "planned_visit",
            visit.id,
            status=PlannedVisitStatus.RESCHEDULED.value,
            rescheduled_to=moved.id,
        )
        return moved.id


def contact_prefill(vault: UnlockedVault, visit_id: uuid.UUID) -> ContactDetails:
    """A contact form filled in from a planned visit, ready for :func:`contacts.log_contact`.

    The start time is the visit's due time if that has passed, otherwise now (a contact cannot be
    logged in the future); duration, mechanism and place come from the plan.
    """
    vault.require_role(*CASEWORKERS, doing="log contacts")
    with vault.read() as session:
        visit, _ = _load_visit(vault, session, visit_id)
        _require_planned(visit, "logged as done")
        plan = session.get(VisitPlan, visit.plan_id) if visit.plan_id else None
        now = vault.now()
        details = ContactDetails(
            started_at=visit.due_at if visit.due_at <= now else now,
            planned_visit_id=visit.id,
        )
        if plan is not None:
            details.duration_minutes = plan.duration_minutes
            details.mechanism = plan.mechanism
            details.place = plan.place
        return details


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


# -- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanView:
    id: uuid.UUID
    person_id: uuid.UUID
    frequency: VisitFrequency
    first_visit_at: datetime
    end_on: date | None
    occurrences: int | None
    duration_minutes: int
    mechanism: ConsultationMechanism
    place: str | None
    active: bool
    visits: int
    still_planned: int
    done: int
    missed: int
    next_due_at: datetime | None


@dataclass(frozen=True)
class PlannedVisitView:
    id: uuid.UUID
    person_id: uuid.UUID
    plan_id: uuid.UUID | None
    due_at: datetime
    due_on: date
    status: PlannedVisitStatus
    status_reason: str | None
    rescheduled_to_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    done_on: date | None
    #: Derived at query time from today's UK date; None unless the visit is still planned.
    state: DueState | None

    @property
    def is_overdue(self) -> bool:
        return self.state == DueState.OVERDUE


def list_plans(vault: UnlockedVault, person_id: uuid.UUID) -> list[PlanView]:
    """A person's visit plans, running ones first, newest first within each."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        planned = PlannedVisitStatus.PLANNED.value
        today_starts = start_of_local_day(vault.today())
        counts = (
            select(
                PlannedVisit.plan_id.label("plan_id"),
                func.count().label("visits"),
                func.count().filter(PlannedVisit.status == planned).label("still_planned"),
                func.count().filter(PlannedVisit.status == "done").label("done"),
                func.count().filter(PlannedVisit.status == "missed").label("missed"),
                func.min(PlannedVisit.due_at)
                .filter(and_(PlannedVisit.status == planned, PlannedVisit.due_at >= today_starts))
                .label("next_due_at"),
            )
            .where(PlannedVisit.person_id == person_id)
            .group_by(PlannedVisit.plan_id)
            .subquery()
        )
        rows = session.execute(
            select(VisitPlan, counts)
            .outerjoin(counts, counts.c.plan_id == VisitPlan.id)
            .where(VisitPlan.person_id == person_id)
            .order_by(VisitPlan.active.desc(), VisitPlan.first_visit_at.desc())
        ).all()
        return [
            PlanView(
                id=plan.id,
                person_id=plan.person_id,
                frequency=VisitFrequency(plan.frequency),
                first_visit_at=plan.first_visit_at,
                end_on=plan.end_on,
                occurrences=plan.occurrences,
                duration_minutes=plan.duration_minutes,
                mechanism=ConsultationMechanism(plan.mechanism),
                place=plan.place,
                active=plan.active,
                visits=row.visits or 0,
                still_planned=row.still_planned or 0,
                done=row.done or 0,
                missed=row.missed or 0,
                next_due_at=row.next_due_at,
            )
            for row in rows
            for plan in [row[0]]
        ]


def list_planned_visits(
    vault: UnlockedVault, person_id: uuid.UUID, *, include_past: bool = True
) -> list[PlannedVisitView]:
    """A person's planned visits in due order, each with its derived due state.

    Args:
        include_past: when False, visits due before today are left out unless they are still
            planned (overdue), because an overdue visit still needs something done about it.
    """
    with vault.read() as session:
        load_person(vault, session, person_id)
        today = vault.today()
        query = (
            select(PlannedVisit, Contact.id, Contact.started_at)
            .outerjoin(
                Contact,
                and_(
                    Contact.planned_visit_id == PlannedVisit.id,
                    Contact.person_id == PlannedVisit.person_id,
                ),
            )
            .where(PlannedVisit.person_id == person_id)
            .order_by(PlannedVisit.due_at, PlannedVisit.created_at, Contact.started_at)
        )
        if not include_past:
            query = query.where(
                (PlannedVisit.due_at >= start_of_local_day(today))
                | (PlannedVisit.status == PlannedVisitStatus.PLANNED.value)
            )
        views: dict[uuid.UUID, PlannedVisitView] = {}
        for visit, contact_id, contact_started in session.execute(query):
            if visit.id in views:  # two contacts linked to one visit: the first one did it
                continue
            views[visit.id] = PlannedVisitView(
                id=visit.id,
                person_id=visit.person_id,
                plan_id=visit.plan_id,
                due_at=visit.due_at,
                due_on=local_date(visit.due_at),
                status=PlannedVisitStatus(visit.status),
                status_reason=visit.status_reason,
                rescheduled_to_id=visit.rescheduled_to_id,
                contact_id=contact_id,
                done_on=local_date(contact_started) if contact_started else None,
                state=due_state(visit.status, visit.due_at, today),
            )
        return list(views.values())
