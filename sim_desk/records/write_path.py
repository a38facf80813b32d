"""The one write path: every row a use case writes is seen here, on its way into the database.

Use cases write in a session from :meth:`UnlockedVault.write` (directly or inside a batch). That
session carries a :class:`WriteRecorder`, which notes each row it writes, whichever way it is
written:

* ORM objects added, changed or deleted, at each flush (``after_flush``);
* SQLAlchemy Core ``insert()``, ``update()`` and ``delete()`` run through the session
  (``do_orm_execute``): an insert's rows from its parameters, an update's or delete's by selecting
  the ids its WHERE clause matches, in the same transaction, just before it runs.

Just before rows that exist are changed (at each flush, and before each UPDATE statement runs),
its ``before_change`` observers are told which, while the database still holds what they were
(``sync.received`` makes a row's fingerprints there).

Just before the transaction commits, the unit of work hands what was recorded to its observers
(:attr:`UnlockedVault.write_observers`), in the transaction, so that whatever they write (the sync
outbox, for one) commits with the change or not at all.

Nothing writes around it: a textual INSERT, UPDATE or DELETE through a write session is refused,
and so is any such statement on a vault connection outside a write session (an engine-level check),
except while the schema is migrated or a vault is created (:func:`unrecorded_writes`).
``tests/records/test_write_path.py`` runs every writing use case and import and compares what was
recorded with what changed in the database.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, Table, event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql import Delete, Insert, Update
from sqlalchemy.sql.elements import TextClause

Op = Literal["insert", "update", "delete"]
#: Told (session, table, ids) just before rows that exist are changed (see WriteRecorder).
BeforeChange = Callable[[Session, str, list[Any]], None]

#: Where a write session keeps its recorder.
RECORDER = "write_recorder"

_DML = re.compile(r"^\s*(insert|update|delete|replace)\b", re.IGNORECASE)
_local = threading.local()


class WriteOutsideThePath(RuntimeError):
    """A bug: something wrote to the vault around the unit of work."""


@dataclass(frozen=True)
class RowWrite:
    """One row written: its table, its id and what happened to it."""

    table: str
    row_id: uuid.UUID
    op: Op


class WriteRecorder:
    """The rows one write transaction has written, in the order they were first written (a row
    written twice is listed once: an insert stays an insert, and one that is deleted again in
    the same transaction is not listed). Savepoints that roll back take their rows with them."""

    def __init__(self, before_change: Sequence[BeforeChange] = ()) -> None:
        self._rows: dict[tuple[str, uuid.UUID], Op] = {}
        self._undo: list[tuple[tuple[str, uuid.UUID], Op | None]] = []
        #: Called with (session, table, ids) just before rows that exist are changed, while
        #: the database still holds what they were.
        self.before_change = tuple(before_change)

    def note(self, table: str, row_id: Any, op: Op) -> None:
        key = (table, row_id if isinstance(row_id, uuid.UUID) else uuid.UUID(str(row_id)))
        earlier = self._rows.get(key)
        if earlier == "insert" and op == "update":
            return  # still new to anyone outside this transaction
        self._undo.append((key, earlier))
        if earlier == "insert" and op == "delete":
            del self._rows[key]  # came and went inside the transaction
        else:
            self._rows[key] = op

    def mark(self) -> int:
        """Where a savepoint starts, for :meth:`roll_back_to`."""
        return len(self._undo)

    def roll_back_to(self, mark: int) -> None:
        """Forgets what was recorded since ``mark`` (its savepoint rolled back)."""
        while len(self._undo) > mark:
            key, earlier = self._undo.pop()
            if earlier is None:
                self._rows.pop(key, None)
            else:
                self._rows[key] = earlier

    def note_inserts(self, table: str, row_ids: Sequence[uuid.UUID]) -> None:
        """``note(table, row_id, "insert")`` for each of many rows at once (a bulk insert's)."""
        keys = [(table, row_id) for row_id in row_ids]
        if not self._rows.keys().isdisjoint(keys):  # (written before in this transaction)
            for row_id in row_ids:
                self.note(table, row_id, "insert")
            return
        self._undo.extend((key, None) for key in keys)
        self._rows.update(dict.fromkeys(keys, "insert"))

    @property
    def rows(self) -> Sequence[RowWrite]:
        return _Written(dict(self._rows))


class _Written(Sequence[RowWrite]):
    """The rows a recorder holds, each made a :class:`RowWrite` only when read: a first sync
    writes a million rows, and the outbox reads none of those a pull writes."""

    def __init__(self, rows: dict[tuple[str, uuid.UUID], Op]) -> None:
        self._rows = rows
        self._listed: list[RowWrite] | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[RowWrite]:
        return (RowWrite(table, row_id, op) for (table, row_id), op in self._rows.items())

    def __getitem__(self, index: Any) -> Any:
        if self._listed is None:
            self._listed = list(self)
        return self._listed[index]


def recorder_of(session: Session) -> WriteRecorder | None:
    return session.info.get(RECORDER)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    recorder = recorder_of(session)
    if recorder is None or not recorder.before_change:
        return
    changing: dict[str, list[Any]] = {}
    for obj in session.dirty:
        if session.is_modified(obj):
            state = inspect(obj)
            if state.identity is not None:
                changing.setdefault(str(state.mapper.local_table.name), []).append(
                    state.identity[0]
                )
    for table, ids in changing.items():
        for observer in recorder.before_change:
            observer(session, table, ids)


def _after_flush(session: Session, _context: Any) -> None:
    recorder = recorder_of(session)
    if recorder is None:
        return
    for obj, op in (
        *((o, "insert") for o in session.new),
        *((o, "update") for o in session.dirty if session.is_modified(o)),
        *((o, "delete") for o in session.deleted),
    ):
        state = inspect(obj)
        table = state.mapper.local_table
        key = state.identity or state.mapper.primary_key_from_instance(obj)
        recorder.note(str(table.name), key[0], op)  # type: ignore[arg-type]


def _table_of(statement: Insert | Update | Delete) -> Table:
    table = statement.table
    if isinstance(table, Table):
        return table
    entity = getattr(table, "entity_namespace", None) or getattr(table, "class_", None)
    mapped = inspect(entity).local_table if entity is not None else None
    if not isinstance(mapped, Table):
        raise WriteOutsideThePath(f"cannot tell which table {statement!r} writes")
    return mapped


def _do_orm_execute(state: ORMExecuteState) -> None:
    session = state.session
    recorder = recorder_of(session)
    if recorder is None:
        return
    statement = state.statement
    if isinstance(statement, TextClause):
        if _DML.match(str(statement)):
            raise WriteOutsideThePath("textual INSERT/UPDATE/DELETE bypasses the write path")
        return
    if isinstance(statement, Insert):
        table = _table_of(statement)
        if statement.select is not None:
            raise WriteOutsideThePath("INSERT ... SELECT cannot be recorded row by row")
        params = state.parameters
        rows: list[Any] = list(params) if isinstance(params, list) else [params] if params else []
        ids: list[Any]
        if rows:
            ids = [row.get("id") for row in rows]
        else:  # .values(...) given on the statement itself, one row or several
            compiled = statement.compile().params
            ids = [v for k, v in compiled.items() if k == "id" or re.fullmatch(r"id_m\d+", k)]
        if not ids or any(row_id is None for row_id in ids):
            raise WriteOutsideThePath(
                f"an insert into {table.name} must give each row its id, so it can be recorded"
            )
        for row_id in ids:
            recorder.note(str(table.name), row_id, "insert")
    elif isinstance(statement, Update | Delete):
        table = _table_of(statement)
        matching = select(table.c.id)
        if statement.whereclause is not None:
            matching = matching.where(statement.whereclause)
        op: Op = "update" if isinstance(statement, Update) else "delete"
        if isinstance(state.parameters, list):  # executemany: one WHERE per parameter set
            raise WriteOutsideThePath("record an UPDATE or DELETE one statement at a time")
        ids = list(session.execute(matching, state.parameters or {}).scalars())
        for row_id in ids:
            recorder.note(str(table.name), row_id, op)
        if op == "update":
            for observer in recorder.before_change:
                observer(session, str(table.name), ids)


def record_writes(factory: sessionmaker[Session]) -> None:
    """Sessions from ``factory`` record what they write when they carry a recorder."""
    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "do_orm_execute", _do_orm_execute)


