"""People and what belongs to their record alone: status changes, key contacts, consent."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sim_desk.records.model.base import Base, Tracked


class Person(Base, Tracked):
    """Someone the pair supports. Names are free Unicode: any name in any script."""

    __tablename__ = "people"
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    preferred_name: Mapped[str | None] = mapped_column(String(200))
    pronouns: Mapped[str | None] = mapped_column(String(50))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    nhs_number: Mapped[str | None] = mapped_column(String(10), unique=True)
    police_reference: Mapped[str | None] = mapped_column(String(50), unique=True)
    ethnic_category: Mapped[str] = mapped_column(String(2), default="99")
    gender: Mapped[str] = mapped_column(String(1), default="X")
    first_language: Mapped[str | None] = mapped_column(String(100))
    interpreter_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    reasonable_adjustments: Mapped[str | None] = mapped_column(Text)
    borough: Mapped[str | None] = mapped_column(String(100))
    neighbourhood: Mapped[str | None] = mapped_column(String(100))
    gp_practice: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="referred")
    referred_on: Mapped[date] = mapped_column(Date)
    enrolled_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(20))
    pair_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pairs.id"), index=True)
    referral_source: Mapped[str | None] = mapped_column(String(200))
    referral_criteria: Mapped[str | None] = mapped_column(Text)
    referral_counts: Mapped[str | None] = mapped_column(Text)
    goals: Mapped[str | None] = mapped_column(Text)
    crisis_plan: Mapped[str | None] = mapped_column(Text)

    key_contacts: Mapped[list[KeyContact]] = relationship(
        back_populates="person", order_by="KeyContact.created_at"
    )

    # What the caseload search reads for every keystroke, so that it scans this index instead
    # of every person's whole row (goals, crisis plan and all).
    __table_args__ = (
        Index(
            "ix_people_caseload",
            "pair_id",
            "status",
            "family_name",
            "given_name",
            "preferred_name",
            "nhs_number",
            "police_reference",
            "id",
        ),
    )


class PersonStatusChange(Base, Tracked):
    """Every move along referred → active → stepping down → closed, with its date and reason."""

    __tablename__ = "person_status_changes"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    changed_on: Mapped[date] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    #: True when a team lead moved the record on without a handover plan (the reason says why).
    handover_overridden: Mapped[bool | None] = mapped_column(Boolean)


class KeyContact(Base, Tracked):
    """A carer, relative or friend the person wants involved."""

    __tablename__ = "key_contacts"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    relationship_to_person: Mapped[str | None] = mapped_column(String(100))
    telephone: Mapped[str | None] = mapped_column(String(50))
    is_carer: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)

    person: Mapped[Person] = relationship(back_populates="key_contacts")


class Consent(Base, Tracked):
    """A consent decision. A new row for each change, so the history is kept."""

    __tablename__ = "consents"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    taking_part: Mapped[bool] = mapped_column(Boolean)
    information_sharing: Mapped[bool] = mapped_column(Boolean)
    scope: Mapped[str] = mapped_column(String(30))
    lawful_basis: Mapped[str] = mapped_column(String(30))
    recorded_on: Mapped[date] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
