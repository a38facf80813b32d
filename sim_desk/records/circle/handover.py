"""The handover plan: how support carries on when the pair steps back.

Agreed with the person before their record moves to stepping down (see ``people.status``): who
carries on, what the person wants them to know, the crisis plan in the person's own words, who
the plan was shared with, and when the pair will check in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from sim_desk.records.circle.common import change_reason, fields_of, partner_of
from sim_desk.records.errors import NotFound, ValidationError
from sim_desk.records.incidents import RevisionView, revision_history
from sim_desk.records.model import HandoverPlan, HandoverPlanRevision, SupportPartner
from sim_desk.records.permissions import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import (
    MAX_NOTE_CHARS,
    check_date,
    check_not_future,
    check_order,
    clean_text,
)
from sim_desk.records.vault.audit import Action

PLAN_FIELDS = (
    "continuing_partner_id",
    "who_carries_on",
    "person_wants_known",
    "crisis_plan",
    "shared_with",
    "check_in_on",
    "agreed_on",
)


@dataclass
class HandoverDetails:
    """A handover plan as typed in. Who carries on is a partner in the circle
    (``continuing_partner_id``), words (``who_carries_on``), or both."""

    agreed_on: date
    continuing_partner_id: uuid.UUID | None = None
    who_carries_on: str | None = None
    person_wants_known: str | None = None
    crisis_plan: str | None = None
    shared_with: str | None = None
    check_in_on: date | None = None


@dataclass(frozen=True)
class HandoverPlanView:
    id: uuid.UUID
    person_id: uuid.UUID
    continuing_partner_id: uuid.UUID | None
    continuing_partner: str | None
    who_carries_on: str | None
    person_wants_known: str | None
    crisis_plan: str | None
    shared_with: str | None
    check_in_on: date | None
    agreed_on: date
    revision: int

    @property
    def carries_on(self) -> str:
        """Who carries on, in one line."""
        parts = [p for p in (self.continuing_partner, self.who_carries_on) if p]
        return "; ".join(parts)

    @property
    def names_continuing_worker(self) -> bool:
        """A named continuing worker in the circle (issue 17's "connected" definition)."""
        return self.continuing_partner_id is not None


def save_handover_plan(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    details: HandoverDetails,
    *,
    reason: str | None = None,
) -> int:
    """Agrees the person's handover plan, or revises it keeping the earlier version.

    Returns the plan's revision (1 for a new plan).
    """
    vault.require_role(*CASEWORKERS, doing="record a handover plan")
    agreed_on = check_date(details.agreed_on, field="agreed_on", label="Agreed on")
    check_not_future(agreed_on, today=vault.today(), field="agreed_on", label="Agreed on")
    if details.check_in_on is not None:
        check_date(details.check_in_on, field="check_in_on", label="Check in on")
        check_order(
            agreed_on,
            details.check_in_on,
            field="check_in_on",
            message="Check in on: it is before the plan was agreed.",
        )
    values: dict[str, object] = {
        "who_carries_on": clean_text(
            details.who_carries_on, field="who_carries_on", label="Who carries on", max_chars=300
        ),
        "person_wants_known": clean_text(
            details.person_wants_known,
            field="person_wants_known",
            label="What they want the next worker to know",
            max_chars=MAX_NOTE_CHARS,
            multiline=True,
        ),
        "crisis_plan": clean_text(
            details.crisis_plan,
            field="crisis_plan",
            label="Crisis plan in their words",
            max_chars=MAX_NOTE_CHARS,
            multiline=True,
        ),
        "shared_with": clean_text(
            details.shared_with, field="shared_with", label="Shared with", max_chars=500
        ),
        "check_in_on": details.check_in_on,
        "agreed_on": agreed_on,
    }
    why = change_reason(reason)
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        check_order(
            person.referred_on,
            agreed_on,
            field="agreed_on",
            message="Agreed on: it is before this person was referred.",
        )
        partner = partner_of(
            session, person.id, details.continuing_partner_id, field="continuing_partner_id"
        )
        values["continuing_partner_id"] = partner.id if partner else None
        if partner is None and values["who_carries_on"] is None:
            raise ValidationError(
                "Who carries on: choose the continuing worker from the circle, or say in words"
                " (for example 'the person's GP' or 'nobody: their own choice').",
                "who_carries_on",
            )
        plan = session.execute(
            select(HandoverPlan).where(HandoverPlan.person_id == person.id)
        ).scalar_one_or_none()
        if plan is None:
            plan = HandoverPlan(person_id=person.id, created_by=vault.actor.user_id, **values)
            session.add(plan)
            session.flush()
            vault.audit(session, Action.CREATE, "handover_plan", plan.id, person=person.id)
            return 1
        changed = [name for name, value in values.items() if getattr(plan, name) != value]
        if not changed:
            return plan.revision
        session.add(
            HandoverPlanRevision(
                plan_id=plan.id,
                revision=plan.revision,
                fields=fields_of(plan, PLAN_FIELDS),
                reason=why,
                created_by=vault.actor.user_id,
            )
        )
        for name in changed:
            setattr(plan, name, values[name])
        plan.revision += 1
        vault.audit(
            session,
            Action.UPDATE,
            "handover_plan",
            plan.id,
            person=person.id,
            fields=changed,
            revision=plan.revision,
        )
        return plan.revision


def handover_plan(vault: UnlockedVault, person_id: uuid.UUID) -> HandoverPlanView | None:
    """The person's handover plan, or None if none has been agreed."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        plan = session.execute(
            select(HandoverPlan).where(HandoverPlan.person_id == person_id)
        ).scalar_one_or_none()
        if plan is None:
            return None
        partner = (
            session.get(SupportPartner, plan.continuing_partner_id)
            if plan.continuing_partner_id
            else None
        )
        name = None
        if partner is not None:
            name = (
                f"{partner.worker_name}, {partner.organisation}"
                if partner.worker_name
                else partner.organisation
            )
        return HandoverPlanView(
            id=plan.id,
            person_id=plan.person_id,
            continuing_partner_id=plan.continuing_partner_id,
            continuing_partner=name,
            who_carries_on=plan.who_carries_on,
            person_wants_known=plan.person_wants_known,
            crisis_plan=plan.crisis_plan,
            shared_with=plan.shared_with,
            check_in_on=plan.check_in_on,
            agreed_on=plan.agreed_on,
            revision=plan.revision,
        )


def handover_history(vault: UnlockedVault, person_id: uuid.UUID) -> list[RevisionView]:
    """Earlier versions of the person's handover plan, oldest first."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        plan = session.execute(
            select(HandoverPlan).where(HandoverPlan.person_id == person_id)
        ).scalar_one_or_none()
        if plan is None:
            raise NotFound("No handover plan has been agreed for this person yet.")
        return revision_history(
            session, HandoverPlanRevision, HandoverPlanRevision.plan_id, plan.id
        )
