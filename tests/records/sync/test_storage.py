"""A bulk snapshot's storers give what the row-by-row path stores, and refuse what it refuses.

The row-by-row path decodes a JSON value (``tables.decoder``) and SQLAlchemy's bind processor
turns it into what SQLite keeps; ``storage.storer`` does both at once. For every replicated
column, every value here (and hypothesis's) must come out the same both ways, or be refused
both ways: a storer that stored a datetime an hour off, or took a value the decoder refuses,
would put into a lead's replica what no other path puts there.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column
from sqlalchemy.dialects import sqlite

from sim_desk.records.sync import storage
from sim_desk.records.sync.storage import made_ready, storer
from sim_desk.records.sync.tables import REPLICATED, decoder, fields_of

DIALECT = sqlite.dialect()
COLUMNS = [column for spec in REPLICATED for column in fields_of(spec.name)]
REFUSED = (TypeError, ValueError, OverflowError)

SAMPLES: list[Any] = [
    # UUIDs, in the forms a server might send
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "0F8FAD5BD9CB469FA16570867728950E",
    "{0f8fad5b-d9cb-469f-a165-70867728950e}",
    "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
    "0f8fad5b-d9cb-469f-a165-70867728950",
    "0f8fad5b-d9cb-469f-a165-70867728950g",  # the pattern's length, not its digits
    "0f8fad5b-d9cb-469f-a165-70867728950e\n",
    "0F8FAD5B-D9CB-469F-A165-70867728950E",
    # moments: UTC, offsets either way, no zone, far past and future, microseconds, "Z"
    "2026-03-29T00:59:59.999999+00:00",
    "2026-03-29T01:30:00+01:00",
    "2026-10-25T01:30:00-05:30",
    "2026-10-25T01:30:00Z",
    "2026-10-25T01:30:00",
    "2026-10-25 01:30:00+00:00",
    "0001-01-01T00:30:00+01:00",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59.999999+00:00",
    "9999-12-31T23:59:59-01:00",
    "0999-05-06T07:08:09.5+00:00",
    # the length and shape of the quick path for UTC, and not a moment
    "2026-02-30T10:00:00.123456+00:00",
    "2026-02-28T24:00:00.123456+00:00",
    "2026-02-28T10:00:00.12345x+00:00",
    "2026-02-28X10:00:00.123456+00:00",
    "2026-02-28 10:00:00.123456+00:00",
    "2026-02-28T10:00:00,123456+00:00",
    "2026-02-28T10:00:00.1234+00:00:00",
    # days
    "2026-02-28",
    "2026-02-29",
    "0001-01-01",
    "20260228",
    # everything else a field might hold
    "",
    "text in any script: Zoë, 王秀英, Ал-Фарабі",
    "dGhlIGNpcGhlcnRleHQ=",
    "not base64!",
    True,
    False,
    0,
    -7,
    2**40,
    1.5,
    ["a", 1],
    {"shares": ["phone"]},
]


def _both(column: Column[Any], value: Any) -> tuple[str, Any, str, Any]:
    """(outcome, result) of the row-by-row path, then of the storer."""
    process = column.type._cached_bind_processor(DIALECT)
    try:
        decoded = decoder(column)(value)
        expected = ("stored", decoded if process is None else process(decoded))
    except REFUSED as refused:
        expected = ("refused", type(refused).__name__)
    try:
        got = ("stored", storer(column, DIALECT)(value))
    except REFUSED as refused:
        got = ("refused", type(refused).__name__)
    return (*expected, *got)


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: json.dumps(v)[:40])
def test_every_column_stores_a_value_as_the_row_by_row_path_does(value: Any) -> None:
    for column in COLUMNS:
        was, expected, now, got = _both(column, value)
        assert now == was, (column, value, expected, got)
        if was == "stored":
            assert got == expected and type(got) is type(expected), (column, value)


_moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
_offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(moment=_moments, offset=_offsets)
def test_a_moment_in_any_time_zone_is_stored_in_utc_as_sqlalchemy_would(
    moment: datetime, offset: timezone
) -> None:
    text = moment.astimezone(offset).isoformat()
    for column in COLUMNS:
        was, expected, now, got = _both(column, text)
        assert (was, expected) == (now, got), (column, text)


@given(value=st.uuids().map(str) | st.text(max_size=40) | st.dates().map(str))
def test_any_text_is_stored_or_refused_as_the_row_by_row_path_would(value: str) -> None:
    for column in COLUMNS:
        was, expected, now, got = _both(column, value)
        assert (was, expected) == (now, got), (column, value)


def test_a_row_that_cannot_go_in_bulk_is_not_made_ready() -> None:
    contact = uuid.uuid4()
    row = {
        "table": "contacts",
        "row_id": contact,
        "person_id": uuid.uuid4(),
        "payload": {"place": "Park", "started_at": "2026-01-02T10:00:00+00:00"},
        "clocks": {"place": "5:0:a", "started_at": "4:0:b"},
    }
    ready = made_ready("contacts", row, DIALECT)
    assert ready is not None
    assert ready.stored == {"place": "Park", "started_at": "2026-01-02 10:00:00.000000"}
    assert json.loads(ready.clocks) == [["5:0:a", "place"], ["4:0:b", "started_at"]]
    # A field this version does not know, and a moment without a time zone: row by row.
    unknown = {**row, "payload": {**row["payload"], "mood_score": 3}}
    naive = {**row, "payload": {**row["payload"], "started_at": "2026-01-02T10:00:00"}}
    assert made_ready("contacts", unknown, DIALECT) is None
    assert made_ready("contacts", naive, DIALECT) is None


def test_one_clock_for_every_field_is_written_as_compact_clocks_would_write_it() -> None:
    clocks = {"place": "9:0:c", "started_at": "9:0:c", "shared_note": "9:0:c"}
    assert storage._clocks_json(clocks) == json.dumps(
        [["9:0:c", "place", "started_at", "shared_note"]]
    )
    odd = {"place": 'a "quoted" \\ clock\n'}
    assert json.loads(storage._clocks_json(odd)) == [['a "quoted" \\ clock\n', "place"]]
