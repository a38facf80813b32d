"""After the team server was restored from a backup or failed over: nothing this laptop holds
is lost.

A restored server may have lost changes it had accepted after its backup. This laptop still
holds their effect: for every field, the value and the clock of the change that set it. While
the replica is checked against a fresh snapshot, each field here that is newer than the
server's, and each row the server no longer has, is queued again as the change that made it
(the same change id and clock, from the field's clock string), so the server ends up as it was
and no later change elsewhere is overwritten by an older one.

Each laptop sends again the changes it made itself (the fields whose value is its own,
``sync_rows.mine``, and the bookkeeping that came with them): the server takes a change id
from the device that first sent it and refuses it from any other, so a change sent again by a
laptop that only pulled it would shut out its author's whole copy (an officer's laptop holds
no clinical text to send with it). What is sent again goes before whatever waited to be pushed
(it was made before it), parents before children.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sim_desk.records.model import SyncOutboxEntry, SyncRow
from sim_desk.records.sync.tables import BY_NAME, CLINICAL_FIELDS, ORDER, encoded_row

#: Queued changes are moved this far up when a rebuild starts, so that what is sent again is
#: numbered before them (and pushed first).
AFTER_RESENT = 1 << 40


def start(session: Session) -> None:
    session.execute(update(SyncRow).values(in_snapshot=False))
    session.execute(update(SyncOutboxEntry).values(seq=SyncOutboxEntry.seq + AFTER_RESENT))


def parse(stamp: str) -> tuple[int, uuid.UUID] | None:
    """(HLC, change id) of a clock string; None for one that names no change."""
    parts = stamp.split(":")
    if len(parts) != 3:
        return None
    try:
        return int(parts[0]), uuid.UUID(parts[2])
    except ValueError:
        return None


def requeue(
    session: Session,
    shadow: SyncRow,
    fields: set[str],
    *,
    author: uuid.UUID | None,
    deleted: bool = False,
) -> int:
    """Queues again the changes that set ``fields`` of ``shadow``'s row (or deleted it)."""
    spec = BY_NAME.get(shadow.table_name)
    if spec is None:
        return 0
    if deleted:
        stamp = parse(str(shadow.clocks.get("_deleted", "")))
        if stamp is None:
            return 0
        return _add(session, shadow, stamp, "delete", None, None, author)
    row = session.execute(select(spec.table).where(spec.table.c.id == shadow.id)).mappings().first()
    if row is None:
        return 0
    values = encoded_row(shadow.table_name, row)
    own = {str(shadow.clocks[name]) for name in shadow.mine if name in shadow.clocks}
    by_clock: dict[str, set[str]] = defaultdict(set)
    for name in fields:
        if name in values and str(shadow.clocks.get(name)) in own:
            by_clock[str(shadow.clocks[name])].add(name)
    clinical_names = CLINICAL_FIELDS.get(shadow.table_name, frozenset())
    queued = 0
    for stamp_text, names in sorted(by_clock.items()):
        stamp = parse(stamp_text)
        if stamp is None:
            continue
        payload = {n: values[n] for n in names if n not in clinical_names}
        # No clinical text here (a laptop without clinical access never has any): none sent.
        clinical = {
            n: {"ciphertext": values[n], "epoch": 0}
            for n in names & clinical_names
            if values[n] is not None
        }
        if not payload and not clinical:
            continue
        queued += _add(session, shadow, stamp, "upsert", payload, clinical or None, author)
    return queued


def _add(
    session: Session,
    shadow: SyncRow,
    stamp: tuple[int, uuid.UUID],
    op: str,
    payload: dict[str, Any] | None,
    clinical: dict[str, Any] | None,
    author: uuid.UUID | None,
) -> int:
    hlc, change_id = stamp
    if session.get(SyncOutboxEntry, change_id) is not None:
        return 0  # still queued: it goes again anyway
    last = session.execute(
        select(func.max(SyncOutboxEntry.seq)).where(SyncOutboxEntry.seq < AFTER_RESENT)
    ).scalar_one()
    session.add(
        SyncOutboxEntry(
            id=change_id,
            seq=(last or 0) + 1,
            author_id=author,
            table_name=shadow.table_name,
            row_id=shadow.id,
            person_id=shadow.person_id,
            op=op,
            hlc=hlc,
            payload=payload,
            clinical=clinical,
            state="pending",
        )
    )
    session.flush()
    return 1


def finish(session: Session, author: uuid.UUID | None) -> int:
    """The snapshot is complete: rows the server no longer has are queued again whole."""
    queued = 0
    missing = session.execute(
        select(SyncRow).where(SyncRow.in_snapshot.is_(False), SyncRow.deleted.is_(False))
    ).scalars()
    # Parents before children, so that the server finds each row's parent.
    for shadow in sorted(missing, key=lambda s: ORDER.get(s.table_name, len(ORDER))):
        queued += requeue(session, shadow, set(shadow.clocks), author=author)
    session.execute(update(SyncRow).values(in_snapshot=None))
    return queued
