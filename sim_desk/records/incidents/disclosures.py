"""Information shared with police: each disclosure logged."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from sim_desk.records.codes import (
    LawfulBasis,
    PersonAsked,
    Role,
)
from sim_desk.records.errors import PermissionDenied
from sim_desk.records.incidents.details import MAX_SUMMARY_CHARS, checked_moment
from sim_desk.records.model import (
    Disclosure,
    User,
)
from sim_desk.records.people import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import (
    clean_text,
)
from sim_desk.records.vault.audit import Action

# -- information shared with police ---------------------------------------------------------


@dataclass
class DisclosureDetails:
    shared_at: datetime
    what: str
    why: str
    lawful_basis: str
    person_asked: str
    shared_with: str | None = None


@dataclass(frozen=True)
class DisclosureView:
    id: uuid.UUID
    shared_at: datetime
    what: str
    why: str
    lawful_basis: LawfulBasis
    person_asked: PersonAsked
    shared_with: str | None
    recorded_by: str
    #: "police", or "partner" for a letter to someone in the person's circle.
    recipient: str = "police"


def record_disclosure(
    vault: UnlockedVault, person_id: uuid.UUID, details: DisclosureDetails
) -> uuid.UUID:
    """Logs health information shared with police. Only clinical-key holders share it."""
    vault.require_role(*CASEWORKERS, doing="record information shared with police")
    if not vault.has_clinical_key:
        raise PermissionDenied(
            "Only clinicians and clinical leads can record health information shared with"
            " police. Ask the clinician in the pair to record it."
        )
    shared_at = checked_moment(details.shared_at, vault, field="shared_at", label="When shared")
    what = clean_text(
        details.what,
        field="what",
        label="What was shared",
        max_chars=MAX_SUMMARY_CHARS,
        required=True,
        multiline=True,
    )
    why = clean_text(
        details.why,
        field="why",
        label="Why it was shared",
        max_chars=MAX_SUMMARY_CHARS,
        required=True,
        multiline=True,
    )
    basis = LawfulBasis.parse(str(details.lawful_basis), field="lawful_basis")
    asked = PersonAsked.parse(str(details.person_asked), field="person_asked")
    shared_with = clean_text(
        details.shared_with, field="shared_with", label="Shared with", max_chars=200
    )
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        row = Disclosure(
            person_id=person.id,
            shared_at=shared_at,
            what=what,
            why=why,
            lawful_basis=basis.value,
            person_asked=asked.value,
            shared_with=shared_with,
            created_by=vault.actor.user_id,
        )
        session.add(row)
        session.flush()
        vault.audit(
            session,
            Action.CREATE,
            "disclosure",
            row.id,
            person=person.id,
            basis=basis.value,
            asked=asked.value,
        )
        return row.id


def list_disclosures(vault: UnlockedVault, person_id: uuid.UUID) -> list[DisclosureView]:
    """What was shared about a person, newest first. Officers may list what was shared with
    police (it was shared with them) and the partner letters they made themselves; what
    others shared with partners stays out of an officer's sight."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        query = (
            select(Disclosure, User.display_name)
            .outerjoin(User, User.id == Disclosure.created_by)
            .where(Disclosure.person_id == person_id)
            .order_by(Disclosure.shared_at.desc())
        )
        if vault.actor.role == Role.OFFICER:
            query = query.where(
                (Disclosure.recipient == "police") | (Disclosure.created_by == vault.actor.user_id)
            )
        rows = session.execute(query).all()
        return [
            DisclosureView(
                d.id,
                d.shared_at,
                d.what,
                d.why,
                LawfulBasis(d.lawful_basis),
                PersonAsked(d.person_asked),
                d.shared_with,
                name or "recovery key",
                d.recipient,
            )
            for d, name in rows
        ]
