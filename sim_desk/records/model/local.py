"""What the laptop keeps about its own use: the audit log, export releases, form drafts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from sim_desk.records.model.base import Base, Tracked


class Draft(Base, Tracked):
    """A form its user had not finished (closed with Escape, or open when the app locked).

    ``sealed`` is AES-256-GCM under a key only the owner's own sign-in can derive, so another
    user of the same vault cannot read it; clinician-only text inside it is sealed again under
    the clinical key. A draft is not a record: it is never synced, exported or reported (see
    :data:`LOCAL_ONLY_TABLES`), and is deleted once the form is saved or discarded.
    ``owner_id`` is None for a draft made while signed in with the recovery key.
    """

    __tablename__ = "drafts"
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


#: Tables that belong to this laptop's vault alone: a sync or export must never carry them.
LOCAL_ONLY_TABLES = frozenset({"drafts"})


class AuditEvent(Base, Tracked):
    """One link of the hash-chained audit log. Ids and actions only: never personal data."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column()
    user_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID | None] = mapped_column()
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)


class ExportRelease(Base, Tracked):
    """One anonymised export as released: the period it covers, how it was protected, and the
    published figures themselves, so that a second release of the same period can repeat the
    first instead of being compared with it. ``created_by`` is who released it.

    The published figures are anonymous by construction. The pseudonymised extract is not kept:
    only a SHA-256 over its content (pseudonyms left out), to tell whether it would differ.
    """

    __tablename__ = "export_releases"
    period_end: Mapped[date] = mapped_column(Date, index=True)
    months: Mapped[int] = mapped_column(Integer)
    k: Mapped[int] = mapped_column(Integer)
    max_suppressed_share: Mapped[float] = mapped_column(Float)
    linkage: Mapped[bool] = mapped_column(Boolean)
    levels: Mapped[dict[str, Any]] = mapped_column()  # {"quasi_identifier": rung, ...}
    published: Mapped[dict[str, Any]] = mapped_column()  # {"columns": [...], "rows": [[...]]}
    published_sha256: Mapped[str] = mapped_column(String(64))
    extract_sha256: Mapped[str] = mapped_column(String(64))
    extract_rows: Mapped[int] = mapped_column(Integer)
