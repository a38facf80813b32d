"""A person's record as read: details, status history, consent, key contacts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.codes import (
    ExitReason,
    LawfulBasis,
    PersonStatus,
    SharingScope,
)
from sim_desk.records.dates import age_on
from sim_desk.records.model import (
    Consent,
    Pair,
    Person,
    PersonStatusChange,
    User,
)
from sim_desk.records.people.consent import latest_consent_first
from sim_desk.records.people.details import PersonDetails
from sim_desk.records.permissions import load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.audit import Action


@dataclass(frozen=True)
class ConsentView:
    taking_part: bool
    information_sharing: bool
    scope: SharingScope
    lawful_basis: LawfulBasis
    recorded_on: date
    recorded_by: str
    withdrawn_on: date | None
    notes: str | None


@dataclass(frozen=True)
class KeyContactView:
    id: uuid.UUID
    name: str
    relationship: str | None
    telephone: str | None
    is_carer: bool
    notes: str | None


@dataclass(frozen=True)
class StatusChangeView:
    from_status: PersonStatus | None
    to_status: PersonStatus
    changed_on: date
    exit_reason: ExitReason | None
    reason: str | None


@dataclass(frozen=True)
class PersonRecord:
    """A person's record as a plain snapshot: safe to hand to a widget or a report."""

    id: uuid.UUID
    details: PersonDetails
    status: PersonStatus
    enrolled_on: date | None
    closed_on: date | None
    exit_reason: ExitReason | None
    pair_id: uuid.UUID | None
    pair_name: str | None
    consent: ConsentView | None
    key_contacts: tuple[KeyContactView, ...] = field(default_factory=tuple)
    status_history: tuple[StatusChangeView, ...] = field(default_factory=tuple)

    @property
    def display_name(self) -> str:
        d = self.details
        return " ".join(part for part in (d.given_name, d.family_name) if part)

    def age_on(self, day: date) -> int | None:
        dob = self.details.date_of_birth
        if dob is None:
            return None
        return age_on(dob, day)


def _consent_view(session: Session, person_id: uuid.UUID) -> ConsentView | None:
    consent = session.execute(
        select(Consent)
        .where(Consent.person_id == person_id)
        .order_by(*latest_consent_first())
        .limit(1)
    ).scalar_one_or_none()
    if consent is None:
        return None
    recorder = session.get(User, consent.created_by) if consent.created_by else None
    return ConsentView(
        taking_part=consent.taking_part,
        information_sharing=consent.information_sharing,
        scope=SharingScope(consent.scope),
        lawful_basis=LawfulBasis(consent.lawful_basis),
        recorded_on=consent.recorded_on,
        recorded_by=recorder.display_name if recorder else "recovery key",
        withdrawn_on=consent.withdrawn_on,
        notes=consent.notes,
    )


def person_record(vault: UnlockedVault, session: Session, person: Person) -> PersonRecord:
    pair = session.get(Pair, person.pair_id) if person.pair_id else None
    history = session.execute(
        select(PersonStatusChange)
        .where(PersonStatusChange.person_id == person.id)
        .order_by(PersonStatusChange.changed_on, PersonStatusChange.created_at)
    ).scalars()
    return PersonRecord(
        id=person.id,
        details=PersonDetails.from_person(person),
        status=PersonStatus(person.status),
        enrolled_on=person.enrolled_on,
        closed_on=person.closed_on,
        exit_reason=ExitReason(person.exit_reason) if person.exit_reason else None,
        pair_id=person.pair_id,
        pair_name=pair.name if pair else None,
        consent=_consent_view(session, person.id),
        key_contacts=tuple(
            KeyContactView(k.id, k.name, k.relationship_to_person, k.telephone, k.is_carer, k.notes)
            for k in person.key_contacts
        ),
        status_history=tuple(
            StatusChangeView(
                PersonStatus(h.from_status) if h.from_status else None,
                PersonStatus(h.to_status),
                h.changed_on,
                ExitReason(h.exit_reason) if h.exit_reason else None,
                h.reason,
            )
            for h in history
        ),
    )


def view_person(vault: UnlockedVault, person_id: uuid.UUID) -> PersonRecord:
    """Opens a person's record. Every view is audited (who looked, when; never what)."""
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        vault.audit(session, Action.VIEW, "person", person.id)
        return person_record(vault, session, person)


def reload_person(vault: UnlockedVault, person_id: uuid.UUID) -> PersonRecord:
    """Re-reads a record this user has open already (its opening was audited by view_person),
    after a change made in the same workspace, without logging a second view."""
    with vault.read() as session:
        return person_record(vault, session, load_person(vault, session, person_id))
