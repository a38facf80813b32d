"""Contacts (with their revisions) and visit plans with their planned visits."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sim_desk.records.model.base import Base, Tracked


class Contact(Base, Tracked):
    """A mentoring contact. ``clinical_note`` is AES-256-GCM ciphertext under the clinical key.

    ``clinical_history``, under the same key, holds the notes an amendment of the note alone
    replaced (``records.contacts``): kept apart from the contact's revisions, which officers
    see, so that such an amendment changes nothing an officer is sent."""

    __tablename__ = "contacts"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"))
    started_at: Mapped[datetime] = mapped_column()
    duration_minutes: Mapped[int] = mapped_column(Integer)
    mechanism: Mapped[str] = mapped_column(String(2))
    attendance: Mapped[str] = mapped_column(String(1))
    staff_present: Mapped[str] = mapped_column(String(10))
    place: Mapped[str | None] = mapped_column(String(200))
    shared_note: Mapped[str | None] = mapped_column(Text)
    clinical_note: Mapped[bytes | None] = mapped_column(LargeBinary)
    clinical_history: Mapped[bytes | None] = mapped_column(LargeBinary)
    planned_visit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("planned_visits.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)

    # Attendance rides in the index so that "contacts in a window, and which were attended"
    # and "last seen" never read the (note-sized) rows. A planned visit's "done on" is the
    # contact linked to it, looked up with the person first so that one person's lookups stay
    # on the same few index pages.
    __table_args__ = (
        Index("ix_contacts_person_started", "person_id", "started_at", "attendance"),
        Index("ix_contacts_planned_visit", "person_id", "planned_visit_id", "started_at"),
    )


class ContactRevision(Base, Tracked):
    """The earlier text of an amended contact. Amendments never overwrite history."""

    __tablename__ = "contact_revisions"
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column()
    clinical_note: Mapped[bytes | None] = mapped_column(LargeBinary)
    reason: Mapped[str | None] = mapped_column(Text)


class VisitPlan(Base, Tracked):
    """Recurring (or one-off) non-crisis visits. Its planned visits are rows of their own."""

    __tablename__ = "visit_plans"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    frequency: Mapped[str] = mapped_column(String(20))
    first_visit_at: Mapped[datetime] = mapped_column()
    end_on: Mapped[date | None] = mapped_column(Date)
    occurrences: Mapped[int | None] = mapped_column(Integer)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    mechanism: Mapped[str] = mapped_column(String(2), default="01")
    place: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PlannedVisit(Base, Tracked):
    """One planned visit. Due, overdue and 'not seen' are derived from it, never stored."""

    __tablename__ = "planned_visits"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visit_plans.id"), index=True)
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="planned")
    status_reason: Mapped[str | None] = mapped_column(Text)
    rescheduled_to_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("planned_visits.id"))

    __table_args__ = (
        Index("ix_planned_visits_status_due", "status", "due_at"),
        # Status and id ride along so that a person's visits in a window (and, through the id,
        # the contact that did each) are read from the index alone.
        Index("ix_planned_visits_person_due", "person_id", "due_at", "status", "id"),
    )
