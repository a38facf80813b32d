"""What a device says to the team server: hello, push, pull, and a lead's team management.

Thin wrappers over the server's functions (``sim.hello``, ``sim.push``, ...). They are the only
SQL a device ever runs; the server decides what this device may see and do. The sync engine
(part 2) builds on :func:`push` and :func:`pull`.

A change is a JSON object::

    {"change_id": UUID, "table": "contacts", "row_id": UUID, "op": "upsert" | "delete",
     "hlc": int, "payload": {...row...}, "clinical": {"clinical_note": {"ciphertext": base64,
     "epoch": int}}}

``hlc`` is a hybrid-logical-clock time: milliseconds since 1970 shifted left 16 bits, plus a
counter. Push answers each change, in order, with ``accepted`` (and its ``seq``), ``duplicate``
(already accepted from this device: retries are safe) or ``refused`` with a code:
``invalid``, ``unknown_table``, ``clock_ahead`` or ``not_permitted``. ``not_permitted`` is all
a device learns about rows it may not see: it does not say whether they exist.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sim_desk.records.team.device import DeviceCredential
from sim_desk.teamserver.connection import ServerAddress, connect
from sim_desk.teamserver.errors import NotJoined, ServerError, ServerRefused, ServerUnreachable

MAX_PUSH = 500
REFUSAL_CODES = ("invalid", "unknown_table", "clock_ahead", "not_permitted")


def hlc_now(counter: int = 0) -> int:
    """A hybrid-logical-clock time for now (the sync engine keeps the counter; part 2)."""
    return (time.time_ns() // 1_000_000) << 16 | (counter & 0xFFFF)


def change(
    table: str,
    row_id: uuid.UUID,
    payload: Mapping[str, Any] | None,
    *,
    op: str = "upsert",
    hlc: int | None = None,
    change_id: uuid.UUID | None = None,
    clinical: Mapping[str, tuple[bytes, int]] | None = None,
) -> dict[str, Any]:
    """One change in the form push takes. ``clinical`` maps a field to (ciphertext, key epoch)."""
    built: dict[str, Any] = {
        "change_id": str(change_id or uuid.uuid4()),
        "table": table,
        "row_id": str(row_id),
        "op": op,
        "hlc": hlc if hlc is not None else hlc_now(),
        "payload": None if payload is None else dict(payload),
    }
    if clinical:
        built["clinical"] = {
            name: {"ciphertext": base64.b64encode(blob).decode("ascii"), "epoch": epoch}
            for name, (blob, epoch) in clinical.items()
        }
    return built


def address_of(credential: DeviceCredential) -> ServerAddress:
    return ServerAddress(credential.host, credential.port, credential.database, credential.ca_pem)


@contextmanager
def device_connection(credential: DeviceCredential | None) -> Iterator[psycopg.Connection[Any]]:
    """A connection as this laptop's device (autocommit: each call is its own transaction)."""
    if credential is None or not credential.is_active:
        raise NotJoined(
            "This laptop has not joined a team server for you yet. Ask your team lead for an"
            " invitation file, then run 'sim-desk join FILE'."
        )
    conn = connect(address_of(credential), user=credential.login_role, password=credential.secret)
    try:
        yield conn
    finally:
        conn.close()


def _call(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    try:
        row = conn.execute(query, params).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        raise ServerRefused(
            "The team server refused: this laptop may not do that (it may have been revoked, or"
            " it needs a team lead's sign-in)."
        ) from None
    except psycopg.errors.InvalidParameterValue:
        raise ServerError("The team server refused the request as malformed.") from None
    except psycopg.errors.QueryCanceled:
        raise ServerError(
            "The team server took too long to answer and stopped; nothing half-done was kept."
            " Try again later."
        ) from None
    except psycopg.OperationalError:
        raise ServerUnreachable(
            "The connection to the team server was lost. Nothing half-done was kept; try again."
        ) from None
    return None if row is None else row[0]


def hello(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Who this device is, on which team; the server's time and incarnation."""
    return dict(_call(conn, "SELECT sim.hello()"))


def push(conn: psycopg.Connection[Any], changes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Sends up to 500 changes; returns ``{"status": "done" | "busy", "results": [...]}``."""
    if len(changes) > MAX_PUSH:
        raise ValueError(f"push at most {MAX_PUSH} changes at a time")
    return dict(_call(conn, "SELECT sim.push(%s)", (Jsonb(list(changes)),)))


def pull(conn: psycopg.Connection[Any], after: int, max_changes: int = 500) -> dict[str, Any]:
    """The changes after ``after`` this device may see: ``{"cursor", "more", "changes", ...}``."""
    return dict(_call(conn, "SELECT sim.pull(%s, %s)", (after, max_changes)))


def team_status(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return dict(_call(conn, "SELECT sim.team_status()"))


def revoke_device(conn: psycopg.Connection[Any], device_id: uuid.UUID) -> bool:
    """Cuts one device off (team leads). False if it was revoked already or does not exist."""
    return bool(_call(conn, "SELECT sim.revoke_device(%s)", (device_id,))["revoked"])


def revoke_user(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> int | None:
    """Cuts a user off (team leads): every device and pending invitation. Returns how many
    devices were revoked, or None if the user was removed already or does not exist."""
    answer = _call(conn, "SELECT sim.revoke_user(%s)", (user_id,))
    return int(answer["devices"]) if answer["revoked"] else None


@dataclass(frozen=True)
class ServerUser:
    id: uuid.UUID
    username: str
    role: str
    clinical: bool
    active: bool
    display_name: str | None


def find_user(conn: psycopg.Connection[Any], username: str) -> ServerUser | None:
    """A user by name, as the team status shows it to this device (leads see everyone)."""
    for user in team_status(conn)["users"]:
        if user["username"] == username:
            return ServerUser(
                uuid.UUID(user["id"]),
                user["username"],
                user["role"],
                bool(user["clinical"]),
                bool(user["active"]),
                user.get("display_name"),
            )
    return None
