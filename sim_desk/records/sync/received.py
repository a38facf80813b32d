"""The fingerprints of a row's values as received, made when the row is first changed here.

A ``sync_rows`` entry keeps a fingerprint (``value_hash``) of each field as this laptop last
received or sent it: the outbox compares a row's values with them to tell which fields a local
write changed. A lead's first sync receives a million rows and most are never changed on that
laptop, so a row that goes in bulk gets no fingerprints (``hashes`` is JSON null): until it is
first changed here its values *are* the values received. Just before anything changes such a
row, while the database still holds those values, :func:`before_change` makes them (the write
path calls it for every flush and every UPDATE in a write session, ``write_path``); the pull's
own changes make them in ``applying``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from sim_desk.records.model import SyncRow
from sim_desk.records.sync.tables import BY_NAME, encoded_row, value_hash

#: What the bulk path stores for "not made yet" (JSON null: the column stays NOT NULL).
NOT_MADE = "null"
#: Ids looked up at a time (SQLite's limit on one ``IN (...)`` is well above).
_IN = 500


def hashes_of(table: str, values: Mapping[Any, Any], clocks: Mapping[str, Any]) -> dict[str, str]:
    """Each received field's fingerprint, from the row's values (the fields with a clock: a
    field never received here, an officer's clinical note, has none and stays without)."""
    encoded = encoded_row(table, values)
    return {name: value_hash(encoded[name]) for name in clocks if name in encoded}


def before_change(session: Session, table: str, row_ids: Sequence[Any]) -> None:
    """Makes the fingerprints of the rows ``row_ids`` of ``table`` that have none yet, from the
    values the database holds now (before the change about to be written)."""
    spec = BY_NAME.get(table)
    if spec is None or not row_ids:
        return
    ids = [
        row_id if isinstance(row_id, uuid.UUID) else uuid.UUID(str(row_id)) for row_id in row_ids
    ]
    with session.no_autoflush:  # (called while a flush is being prepared)
        for start in range(0, len(ids), _IN):
            waiting = {
                shadow.id: shadow
                for shadow in session.scalars(
                    select(SyncRow).where(
                        SyncRow.id.in_(ids[start : start + _IN]),
                        type_coerce(SyncRow.hashes, String) == NOT_MADE,
                    )
                )
                if shadow.hashes is None  # (one made earlier in this session is kept)
            }
            if not waiting:
                continue
            # The values as the database holds them: not through the ORM, whose objects may
            # already carry the change about to be written.
            rows = session.connection().execute(
                select(spec.table).where(spec.table.c.id.in_(waiting))
            )
            for row in rows.mappings():
                shadow = waiting[row["id"]]
                shadow.hashes = hashes_of(table, row, shadow.clocks)
