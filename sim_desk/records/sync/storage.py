"""A snapshot's values straight to what the vault stores, for rows that go in bulk.

A value travels as JSON (``tables``): the row-by-row path decodes it into a Python value
(``tables.decoder``), and SQLAlchemy then turns that into what SQLite stores (the column type's
bind processor). A lead's first sync does that ten million times, so for the common types
(UUIDs, datetimes, dates) the two steps are one here. Each storer accepts and refuses exactly
the values its decoder does (ValueError, TypeError) and gives what the bind processor would
have given; ``tests/records/sync/test_storage.py`` holds them to that for every column.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, NamedTuple

from sqlalchemy import Column, Date, Uuid

from sim_desk.records.model import UTCDateTime
from sim_desk.records.model.sync import compact_clocks
from sim_desk.records.sync.incoming import snapshot_clock, snapshot_values
from sim_desk.records.sync.tables import decoder, fields_of

Storer = Callable[[Any], Any]


#: A UUID as this version writes one (``str(uuid)``): nothing to check beyond the pattern.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_text(value: Any) -> str:
    """SQLAlchemy keeps a UUID on SQLite as its 32 hex digits."""
    if type(value) is str and _CANONICAL_UUID.fullmatch(value):
        return value.replace("-", "")  # (what uuid.UUID(value).hex gives, three times faster)
    return uuid.UUID(str(value)).hex


def _utc_text(value: Any) -> str:
    """SQLite's DATETIME text of the moment, in UTC: ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if type(value) is str and len(value) == 32 and value.endswith("+00:00") and value[19] == ".":
        # As this version writes a moment (UTC, with microseconds): checked, not rebuilt.
        datetime.fromisoformat(value)
        return f"{value[:10]} {value[11:26]}"
    moment = datetime.fromisoformat(str(value))
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("a datetime without a time zone")
    if offset:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def _day_text(value: Any) -> str:
    return date.fromisoformat(str(value)).isoformat()


def storer(column: Column[Any], dialect: Any) -> Storer:
    """What the vault stores for a JSON value of ``column`` other than None."""
    kind = column.type
    if isinstance(kind, Uuid) and dialect.name == "sqlite":
        return _uuid_text
    if isinstance(kind, UTCDateTime) and dialect.name == "sqlite":
        return _utc_text
    if isinstance(kind, Date) and dialect.name == "sqlite":
        return _day_text
    decode = decoder(column)
    process = kind._cached_bind_processor(dialect)
    if process is None:
        return decode
    bound: Callable[[Any], Any] = process
    return lambda value: bound(decode(value))


_storers: dict[tuple[str, str], dict[str, Storer]] = {}


def storers_of(table: str, dialect: Any) -> dict[str, Storer]:
    """Each field of ``table`` with its storer (found once a table)."""
    key = (table, dialect.name)
    found = _storers.get(key)
    if found is None:
        found = _storers[key] = {c.name: storer(c, dialect) for c in fields_of(table)}
    return found


#: Each field's name as a JSON string (the names are this version's own columns).
_quoted: dict[str, str] = {}


def _quote(name: str) -> str:
    found = _quoted.get(name)
    if found is None:
        found = _quoted[name] = encode_basestring(name)
    return found


def _clocks_json(clocks: dict[str, str]) -> str:
    """``json.dumps(compact_clocks(clocks))``, written out directly when every field has the
    same clock (a row made in one change: nearly every row of a first sync)."""
    stamps = set(clocks.values())
    if len(stamps) != 1:
        return json.dumps(compact_clocks(clocks))
    names = ", ".join([_quote(name) for name in clocks])
    return f"[[{encode_basestring(stamps.pop())}, {names}]]"


#: Where the reader of a bulk snapshot leaves a row made ready (a key no server sends).
READY = "_ready"


class Ready(NamedTuple):
    """A snapshot row's values as the vault stores them (``columns`` and ``values`` in the same
    order), and its ``sync_rows`` entry's clocks as JSON: all a row needs to go in bulk that
    the database does not decide. (Tuples: a million are made in a lead's first sync, and
    the values go into an INSERT's parameters as they are.)"""

    columns: tuple[str, ...]
    values: tuple[Any, ...]
    clocks: str

    @property
    def stored(self) -> dict[str, Any]:
        """The values by column."""
        return dict(zip(self.columns, self.values, strict=True))


def made_ready(table: str, row: Mapping[str, Any], dialect: Any) -> Ready | None:
    """``row`` ready to go in bulk, or None where only the row-by-row path can take it (a field
    this version does not know, a value that does not fit its column). Touches no database, so
    a bulk snapshot's reader thread makes its rows ready while the pages before go in."""
    storers = storers_of(table, dialect)
    raw = snapshot_values(row)
    if not raw or not all(name in storers for name in raw):
        return None
    try:
        values = tuple(
            [None if value is None else storers[name](value) for name, value in raw.items()]
        )
    except (TypeError, ValueError, OverflowError):
        return None
    clocks = row.get("clocks") or {}
    return Ready(
        tuple(raw), values, _clocks_json({name: snapshot_clock(clocks, name) for name in raw})
    )
