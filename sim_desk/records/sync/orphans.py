"""Rows a pull left pointing nowhere, found from what the pull wrote rather than by checking the
whole replica.

Foreign keys are deferred while a pull is applied, so a row can go in before its parent (which
may come later in the same pull, or at a later one). Before the pull commits, every row that
still points at a row not here is taken out and held (``Applier.hold_orphans``). Such a row is
one the pull wrote, or one that pointed at a row the pull deleted: only those are looked at,
with a query per foreign key (a deleted row's children among its person's rows: a row never
points at another person's). ``PRAGMA foreign_key_check`` finds the same rows by reading every
row of the replica: about three seconds on a lead's laptop, at every pull that applied anything
one by one. SQLite still checks every key when the pull commits: were a row missed here, the
commit would fail, and the pull is applied again with the whole-replica check (``thorough``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping

from sqlalchemy import ColumnElement, exists, literal_column, select, text
from sqlalchemy.orm import Session

from sim_desk.records.model import SyncRow
from sim_desk.records.sync.tables import REPLICATED

#: SQLite takes at most this many values in one ``IN (...)``.
_IN = 500

#: (child table, foreign key column, parent table) of every replicated row. Every key points at
#: its parent's id (one that did not would go unseen here, and the commit's check catch it).
_KEYS = [
    (spec.table, fk.parent, fk.column.table)
    for spec in REPLICATED
    for fk in spec.table.foreign_keys
]


def _chunks(ids: Iterable[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    listed = list(ids)
    for start in range(0, len(listed), _IN):
        yield listed[start : start + _IN]


def orphans(
    session: Session,
    written: Mapping[str, set[uuid.UUID]],
    deleted: Mapping[str, set[uuid.UUID]],
    *,
    thorough: bool = False,
) -> list[tuple[str, int]]:
    """(table, rowid) of each replicated row that points at a row not here: among the rows
    ``written``, and the rows pointing at a row ``deleted`` (each by table, by id)."""
    if thorough:
        found = session.execute(text("PRAGMA foreign_key_check")).all()
        return sorted({(str(name), int(rowid)) for name, rowid, _p, _k in found})
    rowid: ColumnElement[int] = literal_column("rowid")
    hits: set[tuple[str, int]] = set()
    for child, key, parent in _KEYS:
        name = str(child.name)
        wrote, gone = written.get(name, ()), deleted.get(str(parent.name), ())
        if not wrote and not gone:
            continue
        here = parent.alias("parent_here")  # (a row may point at its own table)
        nowhere = key.is_not(None) & ~exists().where(here.c.id == key)
        for chunk in _chunks(wrote):  # rows this pull wrote
            query = select(rowid).select_from(child).where(child.c.id.in_(chunk), nowhere)
            hits.update((name, int(r)) for r in session.execute(query).scalars())
        for chunk in _chunks(gone):  # rows pointing at one it deleted
            query = select(rowid).select_from(child).where(key.in_(chunk), nowhere)
            if "person_id" in child.c and "person_id" in parent.c:
                # Looked for among the same person's rows: most of these keys have no index of
                # their own (a contact's planned visit), but each is in one beside person_id.
                people = select(SyncRow.person_id).where(SyncRow.id.in_(chunk))
                query = query.where(child.c.person_id.in_(people))
            hits.update((name, int(r)) for r in session.execute(query).scalars())
    return sorted(hits)
