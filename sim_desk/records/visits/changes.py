"""Use cases on one planned visit: mark it missed or cancelled, reschedule it, log it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from sim_desk.records.codes import (
    PlannedVisitStatus,
)
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import NotFound, ValidationError
from sim_desk.records.model import Person, PlannedVisit, VisitPlan
from sim_desk.records.people import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.records.validation import check_moment, clean_text
from sim_desk.records.vault.audit import Action
from sim_desk.records.visits.planning import check_person_can_be_visited
from sim_desk.records.visits.recurrence import MAX_DAYS_AHEAD

#: The statuses a planned visit may be marked with by hand, and from which status.
#: "done" comes only from a linked contact and "rescheduled" only from :func:`reschedule_visit`,
#: so that each has the record that explains it.
_MARKABLE = frozenset({PlannedVisitStatus.MISSED, PlannedVisitStatus.CANCELLED})


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
    moment = check_moment(new_due_at, field="new_due_at", label="New date and time")
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
        check_person_can_be_visited(person, new_day, field="new_due_at", label="New date and time")
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
