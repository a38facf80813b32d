"""What this laptop keeps to sync with its team server (issue 19): never synced themselves.

- ``sync_state``: one row once the vault syncs: which device, the pull cursor, the server's
  incarnation and the hybrid-logical clock.
- ``sync_outbox``: every local change to a replicated row, written in the same transaction as
  the change, kept until a pull shows it back from the server.
- ``sync_rows``: per replicated row, the clock of each field's current value (for
  last-writer-wins), a short hash of each value (to tell which fields a local write changed),
  tombstones, and what arrived but could not be applied here (held).
- ``sync_changed_elsewhere``: values this laptop had that a change from another laptop
  overwrote, kept until somebody has looked.
- ``sync_merge_proposals``: the same person created on two caseloads, for the team lead.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from sim_desk.records.model.base import Base, utcnow


class SyncState(Base):
    __tablename__ = "sync_state"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    device_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column()
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    incarnation: Mapped[str | None] = mapped_column(String(64))
    #: The last hybrid-logical-clock time issued or seen here.
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The latest hybrid-logical-clock time received from the server (changes and snapshot
    #: rows): a change stamped again after the clock ran ahead still follows what it saw.
    received_hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    last_push_at: Mapped[datetime | None] = mapped_column()
    last_pull_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    #: The server was restored or failed over: the replica is being checked against a fresh
    #: snapshot, and whatever the server lost is sent to it again.
    rebuilding: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Team leads: changes the server refused from any laptop, kept there for review.
    refused_for_review: Mapped[int] = mapped_column(Integer, default=0)
    #: Leavers (issue 20): the team's replica expiry in days (None: none), the server's time
    #: at the last sync that completed, and the latest time this laptop has seen (so that a
    #: clock set back does not make an out-of-date replica look fresh).
    replica_expiry_days: Mapped[int | None] = mapped_column(Integer)
    synced_ok_at: Mapped[datetime | None] = mapped_column()
    latest_seen_at: Mapped[datetime | None] = mapped_column()
    #: The team's other laptops' last syncs as the server told them then:
    #: ``[{"last_synced": iso or None, "device"?, "user"?}]`` (who, for team leads only).
    team_syncs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class SyncOutboxEntry(Base):
    __tablename__ = "sync_outbox"
    #: The change id: the same on every retry, so the server applies it once.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    author_id: Mapped[uuid.UUID | None] = mapped_column()
    table_name: Mapped[str] = mapped_column(String(63))
    row_id: Mapped[uuid.UUID] = mapped_column(index=True)
    person_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    op: Mapped[str] = mapped_column(String(10))
    hlc: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any] | None] = mapped_column()
    clinical: Mapped[dict[str, Any] | None] = mapped_column()
    #: Each field's clock here just before this change (so another laptop can tell whether
    #: this change was made knowing its own value, or at the same time as it).
    base: Mapped[dict[str, Any] | None] = mapped_column()
    #: pending (to push), pushed (accepted, not yet seen back), refused (with ``code``).
    state: Mapped[str] = mapped_column(String(10), default="pending")
    code: Mapped[str | None] = mapped_column(String(30))
    server_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_sync_outbox_state_seq", "state", "seq"),)


def compact_clocks(clocks: dict[str, str]) -> list[list[str]]:
    """``{name: clock}`` as stored: each clock once, with the names that have it."""
    by_clock: dict[str, list[str]] = {}
    for name, stamp in clocks.items():
        by_clock.setdefault(stamp, []).append(name)
    return [[stamp, *names] for stamp, names in by_clock.items()]


class FieldClocks(TypeDecorator[dict[str, Any]]):
    """Each field's clock, ``{name: clock}`` in Python, stored with the fields that share a
    clock listed under it once: ``[[clock, name, ...], ...]``. A row made or received in one
    change has one clock for every field, and written out again for each (59 characters a
    field) the clocks were a third of a replica: a lead's first sync brings a million rows.
    A vault written before reads as it was (a JSON object)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if not isinstance(value, dict) or not all(type(c) is str for c in value.values()):
            return value
        return compact_clocks(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if not isinstance(value, list):
            return value
        return {name: stamp for stamp, *names in value for name in names}


class SyncRow(Base):
    __tablename__ = "sync_rows"
    #: The replicated row's own id (ids are UUIDs, unique across tables).
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(63))
    person_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    clocks: Mapped[dict[str, Any]] = mapped_column(FieldClocks())
    #: Each field's fingerprint as last received or sent (``sync.tables.value_hash``); None
    #: (JSON null) for a row received in bulk and not changed here since (``sync.received``).
    hashes: Mapped[dict[str, Any] | None] = mapped_column(nullable=False)
    #: Fields whose value here was last set on this laptop (a remote change that overwrites
    #: one of them is kept as "changed on another laptop").
    mine: Mapped[list[str]] = mapped_column()
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Fields this version of SIM Desk does not know, and values that could not be applied
    #: here (a clash with a unique field): kept, never dropped. None is SQL NULL (not JSON
    #: null), so that the index below lists only the rows that hold something.
    held: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    #: While rebuilding after a server restore: whether the fresh snapshot held this row.
    in_snapshot: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (Index("ix_sync_rows_held", "id", sqlite_where=text("held IS NOT NULL")),)


class SyncChangedElsewhere(Base):
    __tablename__ = "sync_changed_elsewhere"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    table_name: Mapped[str] = mapped_column(String(63))
    row_id: Mapped[uuid.UUID] = mapped_column(index=True)
    person_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    #: changed (fields overwritten), deleted (the row deleted elsewhere), held (could not apply).
    kind: Mapped[str] = mapped_column(String(10))
    #: The values this laptop had, by field, as they were before the change.
    overwritten: Mapped[dict[str, Any]] = mapped_column()
    change_id: Mapped[uuid.UUID | None] = mapped_column()
    author_id: Mapped[uuid.UUID | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column()


class SyncMergeProposal(Base):
    __tablename__ = "sync_merge_proposals"
    #: The server's id for the proposal.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column()
    other_person_id: Mapped[uuid.UUID] = mapped_column()
    matched_on: Mapped[str] = mapped_column(String(20))


#: Tables that record syncing itself: never pushed, exported or reported.
SYNC_TABLES = frozenset(
    {"sync_state", "sync_outbox", "sync_rows", "sync_changed_elsewhere", "sync_merge_proposals"}
)
