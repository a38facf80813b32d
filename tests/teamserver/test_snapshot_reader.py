"""A first sync's rows read and made ready in a process of their own (teamserver.snapshot_reader).

Against the real server: the reader parses PostgreSQL's binary COPY exactly as psycopg parses
the same snapshot as text, for every role and however the bytes are cut; a first sync through
the reader process leaves the replica (rows and ``sync_rows`` entries, clock for clock) that
the thread leaves; a reader that cannot start leaves the work to the thread; a reader that
stops half-way, or a stream it cannot read, stops the sync with a clear message and the next
sync completes the replica; a reader whose app is killed does not outlive it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import marshal
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from sim_desk.records.model import SyncRow
from sim_desk.records.sync.storage import READY, Ready
from sim_desk.teamserver import protocol, snapshot_reader
from sim_desk.teamserver import sync as team_sync
from sim_desk.teamserver.errors import ServerError
from sim_desk.teamserver.sync import TABLE_ORDER
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import Laptop, laptop, replica

#: A binary COPY with no rows: the signature, flags, no header extension, the trailer.
EMPTY_COPY = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + b"\xff\xff"


@pytest.fixture(scope="module")
def team(new_database, _team_template, tmp_path_factory) -> World:
    world = build_world(new_database(), _team_template, tmp_path_factory.mktemp("world"))
    lead = laptop(world, "lead", tmp_path_factory.mktemp("lead"))
    for n, pair in enumerate([world.pair_a, world.pair_b, world.pair_a, world.pair_b]):
        person = lead.add_person(f"Zoë{n} 王秀英", pair)
        for k in range(4):
            lead.log_contact(
                person,
                f'Walk {k}: a "quoted" word, a back\\slash, a tab\there',
                clinical=f"Note {k}, Ал-Фарабі" if k % 2 else None,
            )
    lead.sync()
    return world


def _copied(world: World, name: str, *, binary: bool) -> list[Any]:
    with (
        protocol.device_connection(world.devices[name]) as conn,
        conn.transaction(),
    ):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute("SELECT sim.snapshot_begin()")
        query = protocol._ordered_snapshot(conn, list(TABLE_ORDER))
        if binary:
            with conn.cursor().copy(f"{query.as_string(conn)} (FORMAT binary)") as cp:
                return [bytes(data) for data in cp]
        with conn.cursor().copy(query) as cp:
            cp.set_types(protocol.SNAPSHOT_TYPES)
            return list(cp.rows())


def _recut(chunks: list[bytes], size: int) -> Iterator[bytes]:
    whole = b"".join(chunks)
    for start in range(0, len(whole), size):
        yield whole[start : start + size]


@pytest.mark.parametrize("name", ["lead", "officer", "clinician", "analyst"])
def test_the_reader_parses_what_psycopg_parses(team: World, name: str) -> None:
    expected = [
        (
            table,
            row_id.hex,
            None if person_id is None else person_id.hex,
            payload,
            clocks,
            deleted,
            clinical,
        )
        for table, row_id, person_id, payload, clocks, deleted, clinical in _copied(
            team, name, binary=False
        )
    ]
    assert len(expected) > 10
    chunks = _copied(team, name, binary=True)
    for size in (None, 1, 7, 4096):
        parts = iter(chunks) if size is None else _recut(chunks, size)
        got = [
            (table, row_id, person_id, json.loads(payload), json.loads(clocks), deleted, clinical)
            for table, row_id, person_id, payload, clocks, deleted, clinical in (
                (*row[:6], None if row[6] is None else json.loads(row[6]))
                for row in snapshot_reader.copy_rows(parts)
            )
        ]
        assert got == expected, size


def _whole_replica(machine: Laptop) -> dict[str, Any]:
    """Every replicated row and every ``sync_rows`` entry (clocks, hashes, mine, held)."""
    found: dict[str, Any] = dict(replica(machine))
    with machine.open() as vault, vault.read() as session:
        found["sync_rows"] = {
            row.id: (
                row.table_name,
                row.person_id,
                row.clocks,
                row.hashes,
                row.mine,
                row.deleted,
                row.held,
            )
            for row in session.execute(select(SyncRow)).scalars()
        }
    return found


def _without_reader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-program")
    monkeypatch.setattr(snapshot_reader, "_command", lambda page_size: [missing])


@pytest.mark.parametrize("name", ["lead", "officer", "analyst"])
def test_the_reader_process_leaves_the_replica_the_thread_leaves(
    team: World, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(team_sync, "SNAPSHOT_PAGE", 5)  # many pages, one cut mid-person
    started: list[bool] = []
    real = snapshot_reader.started

    def watched(page_size: int):  # type: ignore[no-untyped-def]
        with real(page_size) as process:
            started.append(process is not None)
            yield process

    monkeypatch.setattr(snapshot_reader, "started", contextmanager(watched))
    by_process = laptop(team, name, tmp_path / "process")
    report = by_process.sync()
    assert report.first_sync and report.pages > 3
    _without_reader(monkeypatch, tmp_path)
    by_thread = laptop(team, name, tmp_path / "thread")
    assert by_thread.sync().pulled_rows == report.pulled_rows
    assert started == [True, False]
    expected, got = _whole_replica(by_thread), _whole_replica(by_process)
    if name == "analyst":
        # An analyst's pairs come with the team's directory at each sync (schema 0011), stamped
        # when they came, not in the snapshot: the two laptops synced a moment apart.
        expected.pop("pairs"), got.pop("pairs")
    assert sum(len(rows) for rows in expected.values()) > 20
    assert got == expected


def _failing_reader(monkeypatch: pytest.MonkeyPatch, program: str) -> None:
    command = [sys.executable, "-c", textwrap.dedent(program)]
    monkeypatch.setattr(snapshot_reader, "_command", lambda page_size: command)


@pytest.mark.parametrize(
    "program",
    [
        # stops half-way: reads a little, answers nothing
        "import sys; sys.stdin.buffer.read(200)",
        # killed half-way, after one page (the first, real, of a reader's answer)
        """
        import os, signal, sys
        from sim_desk.teamserver import snapshot_reader
        class OnePage:
            def __init__(self): self.out = sys.stdout.buffer; self.sent = 0
            def write(self, data):
                self.out.write(data)
                self.sent += 1
                if self.sent == 2:
                    self.out.flush(); os.kill(os.getpid(), signal.SIGKILL)
            def flush(self): self.out.flush()
        snapshot_reader.serve(5, sys.stdin.buffer, OnePage())
        """,
        # killed in the middle of writing its second page (run out of memory, say)
        """
        import os, signal, sys
        from sim_desk.teamserver import snapshot_reader
        class HalfAPage:
            def __init__(self): self.out = sys.stdout.buffer; self.sent = 0
            def write(self, data):
                self.sent += 1
                if self.sent == 4:  # a page's length, its bytes, the next length, half
                    self.out.write(data[: len(data) // 2]); self.out.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                self.out.write(data)
            def flush(self): self.out.flush()
        snapshot_reader.serve(5, sys.stdin.buffer, HalfAPage())
        """,
    ],
    ids=["stops", "killed-after-a-page", "killed-mid-page"],
)
def test_a_reader_that_stops_stops_the_sync_and_the_next_sync_completes(
    team: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, program: str
) -> None:
    monkeypatch.setattr(team_sync, "SNAPSHOT_PAGE", 5)
    reference = laptop(team, "clinician", tmp_path / "reference")
    reference.sync()
    machine = laptop(team, "clinician", tmp_path / "machine")
    with monkeypatch.context() as patch:
        _failing_reader(patch, program)
        with pytest.raises(ServerError, match=r"stopped while reading .* Try again"):
            machine.sync()
    machine.sync()
    assert replica(machine) == replica(reference)


def _served(stream: bytes, page_size: int = 3) -> list[Any]:
    sink = io.BytesIO()
    with subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as source:
        assert source.stdin is not None and source.stdout is not None
        source.stdin.write(stream)
        source.stdin.close()
        snapshot_reader.serve(page_size, source.stdout, sink)  # type: ignore[arg-type]
    data, at, answers = sink.getvalue(), 0, []
    while at < len(data):
        size = int.from_bytes(data[at : at + 8], "big")
        answers.append(marshal.loads(data[at + 8 : at + 8 + size]))
        at += 8 + size
    return answers


def test_the_reader_answers_a_stream_it_cannot_read_with_an_error() -> None:
    assert _served(EMPTY_COPY) == [([], False)]
    assert _served(b"COPY\n" + EMPTY_COPY) == [("error", "CopyFormatError")]
    assert _served(EMPTY_COPY[:-2]) == [("error", "CopyFormatError")]  # no trailer
    three_fields = EMPTY_COPY[:-2] + b"\x00\x03" + b"\xff\xff\xff\xff" * 3 + b"\xff\xff"
    assert _served(three_fields) == [("error", "CopyFormatError")]


def test_a_read_row_reads_as_the_snapshot_row_it_stands_for() -> None:
    """A row as the reader sends it, read key by key (built only when asked for), is the
    mapping ``protocol.snapshot``'s entry would be."""
    row_id, person_id = uuid.uuid4(), uuid.uuid4()
    payload, clocks = {"given_name": "Zofia", "n": 3}, {"given_name": "0001-a"}
    sent = ("people", row_id.hex, person_id.hex, False, json.dumps(payload).encode())
    sent += (json.dumps(clocks).encode(), None)
    expected = {
        "table": "people",
        "row_id": row_id,
        "person_id": person_id,
        "deleted": False,
        "payload": payload,
        "clocks": clocks,
        "clinical": None,
    }
    # Made ready by the reader; not made ready (cannot go in bulk); not looked at (tombstone).
    ready = (("given_name",), ("Zofia",), '[["0001-a", "given_name"]]')
    made = snapshot_reader.ReadRow((*sent, ready))
    assert dict(made) == expected | {READY: Ready(("given_name",), ("Zofia",), ready[2])}
    assert made[READY] is made[READY] and READY in made and len(made) == 8
    assert made[READY].stored == {"given_name": "Zofia"}
    assert made.hex_ids == (row_id.hex, person_id.hex)
    refused = snapshot_reader.ReadRow((*sent, None))
    assert dict(refused) == expected | {READY: None} and READY in refused
    untouched = snapshot_reader.ReadRow((*sent[:2], None, True, *sent[4:], False))
    assert dict(untouched) == expected | {"person_id": None, "deleted": True}
    assert READY not in untouched and untouched.get(READY) is None and len(untouched) == 7
    with pytest.raises(KeyError):
        untouched["favourite_colour"]


def test_what_the_readers_json_refuses_goes_the_row_by_row_way() -> None:
    """The reader decodes with orjson, which refuses what json reads in places (a number
    beyond 64 bits): such a row is not made ready (None), so it takes the row-by-row path,
    which holds what does not fit; it is not lost."""
    row_id = uuid.uuid4().hex
    big = ("baseline_counts", row_id, None, b'{"count": 123456789012345678901234567890}')
    assert snapshot_reader._made_ready((*big, b"{}", False, None), sqlite.dialect()) is None
    fine = ("baseline_counts", row_id, None, b'{"count": 4}', b"{}", False, None)
    assert snapshot_reader._made_ready(fine, sqlite.dialect()) == (
        ("count",),
        (4,),
        '[["0", "count"]]',
    )


def test_a_stream_the_reader_cannot_read_stops_the_sync_clearly(
    team: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = protocol.snapshot_binary

    def spoiled(conn, **options):  # type: ignore[no-untyped-def]
        with real(conn, **options) as (head, chunks):
            yield head, (chunk.replace(b"PGCOPY", b"PGCOPZ") for chunk in chunks)

    machine = laptop(team, "officer", tmp_path / "machine")
    with monkeypatch.context() as patch:
        patch.setattr(protocol, "snapshot_binary", contextmanager(spoiled))
        with pytest.raises(ServerError, match="could not read; nothing half-done was kept"):
            machine.sync()
    assert machine.sync().pulled_rows > 0


def test_the_command_is_for_the_app_alone() -> None:
    for wrong in ([], ["0"], ["many"]):
        answer = subprocess.run(
            [sys.executable, "-m", "sim_desk", snapshot_reader.ARGUMENT, *wrong],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert answer.returncode == 2, wrong
        assert "run by SIM Desk itself" in answer.stderr
    out = subprocess.run(
        [sys.executable, "-m", "sim_desk", snapshot_reader.ARGUMENT, "10"],
        input=EMPTY_COPY,
        capture_output=True,
        timeout=60,
    ).stdout
    assert marshal.loads(out[8:]) == ([], False)


def _state(pid: int) -> str | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


def _assert_ends(pid: int, message: str, within: float = 20.0) -> None:
    """The process ``pid`` ends (or is left a zombie, which runs nothing) within ``within`` s."""
    deadline = time.monotonic() + within
    while _state(pid) not in (None, "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(pid) in (None, "Z"), message


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("rows", [0, 3000], ids=["before-a-row", "pages-waiting"])
def test_a_reader_does_not_outlive_an_app_killed_mid_snapshot(rows: int) -> None:
    """Killed before the first row, or with pages made and waiting for an app that is gone."""
    app = textwrap.dedent(
        f"""
        import os, signal, threading, time, uuid
        from sim_desk.teamserver import snapshot_reader
        row = (
            b"\\x00\\x07" + b"\\x00\\x00\\x00\\x06people"
            + (b"\\x00\\x00\\x00\\x10" + uuid.uuid4().bytes) * 2
            + b"\\x00\\x00\\x04\\x01\\x01" + b"{{" + b'"n": "' + b"x" * 1015 + b'"}}'
            + b"\\x00\\x00\\x00\\x03\\x01{{}}" + b"\\x00\\x00\\x00\\x01\\x00"
            + b"\\xff\\xff\\xff\\xff"
        )
        with snapshot_reader.started(10) as reader:
            def feed():
                reader.stdin.write(snapshot_reader._SIGNATURE + bytes(8) + row * {rows})
                reader.stdin.flush()
            threading.Thread(target=feed, daemon=True).start()
            print(reader.pid, flush=True)
            time.sleep(1.0)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    run = subprocess.run([sys.executable, "-c", app], capture_output=True, text=True, timeout=60)
    assert run.returncode == -signal.SIGKILL, run.stderr
    pid = int(run.stdout.strip())
    _assert_ends(pid, "the reader is still running after its app was killed")


def _snapshot_of(world: World, name: str, query: Callable[[Any], Any]) -> list[Any]:
    """The rows ``query(conn)`` (a COPY) gives ``name``'s device in a snapshot's transaction."""
    with (
        protocol.device_connection(world.devices[name]) as conn,
        conn.transaction(),
    ):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute("SELECT sim.snapshot_begin()")
        with conn.cursor().copy(query(conn)) as cp:
            cp.set_types(protocol.SNAPSHOT_TYPES)
            return list(cp.rows())


@pytest.mark.parametrize("name", ["lead", "officer", "clinician", "analyst"])
def test_the_streamed_snapshot_is_every_row_in_the_laptops_order(team: World, name: str) -> None:
    """Schema 0014: the rows of 0009's snapshot (shaped for the role: no clinical text or
    clock for an officer, the analyst's few fields), in the order 0012's function sorted them
    into; and an older laptop asking 0012's function gets the same."""
    order = list(TABLE_ORDER)
    streamed = _snapshot_of(team, name, lambda conn: protocol._ordered_snapshot(conn, order))
    whole = _snapshot_of(
        team, name, lambda conn: sql.SQL("COPY (SELECT * FROM sim.snapshot_rows()) TO STDOUT")
    )
    older = _snapshot_of(
        team,
        name,
        lambda conn: sql.SQL("COPY (SELECT * FROM sim.snapshot_rows({})) TO STDOUT").format(
            sql.Literal(order)
        ),
    )
    position = {table: n for n, table in enumerate(order)}

    def laptops_order(row: tuple[Any, ...]) -> tuple[Any, ...]:
        table, row_id, person_id = row[:3]
        # As PostgreSQL sorts: tables the laptop does not name last, by name; no person last.
        return (position.get(table, len(order)), table, person_id is None, person_id or 0, row_id)

    assert len(streamed) > 10
    assert streamed == sorted(whole, key=laptops_order)
    assert older == streamed
    clinical = [row for row in streamed if row[6]]
    if name in ("officer", "analyst"):
        assert not clinical
        assert not any("clinical_note" in (row[4] or {}) for row in streamed)
    else:
        assert clinical


def test_the_snapshot_streams_from_a_sql_function_called_row_by_row(team: World) -> None:
    """A function in FROM is gathered whole before its first row: the laptop calls the
    streaming one in the SELECT list, and it is SQL (PL/pgSQL always gathers)."""
    with protocol.device_connection(team.devices["lead"]) as conn:
        query = protocol._ordered_snapshot(conn, list(TABLE_ORDER)).as_string(conn)
    assert "(SELECT sim.snapshot_stream(" in query and "OFFSET 0" in query
    with team.db.admin_connect(autocommit=True) as admin:
        row = admin.execute(
            "SELECT l.lanname, p.proconfig FROM pg_proc p JOIN pg_language l"
            " ON l.oid = p.prolang WHERE p.oid = 'sim.snapshot_stream(text[])'::regprocedure"
        ).fetchone()
    assert row is not None
    language, settings = row
    assert language == "sql"
    assert "jit=off" in settings


KILLED_MID_SNAPSHOT = """
import json, os, signal, sys
from contextlib import contextmanager
from pathlib import Path
from sim_desk.records import sync
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import snapshot_reader
from sim_desk.teamserver import sync as team_sync
from tests.teamserver.laptops import LaptopClock

vault_path, data, state, config, user, kill_after = sys.argv[1:]
team_sync.SNAPSHOT_PAGE = 5
real_started, real_apply, applied = snapshot_reader.started, sync.apply_pull, []

@contextmanager
def started(page_size):
    with real_started(page_size) as reader:
        print(reader.pid, flush=True)
        yield reader

def apply_pull(vault, answer, now):
    result = real_apply(vault, answer, now=now)
    applied.append(answer.get("more"))
    if len(applied) == int(kill_after):
        os.kill(os.getpid(), signal.SIGKILL)  # with the reader running, pages in flight
    return result

snapshot_reader.started, sync.apply_pull = started, apply_pull
passphrase = json.loads(os.environ["SIM_DESK_CHILD_PASSPHRASES"])[user]
dirs = AppDirs(Path(data), Path(state), Path(config))
paths = VaultPaths.at(vault_path)
with unlock.unlock(paths, user, passphrase, dirs=dirs, clock=LaptopClock()) as vault:
    team_sync.sync_now(vault)
print("not killed", flush=True)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_a_laptop_killed_mid_first_sync_completes_it_at_the_next(
    team: World, tmp_path: Path
) -> None:
    from tests.reliability.child import PASSPHRASES_ENV
    from tests.teamserver.conftest import PASSPHRASES

    reference = laptop(team, "lead", tmp_path / "reference")
    reference.sync()
    machine = laptop(team, "lead", tmp_path / "machine")
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_MID_SNAPSHOT,
            str(machine.paths.database),
            *(str(folder) for folder in dataclasses.astuple(machine.dirs)),
            "lead",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, PASSPHRASES_ENV: json.dumps(PASSPHRASES)},
    )
    assert run.returncode == -signal.SIGKILL, run.stdout + run.stderr
    reader = int(run.stdout.split()[0])
    _assert_ends(reader, "the reader outlived the laptop killed mid-sync")
    machine.clock.at += timedelta(hours=1)  # after the killed run's own moments
    machine.sync()
    assert replica(machine) == replica(reference)


@pytest.mark.parametrize("chunk", [1 << 20, 100])
def test_copy_bytes_taken_straight_from_libpq_are_psycopgs(
    pg_cluster: Any, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """The snapshot's COPY bytes are taken from libpq a buffer at a time (``_copy_chunks``),
    not through ``Copy.read`` once a row: the same bytes in the same order, whether handed on
    in one piece or in many; and an error the server raises half-way through is raised as
    psycopg raises it, the connection left ready for the next statement."""
    monkeypatch.setattr(protocol, "_COPY_CHUNK", chunk)
    rows = sql.SQL(
        "COPY (SELECT i, repeat('é', i % 50), i::float8 / 7 FROM generate_series(1, 20000) i)"
        " TO STDOUT (FORMAT binary)"
    )
    with pg_cluster.admin_connect(autocommit=True) as conn:
        with conn.cursor().copy(rows) as cp:
            expected = b"".join(bytes(data) for data in cp)
        with conn.cursor().copy(rows) as cp:
            pieces = list(protocol._copy_chunks(conn.pgconn, cp))
        assert b"".join(pieces) == expected and len(expected) > 500_000
        # Each piece but the last is a chunk, and what a row more made it (rows of < 200 bytes).
        assert all(chunk <= len(piece) < chunk + 200 for piece in pieces[:-1])
        assert 0 < len(pieces[-1]) < chunk + 200
        spoiled = sql.SQL(
            "COPY (SELECT 1 / (i - 15000) FROM generate_series(1, 20000) i) TO STDOUT"
        )
        with pytest.raises(psycopg.errors.DivisionByZero), conn.cursor().copy(spoiled) as cp:
            for _ in protocol._copy_chunks(conn.pgconn, cp):
                pass
        assert conn.execute("SELECT 42").fetchone() == (42,)
