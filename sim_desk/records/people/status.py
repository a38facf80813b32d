"""Moving a record through referred, active, stepping down and closed."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.codes import (
    STATUS_TRANSITIONS,
    CodeList,
    ExitReason,
    PersonStatus,
    PlannedVisitStatus,
    Role,
)
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import (
    HandoverPlan,
    Person,
    PersonStatusChange,
    PlannedVisit,
    VisitPlan,
)
from sim_desk.records.permissions import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import LOCAL_ZONE, UnlockedVault
from sim_desk.records.validation import (
    check_not_future,
    check_order,
    clean_text,
)
from sim_desk.records.vault.audit import Action

# -- status ---------------------------------------------------------------------------------


def change_status(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    to_status: PersonStatus | str,
    *,
    on: date,
    exit_reason: ExitReason | str | None = None,
    reason: str | None = None,
    handover_override: str | None = None,
) -> None:
    """Moves a person along referred → active → stepping down → closed.

    Becoming active sets the enrolment date (the start of the outcome windows); closing needs an
    exit reason, so the report's flow of referred, enrolled, disengaged, moved, died and closed
    counts everyone.

    Moving to stepping down (or closing an active record as "stepped down", which skips that
    stage) needs the person's handover plan first. Records already stepping down or closed,
    and imported ones, are left as they are. A team lead may move a record on without one by
    giving ``handover_override``, the reason; the override is audited.
    """
    vault.require_role(*CASEWORKERS, doing="change a person's status")
    target = PersonStatus.parse(str(to_status), field="status")
    note = clean_text(reason, field="reason", label="Reason", max_chars=2_000, multiline=True)
    check_not_future(on, today=vault.today(), field="on", label="Date of the change")
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        current = PersonStatus(person.status)
        if target not in STATUS_TRANSITIONS[current]:
            raise ValidationError(
                f"Status: a person who is {current.label.lower()} cannot become"
                f" {target.label.lower()} directly.",
                "status",
            )
        exit_code = None
        if target == PersonStatus.CLOSED:
            if exit_reason is None:
                raise ValidationError(
                    "Exit reason: say why the record is being closed.", "exit_reason"
                )
            exit_code = ExitReason.parse(str(exit_reason), field="exit_reason")
            check_order(
                person.referred_on,
                on,
                field="on",
                message="Closing date: it is before the referral date.",
            )
            check_order(
                person.enrolled_on,
                on,
                field="on",
                message="Closing date: it is before the enrolment date.",
            )
            person.closed_on = on
            person.exit_reason = exit_code.value
        overridden = _check_handover_plan(
            vault, session, person, current, target, exit_code, handover_override
        )
        if target == PersonStatus.CLOSED and exit_code is not None:
            _cancel_visits_after(session, person.id, on, vault.actor.user_id)
        elif target == PersonStatus.ACTIVE and person.enrolled_on is None:
            check_order(
                person.referred_on,
                on,
                field="on",
                message="Enrolment date: it is before the referral date.",
            )
            check_order(
                person.date_of_birth,
                on,
                field="on",
                message="Enrolment date: it is before the date of birth.",
            )
            person.enrolled_on = on
        elif target == PersonStatus.REFERRED:  # a new referral after closure
            person.closed_on = None
            person.exit_reason = None
            person.enrolled_on = None
            person.referred_on = on
        person.status = target.value
        session.add(
            PersonStatusChange(
                person_id=person.id,
                from_status=current.value,
                to_status=target.value,
                changed_on=on,
                exit_reason=exit_code.value if exit_code else None,
                reason=note
                if not overridden
                else f"{note}\n\n{overridden}"
                if note
                else overridden,
                handover_overridden=True if overridden else None,
                created_by=vault.actor.user_id,
            )
        )
        if overridden:
            vault.audit(
                session,
                Action.UPDATE,
                "person",
                person.id,
                status=target.value,
                handover_override=True,
            )
        else:
            vault.audit(session, Action.UPDATE, "person", person.id, status=target.value)


def _needs_handover_plan(current: CodeList, target: CodeList, exit_code: CodeList | None) -> bool:
    if target == PersonStatus.STEPPING_DOWN:
        return True
    return (
        target == PersonStatus.CLOSED
        and current == PersonStatus.ACTIVE
        and exit_code == ExitReason.STEPPED_DOWN
    )


def _check_handover_plan(
    vault: UnlockedVault,
    session: Session,
    person: Person,
    current: CodeList,
    target: CodeList,
    exit_code: CodeList | None,
    override: str | None,
) -> str | None:
    """Refuses a step down without a handover plan, unless a team lead overrides it with a
    reason; returns that reason when the override was used."""
    why = clean_text(
        override,
        field="handover_override",
        label="Reason for going on without a handover plan",
        max_chars=2_000,
        multiline=True,
    )
    if not _needs_handover_plan(current, target, exit_code):
        return None
    has_plan = session.execute(
        select(HandoverPlan.id).where(HandoverPlan.person_id == person.id)
    ).first()
    if has_plan is not None:
        return None
    if why is None:
        raise ValidationError(
            "Handover plan: agree one with the person before they step down (who carries on,"
            " what they want them to know, their crisis plan, when the pair will check in)."
            " A team lead can go on without one, giving the reason.",
            "handover_override",
        )
    if vault.actor.role != Role.TEAM_LEAD:
        raise PermissionDenied(
            "Only a team lead can step a record down without a handover plan. Agree the plan"
            " with the person first, or ask your team lead."
        )
    return why


def _cancel_visits_after(
    session: Session, person_id: uuid.UUID, closed_on: date, by: uuid.UUID | None
) -> None:
    """A closed record keeps no live plans: visits still planned after closure are cancelled."""
    after = datetime.combine(closed_on + timedelta(days=1), time(0), LOCAL_ZONE)
    for visit in session.execute(
        select(PlannedVisit).where(
            PlannedVisit.person_id == person_id,
            PlannedVisit.status == PlannedVisitStatus.PLANNED.value,
            PlannedVisit.due_at >= after,
        )
    ).scalars():
        visit.status = PlannedVisitStatus.CANCELLED.value
        visit.status_reason = "Record closed"
    for plan in session.execute(
        select(VisitPlan).where(VisitPlan.person_id == person_id, VisitPlan.active)
    ).scalars():
        plan.active = False
