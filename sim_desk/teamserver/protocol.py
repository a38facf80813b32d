"""What a device says to the team server: hello, push, pull, snapshot, and team management.

Thin wrappers over the server's functions (``sim.hello``, ``sim.push``, ...). They are the only
SQL a device ever runs; the server decides what this device may see and do. The sync engine
builds on :func:`push`, :func:`pull` and :func:`snapshot`.

A change (protocol 2) is a JSON object::

    {"change_id": UUID, "table": "contacts", "row_id": UUID, "op": "upsert" | "delete",
     "hlc": int, "payload": {...only the fields it sets; the whole row on its first insert...},
     "clinical": {"clinical_note": {"ciphertext": base64, "epoch": int}},
     "protocol": 2, "schema": "0009"}

``hlc`` is a hybrid-logical-clock time: milliseconds since 1970 shifted left 16 bits, plus a
counter. The server orders changes by their clock string (:func:`clock`) and merges each
field last-writer-wins on it; a delete is a tombstone and final. Push answers each change, in
order, with ``accepted`` (and its ``seq``), ``duplicate`` (already accepted from this device:
retries are safe) or ``refused`` with a code: ``invalid``, ``unknown_table``, ``clock_ahead``,
``not_permitted`` or ``incompatible`` (another protocol). ``not_permitted`` is all a device
learns about rows it may not see: it does not say whether they exist.

Pull (protocol 2) answers::

    {"protocol": 2, "team": UUID, "incarnation": UUID, "cursor": int, "more": bool,
     "removed": [person_id, ...],
     "snapshots": [{"table", "row_id", "person_id", "payload", "clocks", "deleted",
                    "clinical" (clinical devices, where the row has any)}, ...],
     "changes": [{"seq", "change_id", "table", "row_id", "person_id", "op", "hlc", "clock",
                  "author", "device", "payload", "clinical" (clinical devices)}, ...],
     "merge_proposals": [{"id", "person_id", "other_person_id", "matched_on"}, ...]}

to be applied in that order (removed, snapshots, changes) in one local transaction with the
cursor. ``after=0`` means "my replica is empty": every visible row comes as a snapshot. A page
is cut by its count of changes and (schema 0008) by its size in bytes: ``more`` says pull
again from ``cursor``. A person's snapshot may span pages; until it is whole a page holds no
changes and its cursor stays where it was.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from sim_desk.records.team.device import DeviceCredential
from sim_desk.teamserver.connection import ServerAddress, connect
from sim_desk.teamserver.errors import NotJoined, ServerError, ServerRefused, ServerUnreachable

MAX_PUSH = 500
#: A push request's JSON at most, in bytes of UTF-8. The server takes at most 16 MB in one push
#: (sim.push, measured in its binary form, a little larger than the text for small values),
#: and a change may be up to 2 MiB (schema 0008): 500 long notes in one request would be
#: refused whole, so :func:`push` sends them in as many requests as their size needs.
MAX_PUSH_BYTES = 8 * 1024 * 1024
#: A pull page's size in bytes the laptop asks for; None leaves it to the server (32 MiB, and
#: no more: schema 0008). A page is one jsonb value on the server, at most 256 MiB, and is
#: held whole in this laptop's memory while it is applied.
PULL_PAGE_BYTES: int | None = None
#: The wire protocol this module speaks (and the only one the server's schema 0002 takes).
PROTOCOL = 2
REFUSAL_CODES = ("invalid", "unknown_table", "clock_ahead", "not_permitted", "incompatible")
#: Tables a consent withdrawal is recorded in (see :func:`is_withdrawal`).
CONSENT_TABLE = "consents"
#: How long the first sync's COPY may run: the device role's own statement_timeout (30 s) is
#: for one sync step, and a lead's first sync of a large team can take longer.
SNAPSHOT_TIMEOUT_S = 600


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
    schema: str | None = None,
) -> dict[str, Any]:
    """One change in the form push takes. ``payload`` holds the fields the change sets (all of
    them on a row's first insert); ``clinical`` maps a field to (ciphertext, key epoch);
    ``schema`` is the laptop's local schema revision (informational)."""
    built: dict[str, Any] = {
        "change_id": str(change_id or uuid.uuid4()),
        "table": table,
        "row_id": str(row_id),
        "op": op,
        "hlc": hlc if hlc is not None else hlc_now(),
        "payload": None if payload is None else dict(payload),
        "protocol": PROTOCOL,
    }
    if schema is not None:
        built["schema"] = schema
    if clinical:
        built["clinical"] = {
            name: {"ciphertext": base64.b64encode(blob).decode("ascii"), "epoch": epoch}
            for name, (blob, epoch) in clinical.items()
        }
    return built


def is_withdrawal(table: str, payload: Mapping[str, Any] | None) -> bool:
    """A consent withdrawal: it wins a tie with any other change at the same hlc."""
    return (
        table == CONSENT_TABLE
        and payload is not None
        and (
            payload.get("withdrawn_on") is not None
            or payload.get("information_sharing") is False
            or payload.get("taking_part") is False
        )
    )


def clock(hlc: int, change_id: uuid.UUID | str, *, withdrawal: bool = False) -> str:
    """The clock string the server and laptops order changes by (plain string comparison):
    the hlc padded to 20 digits, a rank (1 for a consent withdrawal), the change id."""
    return f"{hlc:020d}:{1 if withdrawal else 0}:{uuid.UUID(str(change_id))}"


def change_clock(built: Mapping[str, Any]) -> str:
    """The clock string of a change as :func:`change` builds it."""
    return clock(
        int(built["hlc"]),
        built["change_id"],
        withdrawal=is_withdrawal(str(built["table"]), built.get("payload")),
    )


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


def call(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    """One server function's answer, its refusals turned into words (for the modules that
    speak to functions of their own, such as ``teamserver.leavers``)."""
    return _call(conn, query, params)


def hello(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Who this device is, on which team; the server's time and incarnation."""
    return dict(_call(conn, "SELECT sim.hello()"))


def push(conn: psycopg.Connection[Any], changes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Sends up to 500 changes; returns ``{"status": "done" | "busy", "results": [...]}``.

    They go in requests of at most :data:`MAX_PUSH_BYTES` (:func:`push_batches`), each its own
    server transaction. ``results`` answers the changes sent, in order: when the server is busy
    after some requests went through, the answer is "done" with theirs, and the changes not
    yet answered stay in the caller's outbox for its next push (a change sent twice is
    answered ``duplicate``).
    """
    if len(changes) > MAX_PUSH:
        raise ValueError(f"push at most {MAX_PUSH} changes at a time")
    results: list[Any] = []
    answer: dict[str, Any] = {"status": "done"}
    # No changes: one empty push all the same (its answer names the server's incarnation).
    for batch in push_batches(changes) if changes else iter([[]]):
        answer = dict(_call(conn, "SELECT sim.push(%s::jsonb)", ("[" + ",".join(batch) + "]",)))
        if answer.get("status") != "done":
            if results:
                answer["status"] = "done"  # what went through is answered; the rest waits
            break
        results.extend(answer.get("results") or [])
    return {**answer, "results": results}


def push_batches(changes: Sequence[Mapping[str, Any]]) -> Iterator[list[str]]:
    """The changes as JSON text, in batches of at most :data:`MAX_PUSH` changes and
    :data:`MAX_PUSH_BYTES` bytes (a change larger than that alone: the server answers it).

    UTF-8, not ``\\u`` escapes: a character outside the Basic Multilingual Plane is 4 bytes
    of it, against 12 escaped, so a note in any script travels at the size the server counts.
    """
    batch: list[str] = []
    size = 2  # the brackets
    for built in changes:
        text = json.dumps(built, ensure_ascii=False, separators=(",", ":"))
        grows = len(text.encode("utf-8")) + 1  # and its comma
        if batch and (len(batch) >= MAX_PUSH or size + grows > MAX_PUSH_BYTES):
            yield batch
            batch, size = [], 2
        batch.append(text)
        size += grows
    if batch:
        yield batch


def pull(
    conn: psycopg.Connection[Any],
    after: int,
    max_changes: int = 500,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """What this device's replica needs after cursor ``after`` (0: everything, as snapshots):
    ``{"cursor", "more", "removed", "snapshots", "changes", "merge_proposals", ...}``.

    A page holds at most ``max_changes`` changes and, from schema 0008, about ``max_bytes``
    (None: :data:`PULL_PAGE_BYTES`, and if that is None the server's own 32 MiB); either cut
    says ``more``. The budget is sent only when one is set, so the call still suits a server
    before 0008, whose pull takes two arguments.
    """
    budget = max_bytes if max_bytes is not None else PULL_PAGE_BYTES
    if budget is None:
        return dict(_call(conn, "SELECT sim.pull(%s, %s)", (after, max_changes)))
    return dict(_call(conn, "SELECT sim.pull(%s, %s, %s)", (after, max_changes, budget)))


@dataclass(frozen=True)
class SnapshotRow:
    """One row of a first-sync snapshot: the merged row image, its per-field clocks, and the
    clinical ciphertext (clinical devices only; None otherwise or where the row has none)."""

    table: str
    row_id: uuid.UUID
    person_id: uuid.UUID | None
    payload: dict[str, Any]
    clocks: dict[str, str]
    deleted: bool
    clinical: dict[str, Any] | None


#: The columns of a snapshot row, as COPY brings them.
SNAPSHOT_TYPES = ["text", "uuid", "uuid", "jsonb", "jsonb", "bool", "jsonb"]


def _ordered_snapshot(conn: psycopg.Connection[Any], table_order: list[str]) -> sql.Composed:
    """The COPY of a snapshot in ``table_order``: streamed as the server reads it (schema
    0014), sorted once by the server (0012), or, from an older server still, its own order
    sorted again around it (the whole team twice)."""
    order = sql.Literal(table_order)
    found = conn.execute(
        "SELECT to_regprocedure('sim.snapshot_stream(text[])') IS NOT NULL,"
        " to_regprocedure('sim.snapshot_rows(text[])') IS NOT NULL"
    ).fetchone()
    streamed, sorted_once = found if found is not None else (False, False)
    if streamed:
        # Called in the SELECT list, where a SQL function hands over each row as it comes (in
        # FROM, PostgreSQL would gather every row before the first); OFFSET 0 keeps the
        # function called once a row rather than once a column.
        return sql.SQL(
            "COPY (SELECT (x.s).* FROM (SELECT sim.snapshot_stream({order}::text[]) AS s"
            " OFFSET 0) x) TO STDOUT"
        ).format(order=order)
    if sorted_once:
        return sql.SQL("COPY (SELECT * FROM sim.snapshot_rows({order}::text[])) TO STDOUT").format(
            order=order
        )
    return sql.SQL(
        "COPY (SELECT s.* FROM sim.snapshot_rows() s"
        " ORDER BY array_position({order}::text[], s.table_name) NULLS LAST,"
        " s.person_id, s.row_id)"
        " TO STDOUT"
    ).format(order=order)


@contextmanager
def snapshot(
    conn: psycopg.Connection[Any],
    *,
    timeout_s: int = SNAPSHOT_TIMEOUT_S,
    table_order: Sequence[str] = (),
) -> Iterator[tuple[dict[str, Any], Iterator[SnapshotRow]]]:
    """The first sync in bulk: ``with snapshot(conn) as (head, rows): for row in rows: ...``.

    One REPEATABLE READ transaction, so ``head["cursor"]`` (then ``incarnation``, ``team``,
    ``protocol``) and the rows are one consistent picture: pull from the cursor afterwards.
    The rows stream from a ``COPY`` (:func:`_ordered_snapshot`), parents first, and must be
    read inside the ``with``; the transaction commits when it ends (which
    records on the server what this replica holds) and rolls back on an error, when the
    laptop simply starts again. ``conn`` is a device connection in autocommit mode.

    ``table_order`` is the laptop's own order of its tables, each after every table its rows
    point to: the rows come table by table in that order (tables it does not name last). The
    server's order is by depth below a person, which puts a contact beside the planned visit it
    records (both one below the person), and a laptop applying the rows in pages would find
    contacts whose visit is still to come. Within a table the rows come person by person: most
    of a laptop's indexes begin with the person, and rows in that order fill each index page
    in turn instead of touching a page at random for every row.
    """
    with _snapshot_copy(conn, timeout_s, table_order, binary=False) as (head, query):

        def rows() -> Iterator[SnapshotRow]:
            with conn.cursor().copy(query) as cp:
                cp.set_types(SNAPSHOT_TYPES)
                for table, row_id, person_id, payload, clocks, deleted, clinical in cp.rows():
                    yield SnapshotRow(table, row_id, person_id, payload, clocks, deleted, clinical)

        yield head, rows()


@contextmanager
def snapshot_binary(
    conn: psycopg.Connection[Any],
    *,
    timeout_s: int = SNAPSHOT_TIMEOUT_S,
    table_order: Sequence[str] = (),
) -> Iterator[tuple[dict[str, Any], Iterator[bytes]]]:
    """:func:`snapshot`, its rows as the bytes of PostgreSQL's binary COPY format (the
    columns of :data:`SNAPSHOT_TYPES`), for a reader in another process
    (``teamserver.snapshot_reader``): here they are only passed on, not parsed."""
    with _snapshot_copy(conn, timeout_s, table_order, binary=True) as (head, query):

        def chunks() -> Iterator[bytes]:
            with conn.cursor().copy(query) as cp:
                yield from _copy_chunks(conn.pgconn, cp)

        yield head, chunks()


#: Bytes of COPY rows handed on together.
_COPY_CHUNK = 1 << 20


def _copy_chunks(pgconn: psycopg.pq.abc.PGconn, cp: psycopg.Copy) -> Iterator[bytes]:
    """The bytes of a COPY TO, about :data:`_COPY_CHUNK` at a time. The server sends each row
    as a message of its own, and ``Copy.read`` takes one message per call through psycopg's
    waiting machinery: a million calls holding the interpreter lock that the thread applying
    the pages needs. Here the rows libpq has already received are taken straight from it, and
    psycopg waits (and reports the end or an error) only when none is left."""
    gathered = bytearray()
    while True:
        size, data = pgconn.get_copy_data(1)  # (1: never waits)
        if size > 0:
            gathered += data
            if len(gathered) >= _COPY_CHUNK:
                yield bytes(gathered)
                gathered.clear()
            continue
        if size == 0:  # nothing received yet: psycopg waits for it
            if not (waited := cp.read()):
                break  # the end: psycopg has read the COPY's result
            gathered += waited
            continue
        # The end had arrived with the rows: its result is read here, as psycopg would.
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        if not results:
            raise psycopg.OperationalError("the COPY ended without its result")
        if results[0].status != psycopg.pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(results[0], encoding="utf-8")
        break
    if gathered:
        yield bytes(gathered)


@contextmanager
def _snapshot_copy(
    conn: psycopg.Connection[Any], timeout_s: int, table_order: Sequence[str], *, binary: bool
) -> Iterator[tuple[dict[str, Any], sql.SQL | sql.Composed]]:
    """The transaction of a snapshot, its head, and the COPY that brings its rows."""
    query: sql.SQL | sql.Composed = sql.SQL("COPY (SELECT * FROM sim.snapshot_rows()) TO STDOUT")
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            if table_order:
                query = _ordered_snapshot(conn, list(table_order))
            if binary:
                query = sql.SQL("{} (FORMAT binary)").format(query)
            # The device role's 30 s is for one sync step; a whole team can take longer. The
            # laptop applies what it has read while the rest waits (its 15 s idle limit too).
            conn.execute(f"SET LOCAL statement_timeout = '{int(timeout_s)}s'")
            conn.execute(f"SET LOCAL idle_in_transaction_session_timeout = '{int(timeout_s)}s'")
            head = dict(_call(conn, "SELECT sim.snapshot_begin()"))
            yield head, query
    except psycopg.errors.InsufficientPrivilege:
        raise ServerRefused(
            "The team server refused: this laptop may not do that (it may have been revoked)."
        ) from None
    except psycopg.errors.QueryCanceled:
        raise ServerError(
            "The team server took too long to send the first sync and stopped; nothing"
            " half-done was kept. Try again later."
        ) from None
    except psycopg.OperationalError:
        raise ServerUnreachable(
            "The connection to the team server was lost. Nothing half-done was kept; try again."
        ) from None


def resolve_merge_proposal(conn: psycopg.Connection[Any], proposal_id: uuid.UUID) -> bool:
    """Marks a merge proposal dealt with (team leads). False if it was resolved already or
    does not exist."""
    return bool(_call(conn, "SELECT sim.resolve_merge_proposal(%s)", (proposal_id,))["resolved"])


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
