"""Incidents, s136 episodes and places of safety, baseline counts, disclosures, revisions."""

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
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sim_desk.records.model.base import Base, Tracked


class Incident(Base, Tracked):
    """A crisis event or a harm. Demand is never shown without harms beside it."""

    __tablename__ = "incidents"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"))
    occurred_at: Mapped[datetime] = mapped_column()
    incident_type: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))
    custody: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_on: Mapped[date | None] = mapped_column(Date)
    legal_action: Mapped[str | None] = mapped_column(String(40))
    source_reference: Mapped[str | None] = mapped_column(String(100))
    summary: Mapped[str | None] = mapped_column(Text)

    episode: Mapped[S136Episode | None] = relationship(back_populates="incident")

    # What the outcome figures read of every incident in a person's windows rides in the
    # index, so that they never fetch the (summary-sized) rows.
    __table_args__ = (
        Index(
            "ix_incidents_person_occurred",
            "person_id",
            "occurred_at",
            "incident_type",
            "custody",
            "ended_on",
        ),
        Index("ix_incidents_occurred", "occurred_at"),
    )


class IncidentRevision(Base, Tracked):
    """An incident as it was before a correction (its s136 detail and places included), with
    the reason given. Corrections never overwrite history."""

    __tablename__ = "incident_revisions"
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)


class S136Episode(Base, Tracked):
    """The detail of a Section 136 detention."""

    __tablename__ = "s136_episodes"
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), unique=True)
    detained_at: Mapped[datetime] = mapped_column()
    health_professional_consulted: Mapped[bool | None] = mapped_column(Boolean)
    conveyance: Mapped[str | None] = mapped_column(String(20))
    arrived_at: Mapped[datetime | None] = mapped_column()
    extension_hours: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(30))

    incident: Mapped[Incident] = relationship(back_populates="episode")
    places: Mapped[list[PlaceOfSafetyUse]] = relationship(
        back_populates="episode", order_by="PlaceOfSafetyUse.sequence"
    )


class PlaceOfSafetyUse(Base, Tracked):
    """Each place of safety an s136 episode used, in order."""

    __tablename__ = "places_of_safety"
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("s136_episodes.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    place: Mapped[str] = mapped_column(String(20))
    arrived_at: Mapped[datetime | None] = mapped_column()

    episode: Mapped[S136Episode] = relationship(back_populates="places")


class BaselineCount(Base, Tracked):
    """A total for a period before enrolment, standing in where the single events are unknown."""

    __tablename__ = "baseline_counts"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    incident_type: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20))


class BaselineCountRevision(Base, Tracked):
    """A baseline count as it was before a correction, with the reason given."""

    __tablename__ = "baseline_count_revisions"
    baseline_count_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("baseline_counts.id"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)


class Disclosure(Base, Tracked):
    """Health information shared with police: what, why, on what basis, and was the person asked."""

    __tablename__ = "disclosures"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    shared_at: Mapped[datetime] = mapped_column()
    what: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text)
    lawful_basis: Mapped[str] = mapped_column(String(30))
    person_asked: Mapped[str] = mapped_column(String(20))
    shared_with: Mapped[str | None] = mapped_column(String(200))
    #: "police" for information shared with police; "partner" for a letter to a partner in
    #: the person's circle (``partner_id``). Officers see only what was shared with police.
    recipient: Mapped[str] = mapped_column(String(10), default="police")
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("support_partners.id"))
