"""Consent and the person's key contacts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, or_

from sim_desk.records.codes import (
    LawfulBasis,
    SharingScope,
)
from sim_desk.records.model import (
    Consent,
    KeyContact,
)
from sim_desk.records.permissions import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import (
    check_not_future,
    check_order,
    clean_text,
)
from sim_desk.records.vault.audit import Action


def latest_consent_first() -> tuple[Any, ...]:
    """How a person's current consent decision is found among their decisions: the latest
    by date; on the same date a withdrawal before anything else (whoever recorded what, and on
    whichever laptop, a withdrawal stands); then the one recorded last. The team server orders
    them the same way."""
    withdrawal = or_(
        Consent.withdrawn_on.is_not(None),
        Consent.information_sharing.is_(False),
        Consent.taking_part.is_(False),
    )
    return (
        Consent.recorded_on.desc(),
        case((withdrawal, 0), else_=1),
        Consent.created_at.desc(),
        Consent.id.desc(),
    )


# -- consent --------------------------------------------------------------------------------


@dataclass
class ConsentDetails:
    taking_part: bool
    information_sharing: bool
    scope: str = SharingScope.PAIR_ONLY.value
    lawful_basis: str = LawfulBasis.CONSENT.value
    recorded_on: date | None = None
    withdrawn_on: date | None = None
    notes: str | None = None


def record_consent(vault: UnlockedVault, person_id: uuid.UUID, details: ConsentDetails) -> None:
    """Records a consent decision as a new row: the history of decisions is kept."""
    vault.require_role(*CASEWORKERS, doing="record consent")
    today = vault.today()
    recorded_on = details.recorded_on or today
    check_not_future(recorded_on, today=today, field="recorded_on", label="Consent date")
    if details.withdrawn_on is not None:
        check_not_future(details.withdrawn_on, today=today, field="withdrawn_on", label="Withdrawn")
        check_order(
            recorded_on,
            details.withdrawn_on,
            field="withdrawn_on",
            message="Withdrawn: it is before the date consent was recorded.",
        )
    scope = SharingScope.parse(details.scope, field="scope")
    basis = LawfulBasis.parse(details.lawful_basis, field="lawful_basis")
    notes = clean_text(details.notes, field="notes", label="Notes", max_chars=5_000, multiline=True)
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        session.add(
            Consent(
                person_id=person.id,
                taking_part=bool(details.taking_part),
                information_sharing=bool(details.information_sharing),
                scope=scope.value,
                lawful_basis=basis.value,
                recorded_on=recorded_on,
                withdrawn_on=details.withdrawn_on,
                notes=notes,
                created_by=vault.actor.user_id,
            )
        )
        vault.audit(
            session,
            Action.CREATE,
            "consent",
            person.id,
            taking_part=bool(details.taking_part),
            sharing=bool(details.information_sharing),
            withdrawn=details.withdrawn_on is not None,
        )


# -- key contacts ---------------------------------------------------------------------------


def add_key_contact(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    *,
    name: str,
    relationship: str | None = None,
    telephone: str | None = None,
    is_carer: bool = False,
    notes: str | None = None,
) -> uuid.UUID:
    vault.require_role(*CASEWORKERS, doing="add key contacts")
    clean_name = clean_text(
        name, field="name", label="Contact's name", max_chars=200, required=True
    )
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        contact = KeyContact(
            person_id=person.id,
            name=clean_name,
            relationship_to_person=clean_text(
                relationship, field="relationship", label="Relationship", max_chars=100
            ),
            telephone=clean_text(telephone, field="telephone", label="Telephone", max_chars=50),
            is_carer=is_carer,
            notes=clean_text(notes, field="notes", label="Notes", max_chars=2_000, multiline=True),
            created_by=vault.actor.user_id,
        )
        session.add(contact)
        session.flush()
        vault.audit(session, Action.CREATE, "key_contact", contact.id, person=person.id)
        return contact.id
