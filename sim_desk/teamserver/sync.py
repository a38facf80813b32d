"""Sync now: push what this laptop changed, then pull what changed elsewhere.

The order of steps, each its own local transaction (records/sync): the start (one call:
is this laptop still in good standing, who am I, which server incarnation, what time is it
there, the team's users, and whether the audit chain has anything to send: starting.py);
begin (the first sync queues every record the server has not seen; a server restored from
a backup is sent again what it may have lost); push in batches of up to 500 (sent in requests
of at most 8 MB: protocol.push); pull pages until there are no more. A kill or a lost
connection anywhere leaves every step before it committed and none half-done: the next sync
carries on.
Changes stay in the outbox until a pull shows them back from the server.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from sim_desk.records import sync
from sim_desk.records.sync import clock, standing, storage
from sim_desk.records.sync.bulk import SNAPSHOT_RUN, SnapshotRun
from sim_desk.records.sync.tables import BY_NAME, REPLICATED
from sim_desk.records.team import device
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver import (
    audit_chain,
    directory,
    keys,
    leavers,
    protocol,
    snapshot_reader,
    starting,
    team_syncs,
    vault_check,
)
from sim_desk.teamserver.errors import (
    ClockWrong,
    IncompatibleServer,
    NotJoined,
    ServerError,
    ServerUnreachable,
)

#: Rows of a bulk snapshot applied in one local transaction: each commit writes every index
#: page its rows touched, so fewer, larger ones write far less (a lead's first sync: 19 of
#: them; 20,000 rows a page took 95 s, 50,000 took 82 s and 100,000 took 83 s).
SNAPSHOT_PAGE = 50_000
#: The order this laptop applies a snapshot's tables in: each after those its rows point to.
TABLE_ORDER = tuple(spec.name for spec in REPLICATED)
#: How many times a push waits for a busy team lock before it gives up for this sync.
BUSY_RETRIES = 20


@dataclass
class SyncReport:
    pushed: int = 0
    duplicates: int = 0
    refused: int = 0
    pulled_rows: int = 0
    removed_people: int = 0
    #: People the server refused from this laptop as not its to hold, taken off its replica.
    taken_off: int = 0
    changed_elsewhere: int = 0
    held: int = 0
    #: Colleagues added to (or updated, or marked removed in) this laptop's users table.
    users_added: int = 0
    users_updated: int = 0
    first_sync: bool = False
    #: Records of an analyst's copy of the shared vault cleared before its first sync.
    cleared: int = 0
    server_restored: bool = False
    restamped: int = 0
    pages: int = 0
    problems: list[str] = field(default_factory=list)


def _server_time(hello: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(hello["server_time"]))


#: The oldest server schema this SIM Desk syncs with: a sync also pushes the audit chain (0004),
#: checks the device in (0005), takes team keys (0003) and says it is done (0006).
MIN_SERVER_SCHEMA = "0006"


def check_compatible(hello: dict[str, Any]) -> None:
    schema = str(hello.get("schema") or "")
    if schema and schema < MIN_SERVER_SCHEMA:
        raise IncompatibleServer(
            f"The team server's schema is {schema} and this SIM Desk needs {MIN_SERVER_SCHEMA}"
            " or newer. Nothing was sent or changed; your changes wait on this laptop. Ask the"
            " trust's IT team to run 'sim-desk server upgrade'."
        )
    spoken = int(hello.get("protocol") or 1)
    oldest = int(hello.get("min_protocol") or spoken)
    if not oldest <= sync.PROTOCOL <= spoken:
        newer = "this laptop's SIM Desk" if oldest > sync.PROTOCOL else "the team server"
        raise IncompatibleServer(
            f"The team server speaks sync protocol {spoken} and this SIM Desk speaks"
            f" {sync.PROTOCOL}: {newer} needs updating first. Nothing was sent or changed;"
            " your changes wait on this laptop. Ask the trust's IT team to update it."
        )


def sync_now(vault: UnlockedVault, *, page_size: int = 1000) -> SyncReport:
    """One full sync of the signed-in user's replica. Raises NotJoined, ServerUnreachable,
    IncompatibleServer; a laptop clock far ahead still pulls, then raises ClockWrong. A server
    restored or failed over in the middle is synced with again from the start, once."""
    try:
        return _sync_once(vault, page_size)
    except sync.ServerChanged:
        return _sync_once(vault, page_size)


def _sync_once(vault: UnlockedVault, page_size: int) -> SyncReport:
    credential = device.device_credential(vault)
    if credential is None or not credential.is_active:
        raise NotJoined(
            "This laptop has not joined a team server for you yet. Ask your team lead for an"
            " invitation file, then run 'sim-desk join FILE'."
        )
    report = SyncReport()
    clock_problem: str | None = None
    with protocol.device_connection(credential) as conn:
        # One call (schema 0010): a revoked laptop erases here, before anything else.
        started = starting.start(vault, conn, credential)
        hello = started.hello
        check_compatible(hello)
        # Before anything is sent or written here: a second vault's records stop here.
        vault_check.check_first_sync(vault, conn)
        # Before anything of this laptop's: a laptop put back from an older copy stops here.
        # In step with the server's copy, the chain has nothing to send (the hash matched).
        if not started.audit_in_step:
            audit_chain.push_audit_chain(vault, conn)
        # Before any pull: the pairs and records that arrive name these users (a vault made
        # on this laptop knows only its own).
        users = directory.sync_directory(vault, conn, started.users)
        report.users_added, report.users_updated = users.added, users.updated + users.removed
        report.problems.extend(users.problems)
        begun = sync.begin(vault, credential.device_id, str(hello["incarnation"]))
        report.first_sync, report.server_restored = begun.first_sync, begun.restored
        server_time = _server_time(hello)
        ahead = vault.now() - server_time
        if ahead > timedelta(milliseconds=clock.MAX_AHEAD_MS):
            clock_problem = (
                f"This laptop's clock is {_duration(ahead)} ahead of the team server's, so the"
                " server cannot take its changes. Set the laptop's date and time right, then"
                " sync again. Nothing is lost: your changes wait on this laptop."
            )
        elif begun.first_sync:
            # An analyst's copy of the shared vault keeps nothing the analyst may not hold.
            report.cleared = standing.clear_analyst_copy(vault)
            # What the server holds first; then what only this laptop holds goes up.
            _pull_all(vault, conn, report, page_size)
            sync.queue_unsynced_records(vault)
        elif begun.restored:
            _pull_all(vault, conn, report, page_size)
        if clock_problem is None:
            report.restamped = sync.restamp_ahead(vault, server_time)
            _push_all(vault, conn, report)
        _pull_all(vault, conn, report, page_size)
        report.problems.extend(keys.sync_keys(vault, conn).problems)  # issue 20: team keys
        # A first sync brings the signed-in user's pair (a fresh vault had none): their
        # caseload is theirs at once, not at the next sign-in.
        directory.refresh_signed_in_pairs(vault)
        # When each laptop last synced (for reports): not after a sync that could not push.
        done = team_syncs.sync_done(conn) if clock_problem is None else None
        # One local transaction ends the sync: the server's time at a sync that completed
        # (what keeps the replica openable), the team's last syncs, the sync's error, and
        # when it last pulled. (Every server it syncs with checks devices in: schema 0005.)
        if started.standing is not None:
            leavers.record_check_in(
                vault,
                started.standing,
                team_syncs=done,
                last_error=clock_problem,
                pulled_at=vault.now(),
            )
        else:
            sync.note_error(vault, clock_problem)
    if clock_problem is not None:
        raise ClockWrong(clock_problem)
    return report


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours = minutes // 60
    if hours < 72:
        return f"{hours} hours"
    return f"{hours // 24} days"


def _push_all(vault: UnlockedVault, conn: psycopg.Connection[Any], report: SyncReport) -> None:
    busy = 0
    while True:
        batch = sync.pending_changes(vault, protocol.MAX_PUSH)
        if not batch:
            return
        answer = protocol.push(conn, batch)
        if answer.get("status") == "busy":
            busy += 1
            if busy > BUSY_RETRIES:
                raise ServerError(
                    "The team server stayed busy; your changes wait on this laptop and go at"
                    " the next sync."
                )
            time.sleep(min(0.05 * busy, 1.0))
            continue
        counts = sync.record_push(vault, answer.get("results") or [], now=vault.now())
        report.pushed += counts["accepted"]
        report.duplicates += counts["duplicate"]
        report.refused += counts["refused"]
        report.taken_off += counts["people_taken_off"]
        if counts["accepted"] + counts["duplicate"] + counts["refused"] == 0:
            return  # nothing the server answered for: do not loop
        if all(c.get("code") == "clock_ahead" for c in answer.get("results") or []):
            return


def _count(report: SyncReport, applied: sync.Applied) -> None:
    report.pages += 1
    report.pulled_rows += applied.rows
    report.removed_people += applied.removed_people
    report.changed_elsewhere += applied.changed_elsewhere
    report.held += applied.held


def _snapshot_in_bulk(
    vault: UnlockedVault, conn: psycopg.Connection[Any], report: SyncReport
) -> None:
    """The whole replica in one COPY (a first sync, or a check against a restored server),
    applied here in pages of :data:`SNAPSHOT_PAGE` rows; the cursor moves with the last.

    The rows are read and made ready to go in bulk by a process of their own
    (``snapshot_reader``) while the pages before are applied here: the server, the parsing
    and the writing overlap on separate cores. Where that process cannot start, a thread
    does the same work, sharing this process's interpreter lock with the writing.
    """
    run = SnapshotRun()

    def apply(pages: Iterator[tuple[list[Any], bool]], head: dict[str, Any]) -> None:
        for page, more in pages:
            answer: dict[str, Any] = {"snapshots": page, "more": more, SNAPSHOT_RUN: run}
            if not more:
                answer |= {"cursor": head["cursor"], "incarnation": head.get("incarnation")}
            _count(report, sync.apply_pull(vault, answer, now=vault.now()))

    with snapshot_reader.started(SNAPSHOT_PAGE) as reader:
        if reader is not None:
            with (
                protocol.snapshot_binary(conn, table_order=TABLE_ORDER) as (head, chunks),
                snapshot_reader.pages_of(reader, chunks) as read,
            ):
                apply(read, head)
            return
    dialect = vault.engine.dialect
    with (
        protocol.snapshot(conn, table_order=TABLE_ORDER) as (head, rows),
        _read_ahead(rows, lambda row: storage.made_ready(row["table"], row, dialect)) as pages,
    ):
        apply(pages, head)


_PAGES_AHEAD = 1


@contextmanager
def _read_ahead(
    rows: Iterator[protocol.SnapshotRow],
    make_ready: Callable[[dict[str, Any]], storage.Ready | None],
) -> Iterator[Iterator[tuple[list[dict[str, Any]], bool]]]:
    """Pages of ``rows`` (each with whether more follow), read by a thread up to
    :data:`_PAGES_AHEAD` pages ahead of the caller. Only that thread touches the connection
    until it has finished; an error there is raised here, and an error here stops it.

    The thread also makes each row ready to go in bulk (``storage.made_ready``: its values
    as the vault stores them), which needs no database: that Python work then runs while
    SQLite, which lets go of Python's lock, writes the page before."""
    pages: queue.Queue[tuple[list[dict[str, Any]], bool] | BaseException] = queue.Queue(
        _PAGES_AHEAD
    )
    stop = threading.Event()

    def put(item: tuple[list[dict[str, Any]], bool] | BaseException) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            page: list[dict[str, Any]] = []
            for row in rows:
                if page and len(page) >= SNAPSHOT_PAGE:
                    if not put((page, True)):
                        return
                    page = []
                entry = {
                    "table": row.table,
                    "row_id": row.row_id,
                    "person_id": row.person_id,
                    "payload": row.payload,
                    "clocks": row.clocks,
                    "deleted": row.deleted,
                    "clinical": row.clinical,
                }
                if row.table in BY_NAME and not row.deleted:
                    entry[storage.READY] = make_ready(entry)
                page.append(entry)
            put((page, False))
        except BaseException as error:  # handed to the caller, which raises it
            put(error)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()  # an unfinished COPY ends here, on this thread

    def taken() -> Iterator[tuple[list[dict[str, Any]], bool]]:
        while True:
            item = pages.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if not item[1]:
                return

    reader = threading.Thread(target=read, name="snapshot-reader", daemon=True)
    reader.start()
    try:
        yield taken()
    finally:
        stop.set()
        reader.join()


def _pull_all(
    vault: UnlockedVault, conn: psycopg.Connection[Any], report: SyncReport, page_size: int
) -> None:
    if sync.cursor(vault) == 0:
        _snapshot_in_bulk(vault, conn, report)
    while True:
        with _applied_then_committed(conn):
            answer = protocol.pull(conn, sync.cursor(vault), page_size)
            _count(report, sync.apply_pull(vault, answer, now=vault.now()))
        if not answer.get("more"):
            return


@contextmanager
def _applied_then_committed(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """One pull in a server transaction that commits only after its answer is applied here.

    A pull records on the server what this laptop's replica now holds (people who became
    visible, who were sent whole; people removed). Were that committed before the laptop had
    applied the answer, a laptop killed (or a connection lost) in between would never be sent
    those people, or their removal, again. Committed after, the worst is an answer applied
    here and sent again at the next pull, which changes nothing the second time.
    """
    try:
        with conn.transaction():
            yield
    except psycopg.OperationalError:
        raise ServerUnreachable(
            "The connection to the team server was lost. Nothing half-done was kept; try again."
        ) from None
