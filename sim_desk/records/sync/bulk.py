"""Snapshot rows this laptop has never held, inserted many at a time (a first sync, a person
who became visible): the row-by-row path of ``applying`` costs a savepoint and several
statements a row, and a team lead's first sync brings a million rows.

A row goes in bulk only where the row-by-row path would simply insert it: it came in a
snapshot, it is not a tombstone, there is neither a row nor a ``sync_rows`` entry for its id
here, its table and every field are known, every value fits its column, and every row it points
to (foreign keys) is here already or comes in the same batch. Everything else keeps to the
row-by-row path, in the order the rows came, and so does a row the database refuses (a clash
with a unique field: the same person on two caseloads; found by halving the batch). What is
written is what the row-by-row path writes: the row, and its ``sync_rows`` entry with each
field's clock, none of them "mine"; each field's hash is made when the row is first changed
(``received``).

The foreign keys of a row inserted here were checked before it went in, so a pull whose rows
all went in bulk needs no ``PRAGMA foreign_key_check`` afterwards (``Applier.hold_orphans``
runs it whenever anything took the row-by-row path).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import Column, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sim_desk.records.model import SyncRow
from sim_desk.records.sync import received
from sim_desk.records.sync.applying import Applier
from sim_desk.records.sync.incoming import (
    from_snapshot,
    snapshot_order,
    snapshot_values,
    uuid_of,
)
from sim_desk.records.sync.storage import READY, Ready, made_ready
from sim_desk.records.sync.tables import (
    BY_NAME,
    REPLICATED,
    blanks_for,
    decoder,
    fields_of,
)
from sim_desk.records.vault import store
from sim_desk.records.write_path import recorder_of

#: Rows of one table inserted together, under one savepoint (a whole page of a first sync).
#: SQLite copies each page a savepoint first changes: with 500 rows a savepoint the same
#: index pages were copied a hundred times a page (a lead's first sync 74 -> 65 s).
BATCH = 50_000
#: SQLite takes at most this many values in one ``IN (...)``.
_IN = 500
#: A pull of this many snapshot rows or more (a page of a first sync) is applied with a page
#: cache of LARGE_CACHE_KIB.
LARGE = 2000
LARGE_CACHE_KIB = 256 * 1024

_decoders: dict[str, dict[str, Callable[[Any], Any]]] = {}


def _decoders_of(table: str) -> dict[str, Callable[[Any], Any]]:
    found = _decoders.get(table)
    if found is None:
        found = _decoders[table] = {c.name: decoder(c) for c in fields_of(table)}
    return found


class _New:
    """A snapshot row on its way in bulk: its id and person's as the vault stores them (32 hex
    digits), and its values as the vault stores them (``ready``: so are the parents it names).
    Nothing else is made for it (a million go in during a lead's first sync)."""

    __slots__ = ("_key", "person", "ready", "row", "row_id")

    def __init__(self, row: Mapping[str, Any], row_id: str, person: str | None, ready: Ready):
        self.row = row
        self.row_id = row_id
        self.person = person
        self.ready = ready
        self._key: uuid.UUID | None = None

    def key(self) -> uuid.UUID:
        """The row's id as a UUID (the write path's recorder notes the row and its
        ``sync_rows`` entry by it): made once."""
        if self._key is None:
            self._key = uuid.UUID(int=int(self.row_id, 16))
        return self._key

    def decoded(self, table: str) -> dict[str, Any]:
        """The values as Python objects (for an insert SQLAlchemy completes with defaults)."""
        decoders = _decoders_of(table)
        raw = snapshot_values(self.row)
        return {n: None if v is None else decoders[n](v) for n, v in raw.items()}


def _hex_ids(row: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """A snapshot row's id and its person's as 32 hex digits (None: not an id)."""
    hex_ids = getattr(row, "hex_ids", None)  # a bulk snapshot reader's row has them ready
    if hex_ids is not None:
        return hex_ids  # type: ignore[no-any-return]
    row_id, person = uuid_of(row["row_id"]), uuid_of(row.get("person_id"))
    return (None if row_id is None else row_id.hex, None if person is None else person.hex)


#: Tables some replicated row points to (their ids are remembered while a snapshot goes in).
_PARENTS = frozenset(fk.column.table.name for spec in REPLICATED for fk in spec.table.foreign_keys)


@dataclass
class SnapshotRun:
    """What the pages of one bulk snapshot learn as they go in, handed from page to page.

    ``empty``: the tables that held no row, in a replica with no ``sync_rows`` entry at all,
    when the snapshot began (a first sync): the server sends each row once, so no row of
    theirs can be here already and none is looked for. ``inserted``: the ids (as integers)
    that went in bulk, by table, for the tables rows point to: a row's parent found there is
    not looked for either. Only the laptop's own new records (new random ids) go in beside.
    """

    empty: frozenset[str] | None = None
    inserted: dict[str, set[int]] = field(default_factory=dict)

    def begin(self, session: Session) -> None:
        if self.empty is not None:
            return
        if session.execute(select(SyncRow.id).limit(1)).first() is not None:
            self.empty = frozenset()
            return
        self.empty = frozenset(
            spec.name
            for spec in REPLICATED
            if session.execute(select(spec.table.c.id).limit(1)).first() is None
        )


#: Where a page of a bulk snapshot carries its :class:`SnapshotRun` (a key no server sends).
SNAPSHOT_RUN = "_snapshot_run"


def apply_snapshots_of(applier: Applier, answer: Mapping[str, Any]) -> None:
    """The snapshot rows of one pull's answer (or one page of a bulk snapshot)."""
    snapshots = snapshot_order(answer.get("snapshots") or ())
    run = answer.get(SNAPSHOT_RUN)
    run = run if isinstance(run, SnapshotRun) else None
    apply_snapshots(applier, snapshots, more=bool(answer.get("more")), run=run)


def apply_snapshots(
    applier: Applier,
    rows: Sequence[Mapping[str, Any]],
    *,
    more: bool = False,
    run: SnapshotRun | None = None,
) -> None:
    """Applies snapshot rows (parents first) as ``applier.apply(from_snapshot(row))`` would,
    one by one. ``more``: further pages of the same snapshot follow (a first sync); ``run``
    is handed from each page to the next."""
    session = applier.session
    run = run if run is not None else SnapshotRun()
    run.begin(session)
    if len(rows) >= LARGE:
        # Each row goes into several indexes spread over the whole table: with those pages
        # at hand, far fewer are decrypted, encrypted and written again. Kept for the next
        # page (the pool hands the same connection back), then the usual size again.
        session.execute(text(f"PRAGMA cache_size = -{LARGE_CACHE_KIB}"))
    try:
        _apply_all(applier, rows, run)
    finally:
        if not more:
            session.execute(text(f"PRAGMA cache_size = -{store.CACHE_KIB}"))


def _apply_all(applier: Applier, rows: Sequence[Mapping[str, Any]], run: SnapshotRun) -> None:
    for table, same_table in groupby(rows, key=lambda row: str(row["table"])):
        group = list(same_table)
        if table not in BY_NAME:
            for row in group:
                applier.apply(from_snapshot(row))
            continue
        for start in range(0, len(group), BATCH):
            _apply_batch(applier, table, group[start : start + BATCH], run)


def _apply_batch(
    applier: Applier, table: str, rows: Sequence[Mapping[str, Any]], run: SnapshotRun
) -> None:
    """Runs of new rows go in bulk; any other row, in its place, one by one."""
    pending: list[_New] = []
    for row, new in zip(rows, _prepare(applier, table, rows, run), strict=True):
        if new is None:
            _insert(applier, table, pending, run)
            pending = []
            applier.apply(from_snapshot(row))
        else:
            pending.append(new)
    _insert(applier, table, pending, run)


def _prepare(
    applier: Applier, table: str, rows: Sequence[Mapping[str, Any]], run: SnapshotRun
) -> list[_New | None]:
    """Each row ready to go in bulk, or None where it takes the row-by-row path."""
    session = applier.session
    ids = [_hex_ids(row) for row in rows]
    known: set[str | None] = set()
    if not (run.empty and table in run.empty):
        looked_for = [row_id for row_id, _ in ids if row_id is not None]
        for start in range(0, len(looked_for), _IN):
            chunk = looked_for[start : start + _IN]
            marks = ", ".join("?" * len(chunk))
            for name in ("sync_rows", table):  # (names from this version's own schema)
                known.update(
                    found
                    for (found,) in session.connection().exec_driver_sql(
                        f'SELECT "id" FROM "{name}" WHERE "id" IN ({marks})', tuple(chunk)
                    )
                )
    dialect = session.get_bind().dialect
    prepared: list[_New | None] = []
    for row, (row_id, person) in zip(rows, ids, strict=True):
        new = None
        if row_id is not None and row_id not in known and not row.get("deleted"):
            # Made ready by the reader of a bulk snapshot, or here.
            ready = row[READY] if READY in row else made_ready(table, row, dialect)
            if ready is not None:
                new = _New(row, row_id, person, ready)
        known.add(row_id)  # the same row twice: the second time, one by one
        prepared.append(new)
    _without_missing_parents(applier, table, prepared, run)
    return prepared


_positions: dict[tuple[tuple[str, ...], str], int] = {}


def _value_in(ready: Ready, name: str) -> Any:
    """The stored value of field ``name`` (None if the row does not give it)."""
    key = (ready.columns, name)
    at = _positions.get(key)
    if at is None:
        at = _positions[key] = ready.columns.index(name) if name in ready.columns else -1
    return None if at < 0 else ready.values[at]


def _without_missing_parents(
    applier: Applier, table: str, prepared: list[_New | None], run: SnapshotRun
) -> None:
    """Rows pointing at a row that is not here (nor in this batch) take the row-by-row path,
    which holds them until their parent comes."""
    spec_table = BY_NAME[table].table
    for fk in spec_table.foreign_keys:
        name = fk.parent.name
        target: Column[Any] = fk.column
        # Every key a replicated row points by is a UUID: compared here as stored (hex).
        pointed = [_value_in(new.ready, name) if new else None for new in prepared]
        wanted = {parent for parent in pointed if parent is not None}
        if not wanted:
            continue
        present: set[str] = set()
        if target.table is spec_table and target.name == "id":
            present.update(new.row_id for new in prepared if new)
        if target.name == "id":
            earlier = run.inserted.get(str(target.table.name), set())
            present.update(parent for parent in wanted if int(parent, 16) in earlier)
        missing = [uuid.UUID(hex=parent) for parent in wanted - present]
        for start in range(0, len(missing), _IN):
            chunk = missing[start : start + _IN]
            found = select(func.count()).select_from(target.table).where(target.in_(chunk))
            if applier.session.execute(found).scalar_one() == len(chunk):
                present.update(parent.hex for parent in chunk)  # (all here: the usual case)
            else:
                present.update(
                    parent.hex
                    for parent in applier.session.execute(
                        select(target).where(target.in_(chunk))
                    ).scalars()
                )
        for index, parent in enumerate(pointed):
            if parent is not None and parent not in present:
                prepared[index] = None


def _insert(applier: Applier, table: str, pending: list[_New], run: SnapshotRun) -> None:
    """One savepoint: the rows, then their ``sync_rows`` entries. Refused: each half again,
    down to the rows refused alone, which go one by one."""
    if not pending:
        return
    session = applier.session
    recorder = recorder_of(session)
    mark = recorder.mark() if recorder is not None else 0
    by_columns: dict[tuple[str, ...], list[_New]] = {}
    for new in pending:
        if applier.fill_blanks:  # as Applier._insert does for an analyst's replica
            stored = {**blanks_for(table, set(new.ready.columns)), **new.ready.stored}
            new.ready = new.ready._replace(columns=tuple(stored), values=tuple(stored.values()))
        by_columns.setdefault(new.ready.columns, []).append(new)
    spec_table = BY_NAME[table].table
    try:
        with session.begin_nested():
            for rows in by_columns.values():
                _insert_many(session, spec_table, rows)
            _insert_shadows(session, table, pending)
    except IntegrityError:
        if recorder is not None:
            recorder.roll_back_to(mark)
        if len(pending) == 1:
            applier.apply(from_snapshot(pending[0].row))
            return
        # Halves until the rows the database refuses are found (a few in a batch at most),
        # so that one clash does not send a whole batch the slow way.
        half = len(pending) // 2
        _insert(applier, table, pending[:half], run)
        _insert(applier, table, pending[half:], run)
        return
    if table in _PARENTS:
        run.inserted.setdefault(table, set()).update(int(new.row_id, 16) for new in pending)
    applied = applier.applied
    applied.rows += len(pending)
    people = {new.person for new in pending}
    applied.touched_people.update(uuid.UUID(hex=person) for person in people if person)


_SHADOW_SQL = (
    'INSERT INTO "sync_rows" ("id", "table_name", "person_id", "clocks", "hashes", "mine",'
    f" \"deleted\") VALUES (?, ?, ?, ?, '{received.NOT_MADE}', '[]', 0)"
)


def _insert_shadows(session: Session, table: str, pending: list[_New]) -> None:
    """The ``sync_rows`` entries of ``pending``, none of their fields "mine", as the ORM
    would store them (ids as 32 hex digits, JSON as ``json.dumps`` writes it), made here
    directly: a million of them in a lead's first sync. The values' fingerprints are made
    when a row is first changed here (``received``): until then they are the values."""
    parameters = [(new.row_id, table, new.person, new.ready.clocks) for new in pending]
    session.connection().exec_driver_sql(_SHADOW_SQL, parameters)
    recorder = recorder_of(session)
    if recorder is not None:
        recorder.note_inserts("sync_rows", [new.key() for new in pending])


class _Statement:
    """An INSERT of given columns, its values given as the vault stores them: a Core insert
    through the session spends three quarters of a first sync's insert time working out each
    column's bind processor again for every row."""

    def __init__(self, table: Table, columns: tuple[str, ...]) -> None:
        names = ", ".join(f'"{name}"' for name in ("id", *columns))
        marks = ", ".join("?" for _ in range(len(columns) + 1))
        # Table and column names come from this version's own schema, never from the server.
        self.sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
        # Columns left out that have a default in Python (a Core insert would fill them in).
        self.defaults_missing = any(
            c.default is not None or c.server_default is not None
            for c in table.columns
            if c.name != "id" and c.name not in columns
        )


_statements: dict[tuple[str, tuple[str, ...]], _Statement] = {}


def _insert_many(session: Session, table: Table, rows: list[_New]) -> None:
    """``rows`` (all with the same fields) into ``table``, noted by the write path's recorder
    as the Core insert would be."""
    if not rows:
        return
    columns = rows[0].ready.columns
    key = (str(table.name), columns)
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = _Statement(table, columns)
    name = str(table.name)
    if statement.defaults_missing:  # let SQLAlchemy fill the defaults in (blanks kept)
        session.execute(
            insert(table),
            [{"id": new.key(), **new.ready.stored, **new.decoded(name)} for new in rows],
        )
        return
    parameters = [(new.row_id, *new.ready.values) for new in rows]
    session.connection().exec_driver_sql(statement.sql, parameters)
    recorder = recorder_of(session)
    if recorder is not None:
        recorder.note_inserts(name, [new.key() for new in rows])


def preload(applier: Applier, row_ids: Sequence[Any]) -> list[SyncRow]:
    """The ``sync_rows`` entries of these rows, read in a few queries: ``Applier.apply`` then
    finds each in the session (one query and one flush a change, otherwise). Keep the list
    while applying (the session holds its objects weakly)."""
    ids = list({uuid_of(row_id) for row_id in row_ids} - {None})
    found: list[SyncRow] = []
    for start in range(0, len(ids), _IN):
        chunk = ids[start : start + _IN]
        found += applier.session.execute(select(SyncRow).where(SyncRow.id.in_(chunk))).scalars()
    return found
