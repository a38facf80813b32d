"""Snapshot rows this laptop has never held, inserted many at a time (a first sync, a person
who became visible): the row-by-row path of ``applying`` costs a savepoint and several
statements a row, and a team lead's first sync brings a million rows.

A row goes in bulk only where the row-by-row path would simply insert it: it came in a
snapshot, there is neither a row nor a ``sync_rows`` entry for its id here, its table and every
field are known, every value fits its column, and every row it points to (foreign keys) is here
already or comes in the same batch. Everything else keeps to the row-by-row path, in the order
the rows came, and so does every row of a batch the database refuses (a clash with a unique
field: the same person on two caseloads). What is written is what the row-by-row path writes:
the row, and its ``sync_rows`` entry with each field's clock and hash, none of them "mine".

The foreign keys of a row inserted here were checked before it went in, so a pull whose rows
all went in bulk needs no ``PRAGMA foreign_key_check`` afterwards (``Applier.hold_orphans``
runs it whenever anything took the row-by-row path).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import Column, insert, select
from sqlalchemy.exc import IntegrityError

from sim_desk.records.model import SyncRow
from sim_desk.records.sync.applying import Applier
from sim_desk.records.sync.incoming import Incoming
from sim_desk.records.sync.tables import BY_NAME, blanks_for, decoder, fields_of, value_hash
from sim_desk.records.write_path import recorder_of

#: Rows looked up and inserted together (one savepoint each).
BATCH = 500
#: SQLite takes at most this many values in one ``IN (...)``.
_IN = 500

_decoders: dict[str, dict[str, Callable[[Any], Any]]] = {}


def _decoders_of(table: str) -> dict[str, Callable[[Any], Any]]:
    found = _decoders.get(table)
    if found is None:
        found = _decoders[table] = {c.name: decoder(c) for c in fields_of(table)}
    return found


def apply_snapshots(applier: Applier, rows: Iterable[Incoming]) -> None:
    """Applies ``rows`` (parents first) as ``applier.apply`` would one by one."""
    for table, run in groupby(rows, key=lambda row: row.table):
        group = list(run)
        if table not in BY_NAME:
            for incoming in group:
                applier.apply(incoming)
            continue
        for start in range(0, len(group), BATCH):
            _apply_batch(applier, table, group[start : start + BATCH])


def _apply_batch(applier: Applier, table: str, rows: Sequence[Incoming]) -> None:
    """Runs of new rows go in bulk; any other row, in its place, one by one."""
    prepared = _prepare(applier, table, rows)
    pending: list[tuple[Incoming, dict[str, Any]]] = []
    for incoming, values in zip(rows, prepared, strict=True):
        if values is None:
            _insert(applier, table, pending)
            pending = []
            applier.apply(incoming)
        else:
            pending.append((incoming, values))
    _insert(applier, table, pending)


def _prepare(applier: Applier, table: str, rows: Sequence[Incoming]) -> list[dict[str, Any] | None]:
    """Each row's decoded values where it can go in bulk, else None."""
    session = applier.session
    spec_table = BY_NAME[table].table
    ids = [row.row_id for row in rows]
    known: set[uuid.UUID] = set()
    for start in range(0, len(ids), _IN):
        chunk = ids[start : start + _IN]
        known.update(session.execute(select(SyncRow.id).where(SyncRow.id.in_(chunk))).scalars())
        known.update(
            session.execute(select(spec_table.c.id).where(spec_table.c.id.in_(chunk))).scalars()
        )
    decoders = _decoders_of(table)
    prepared: list[dict[str, Any] | None] = []
    seen: set[uuid.UUID] = set()
    for row in rows:
        values: dict[str, Any] | None = None
        if (
            row.snapshot
            and row.deleted_clock is None
            and row.row_id not in known
            and row.row_id not in seen
            and row.fields
            and all(stamp and name in decoders for name, (_v, stamp) in row.fields.items())
        ):
            try:
                values = {
                    name: None if value is None else decoders[name](value)
                    for name, (value, _s) in row.fields.items()
                }
            except (TypeError, ValueError):
                values = None
        seen.add(row.row_id)
        prepared.append(values)
    _without_missing_parents(applier, spec_table.foreign_keys, rows, prepared)
    return prepared


def _without_missing_parents(
    applier: Applier, foreign_keys: Iterable[Any], rows: Sequence[Incoming], prepared: list[Any]
) -> None:
    """Rows pointing at a row that is not here (nor in this batch) take the row-by-row path,
    which holds them until their parent comes."""
    for fk in foreign_keys:
        name = fk.parent.name
        target: Column[Any] = fk.column
        wanted = {values[name] for values in prepared if values and values.get(name) is not None}
        if not wanted:
            continue
        present: set[Any] = set()
        if target.table is BY_NAME[rows[0].table].table and target.name == "id":
            present.update(row.row_id for row, values in zip(rows, prepared, strict=True) if values)
        missing = list(wanted - present)
        for start in range(0, len(missing), _IN):
            chunk = missing[start : start + _IN]
            present.update(
                applier.session.execute(select(target).where(target.in_(chunk))).scalars()
            )
        for index, values in enumerate(prepared):
            if values and values.get(name) is not None and values[name] not in present:
                prepared[index] = None


def _insert(applier: Applier, table: str, pending: list[tuple[Incoming, dict[str, Any]]]) -> None:
    """One savepoint: the rows, then their ``sync_rows`` entries. Refused: one by one."""
    if not pending:
        return
    session = applier.session
    recorder = recorder_of(session)
    mark = recorder.mark() if recorder is not None else 0
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for incoming, values in pending:
        if applier.fill_blanks:  # as Applier._insert does for an analyst's replica
            values = {**blanks_for(table, set(values)), **values}
        by_columns.setdefault(tuple(values), []).append({"id": incoming.row_id, **values})
    shadows = [
        {
            "id": incoming.row_id,
            "table_name": table,
            "person_id": incoming.person_id,
            "clocks": {name: stamp for name, (_v, stamp) in incoming.fields.items()},
            "hashes": {name: value_hash(value) for name, (value, _s) in incoming.fields.items()},
            "mine": [],
            "deleted": False,
        }
        for incoming, _values in pending
    ]
    spec_table = BY_NAME[table].table
    try:
        with session.begin_nested():
            for parameters in by_columns.values():
                session.execute(insert(spec_table), parameters)
            session.execute(insert(SyncRow.__table__), shadows)
    except IntegrityError:
        if recorder is not None:
            recorder.roll_back_to(mark)
        for incoming, _values in pending:
            applier.apply(incoming)
        return
    applied = applier.applied
    applied.rows += len(pending)
    applied.touched_people.update(
        incoming.person_id for incoming, _v in pending if incoming.person_id is not None
    )