@contextmanager
def recording(
    session: Session, before_change: Sequence[BeforeChange] = ()
) -> Iterator[WriteRecorder]:
    """Marks ``session`` as the write path for as long as the block runs."""
    recorder = WriteRecorder(before_change)
    session.info[RECORDER] = recorder
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        yield recorder
    finally:
        _local.depth = depth
        session.info.pop(RECORDER, None)


@contextmanager
def unrecorded_writes() -> Iterator[None]:
    """Lets this thread write outside the unit of work: only for migrating the schema and for
    building a new vault, which are not changes to records anybody shares."""
    depth = getattr(_local, "unrecorded", 0)
    _local.unrecorded = depth + 1
    try:
        yield
    finally:
        _local.unrecorded = depth


_TARGET = re.compile(
    r"^\s*(?:insert|replace)(?:\s+or\s+\w+)?\s+into\s+\"?(\w+)|"
    r"^\s*update(?:\s+or\s+\w+)?\s+\"?(\w+)|^\s*delete\s+from\s+\"?(\w+)",
    re.IGNORECASE,
)


def guard(engine: Engine) -> None:
    """Refuses INSERT, UPDATE and DELETE on ``engine`` outside a recording write session.

    Temporary tables are scratch space for a query (the outcome windows, say), not records:
    writing them is allowed anywhere.
    """
    scratch: set[str] = set()

    @event.listens_for(engine, "before_cursor_execute")
    def _check(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if not _DML.match(statement):
            return
        if getattr(_local, "depth", 0) or getattr(_local, "unrecorded", 0):
            return
        target = _TARGET.match(statement)
        name = next((g for g in target.groups() if g), None) if target else None
        if name is not None and name not in scratch:
            found = cursor.connection.execute(
                "SELECT 1 FROM sqlite_temp_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
            if found:
                scratch.add(name)
        if name in scratch:
            return
        raise WriteOutsideThePath(
            "a write to the vault outside UnlockedVault.write(): use a records use case"
        )
