"""Which tables a team server replicates, how each row finds its person, and how values travel.

A value travels as JSON: UUIDs, dates and datetimes as ISO text (datetimes in UTC), everything
else as it is. Clinician-only ciphertext (:data:`CLINICAL_FIELDS`) never travels in the shared
payload: it goes in a change's clinical part, which the server gives to clinical devices only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Date, Integer, LargeBinary, String, Table, Uuid

from sim_desk.records.model import Base, UTCDateTime
from sim_desk.records.sealed_columns import SEALED_COLUMNS


@dataclass(frozen=True)
class Replicated:
    """A replicated table: its parent (the row it belongs to) and which column points there."""

    name: str
    parent: str | None = None
    parent_key: str | None = None

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.name]


#: In the order a snapshot is applied: each table after the one its rows point to.
REPLICATED: tuple[Replicated, ...] = (
    Replicated("pairs"),
    Replicated("people"),
    Replicated("person_status_changes", "people", "person_id"),
    Replicated("key_contacts", "people", "person_id"),
    Replicated("consents", "people", "person_id"),
    Replicated("support_partners", "people", "person_id"),
    Replicated("support_partner_revisions", "support_partners", "partner_id"),
    Replicated("visit_plans", "people", "person_id"),
    Replicated("planned_visits", "people", "person_id"),
    Replicated("contacts", "people", "person_id"),
    Replicated("contact_revisions", "contacts", "contact_id"),
    Replicated("incidents", "people", "person_id"),
    Replicated("incident_revisions", "incidents", "incident_id"),
    Replicated("s136_episodes", "incidents", "incident_id"),
    Replicated("places_of_safety", "s136_episodes", "episode_id"),
    Replicated("baseline_counts", "people", "person_id"),
    Replicated("baseline_count_revisions", "baseline_counts", "baseline_count_id"),
    Replicated("disclosures", "people", "person_id"),
    Replicated("onward_referrals", "people", "person_id"),
    Replicated("referral_status_changes", "onward_referrals", "referral_id"),
    Replicated("referral_revisions", "onward_referrals", "referral_id"),
    Replicated("handover_plans", "people", "person_id"),
    Replicated("handover_plan_revisions", "handover_plans", "plan_id"),
)
BY_NAME: dict[str, Replicated] = {spec.name: spec for spec in REPLICATED}
ORDER: dict[str, int] = {spec.name: index for index, spec in enumerate(REPLICATED)}

#: Clinician-only ciphertext, by table.
CLINICAL_FIELDS: dict[str, frozenset[str]] = {
    table: frozenset(s.name for s in SEALED_COLUMNS if s.model.__tablename__ == table)
    for table in dict.fromkeys(s.model.__tablename__ for s in SEALED_COLUMNS)
}

#: Fields that mean something only together: a change to any of them carries them all, so
#: they share one clock and win or lose together.
FIELD_GROUPS: dict[str, tuple[frozenset[str], ...]] = {
    # A note and the notes it replaced: one clinician's amendment wins (or loses) whole.
    "contacts": (frozenset({"clinical_note", "clinical_history"}),),
    "people": (frozenset({"status", "closed_on", "exit_reason", "enrolled_on"}),),
    "planned_visits": (frozenset({"status", "status_reason", "rescheduled_to_id"}),),
    "onward_referrals": (frozenset({"status"}),),
}


#: When and by whom a row was saved, and revision counters: they follow the fields that
#: changed, so another laptop replacing them is never news to anyone.
BOOKKEEPING = frozenset({"created_at", "updated_at", "created_by", "revision"})


def fields_of(name: str) -> list[Column[Any]]:
    """The columns a change carries (all but the id, which is the change's row id)."""
    return [column for column in BY_NAME[name].table.columns if column.name != "id"]


def encode(column: Column[Any], value: Any) -> Any:
    """A column's value as JSON."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, Uuid):
        return str(value)
    if isinstance(kind, UTCDateTime):
        return value.astimezone(UTC).isoformat()
    if isinstance(kind, Date):
        return value.isoformat()
    if isinstance(kind, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    return value


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("a datetime without a time zone")
    return moment


def _day(value: Any) -> date:
    return date.fromisoformat(str(value))


def _bytes(value: Any) -> bytes:
    return base64.b64decode(str(value), validate=True)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a boolean")
    return value


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not a whole number")
    if not -(1 << 63) <= value < 1 << 63:  # SQLite's INTEGER (it would refuse it mid-pull)
        raise ValueError("a whole number beyond 64 bits")
    return value


def _as_is(value: Any) -> Any:
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


_DECODERS: dict[Column[Any], Callable[[Any], Any]] = {}


def decoder(column: Column[Any]) -> Callable[[Any], Any]:
    """How :func:`decode` reads a value for ``column`` other than None (found once a column)."""
    found = _DECODERS.get(column)
    if found is None:
        kind = column.type
        if isinstance(kind, Uuid):
            found = _uuid
        elif isinstance(kind, UTCDateTime):
            found = _moment
        elif isinstance(kind, Date):
            found = _day
        elif isinstance(kind, LargeBinary):
            found = _bytes
        elif isinstance(kind, Boolean):
            found = _boolean
        elif isinstance(kind, Integer):
            found = _whole
        elif isinstance(kind, JSON):
            found = _as_is
        else:
            found = _text
        _DECODERS[column] = found
    return found


def decode(column: Column[Any], value: Any) -> Any:
    """A value from JSON, for ``column``; ValueError or TypeError when it does not fit."""
    if value is None:
        return None
    return decoder(column)(value)


#: The JSON text ``json.dumps`` writes for these.
_LITERALS = {None: "null", True: "true", False: "false"}


@lru_cache(maxsize=1 << 16, typed=True)
def _scalar_hash(value: str | int | None) -> str:
    if isinstance(value, str):
        text = encode_basestring(value)  # json.dumps(value, ensure_ascii=False), without the rest
    elif value is None or isinstance(value, bool):
        text = _LITERALS[value]
    else:
        text = int.__repr__(value)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def value_hash(value: Any) -> str:
    """A short fingerprint of an encoded value, to tell whether a local write changed it."""
    if value is None or type(value) in (str, int, bool):
        return _scalar_hash(value)  # the same text as below; codes, ids and flags remembered
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def encoded_row(name: str, row: Mapping[Any, Any]) -> dict[str, Any]:
    """Every field of a row (a mapping of column name to value) as JSON."""
    return {column.name: encode(column, row[column.name]) for column in fields_of(name)}


def groups_touching(name: str, changed: set[str]) -> set[str]:
    """``changed`` and every field that belongs together with one of them."""
    grown = set(changed)
    for group in FIELD_GROUPS.get(name, ()):
        if grown & group:
            grown |= group
    return grown


def blanks_for(name: str, present: set[str]) -> dict[str, str]:
    """Empty text for the required text fields a row arrived without: an analyst's replica
    receives people without their names (DESIGN §11), and the row must still be kept."""
    return {
        column.name: ""
        for column in fields_of(name)
        if column.name not in present
        and not column.nullable
        and column.default is None
        and column.server_default is None
        and isinstance(column.type, String)
    }
