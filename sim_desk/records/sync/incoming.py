"""What a pull brings, as rows to apply: a change (only the fields it set, each with the
change's clock) or a snapshot row (every field, each with its own clock)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sim_desk.records.sync import clock
from sim_desk.records.sync.tables import ORDER

#: A clock below every real one: a snapshot field the server sent without its clock.
LOWEST = "0"


@dataclass(frozen=True)
class Incoming:
    """One row's values as a change or a snapshot brought them."""

    table: str
    row_id: uuid.UUID
    person_id: uuid.UUID | None
    #: field -> (JSON value, clock string)
    fields: dict[str, tuple[Any, str]]
    deleted_clock: str | None = None
    change_id: uuid.UUID | None = None
    author: uuid.UUID | None = None
    snapshot: bool = False
    #: For a change: the clock of each field's value on the laptop that made it, just before.
    base: dict[str, str] | None = None


def uuid_of(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value  # (a snapshot read by COPY brings UUIDs already)
    return uuid.UUID(str(value))


def _clinical_values(clinical: Mapping[str, Any] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, part in (clinical or {}).items():
        if isinstance(part, Mapping):
            values[name] = part.get("ciphertext") or None
    return values


def from_change(change: Mapping[str, Any]) -> Incoming:
    stamp = change.get("clock") or clock.clock_string(
        int(change["hlc"]),
        uuid.UUID(str(change["change_id"])),
        withdrawal=clock.is_withdrawal(str(change["table"]), change.get("payload")),
    )
    person = uuid_of(change.get("person_id"))
    base = {
        "table": str(change["table"]),
        "row_id": uuid.UUID(str(change["row_id"])),
        "person_id": person,
        "change_id": uuid_of(change.get("change_id")),
        "author": uuid_of(change.get("author")),
    }
    if change.get("op") == "delete":
        return Incoming(fields={}, deleted_clock=stamp, **base)  # type: ignore[arg-type]
    values = {**dict(change.get("payload") or {}), **_clinical_values(change.get("clinical"))}
    values.pop("id", None)
    before = change.get("base")
    return Incoming(
        fields={name: (value, stamp) for name, value in values.items()},
        base={str(k): str(v) for k, v in before.items()} if isinstance(before, Mapping) else None,
        **base,  # type: ignore[arg-type]
    )


def snapshot_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """A snapshot row's fields, clinical text among them (the id is the row's own)."""
    values = {**dict(row.get("payload") or {}), **_clinical_values(row.get("clinical"))}
    values.pop("id", None)
    return values


def snapshot_clock(clocks: Mapping[str, Any], name: str) -> str:
    """The clock a snapshot row gives a field (:data:`LOWEST` where the server sent none)."""
    return str(clocks.get(name) or LOWEST)


def from_snapshot(row: Mapping[str, Any]) -> Incoming:
    clocks = dict(row.get("clocks") or {})
    return Incoming(
        table=str(row["table"]),
        row_id=uuid_of(row["row_id"]),  # type: ignore[arg-type]
        person_id=uuid_of(row.get("person_id")),
        fields={
            name: (value, snapshot_clock(clocks, name))
            for name, value in snapshot_values(row).items()
        },
        deleted_clock=(str(clocks.get("_deleted") or LOWEST) if row.get("deleted") else None),
        snapshot=True,
    )


def snapshot_order(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Parents before children."""
    return sorted(rows, key=lambda row: ORDER.get(str(row["table"]), len(ORDER)))
