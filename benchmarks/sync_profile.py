"""Where a small sync's time goes (issue 19's "a day's work synced in under 1 s").

    .venv/bin/python benchmarks/sync_profile.py [--people 100] [--runs 5] [--out DIR]

Builds a team server on localhost loaded with a stress team (benchmarks/.data, made by
``make bench-smoke`` or ``make bench``), joins an officer's and a clinician's laptop of one
pair, makes their first syncs, then a day's work (50 changes) on the officer's laptop: the
officer's sync (push, then pull) and the clinician's (pull) are timed step by step, and the
server round trips of each counted (libpq's trace of the real connection, which costs a
little itself). Prints the medians per step ("·": part of the step above it); what no step
names is in "other". Run it from a checkout; sim_desk is imported from beside benchmarks/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common
import sync_figures
import team_server

from sim_desk.records import sync as records_sync
from sim_desk.records.sync import standing
from sim_desk.teamserver import sync as engine

try:
    from sim_desk.teamserver import starting
except ImportError:  # a checkout before schema 0010
    starting = None  # type: ignore[assignment]
from tests.teamserver.round_trips import round_trips, traced_connections

#: (module, attribute, label): the steps of sim_desk.teamserver.sync._sync_once timed.
STEPS: list[tuple[Any, str, str]] = [
    (engine.protocol, "connect", "connect (TLS, SCRAM)"),
    (engine.leavers, "_standing", "check-in (device standing)"),
    (getattr(engine, "starting", None), "start", "start (standing, hello, audit, users)"),
    (engine.protocol, "hello", "hello"),
    (engine.audit_chain, "push_audit_chain", "audit chain (head + push)"),
    (engine.directory, "sync_directory", "users directory"),
    (engine.sync, "begin", "begin (local)"),
    (engine.sync, "restamp_ahead", "restamp ahead (local)"),
    (engine, "_push_all", "push"),
    (engine, "_pull_all", "pull"),
    (engine.keys, "sync_keys", "keys"),
    (engine.directory, "refresh_signed_in_pairs", "signed-in pairs (local)"),
    (engine.team_syncs, "note_sync_done", "sync done"),
    (engine.team_syncs, "sync_done", "sync done (server)"),
    (standing, "record_check_in", "record check-in (local)"),
    (getattr(engine, "completeness", None), "note_team_syncs", "team's syncs kept (local)"),
    (engine.sync, "note_error", "note error (local)"),
    # Parts of the steps above (not counted twice in "other").
    (engine.sync, "pending_changes", "· push: outbox read (local)"),
    (engine.protocol, "push", "· push: server"),
    (engine.sync, "record_push", "· push: answers kept (local)"),
    (engine.protocol, "pull", "· pull: server"),
    (engine.sync, "apply_pull", "· pull: applied (local)"),
    (engine.keys, "_state", "· keys: key state (server)"),
    (engine.leavers, "read_standing", "· start: device standing (before 0010)"),
    (engine.protocol, "hello", "· start: hello (before 0010)"),
]


class StepTimer:
    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.runs: list[dict[str, float]] = []
        self.trips: list[int] = []
        self._traces: list[Path] = []

    def wrap(self, label: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.current[label] += time.perf_counter() - started

        return timed

    @contextmanager
    def installed(self) -> Iterator[None]:
        saved = []
        for owner, name, label in STEPS:
            if owner is None or not hasattr(owner, name):
                continue  # a step folded away
            original = getattr(owner, name)
            saved.append((owner, name, original))
            setattr(owner, name, self.wrap(label, original))
        try:
            with traced_connections() as self._traces:
                yield
        finally:
            for owner, name, original in reversed(saved):
                setattr(owner, name, original)
            for trace in self._traces:
                trace.unlink(missing_ok=True)

    def sync(self, laptop: sync_figures.Laptop) -> float:
        self.current = defaultdict(float)
        first_trace = len(self._traces)
        total = laptop.sync()
        self.current["total"] = total
        steps = [v for k, v in self.current.items() if k != "total" and not k.startswith("·")]
        self.current["other"] = total - sum(steps)
        self.runs.append(dict(self.current))
        self.trips.append(round_trips(self._traces[first_trace:]))
        return total


#: The calls a sync makes with nothing to do, each timed alone (read-only or repeatable ones).
CALLS = (
    "SELECT 1",
    "SELECT sim.device_standing()",
    "SELECT sim.hello()",
    "SELECT sim.audit_head()",
    "SELECT sim.users_directory()",
    "SELECT sim.key_state()",
    "SELECT sim.pull(%s, 1000)",
    "SELECT sim.sync_done()",
    "SELECT sim.sync_start(%s, %s)",
)


def server_calls(laptop: sync_figures.Laptop, jit: bool) -> dict[str, tuple[float, float]]:
    """How long each call takes on the server and the wire, first in a session and after
    (with PostgreSQL's JIT compilation on or off for the session)."""
    from sim_desk.records.team import device

    credential = device.device_credential(laptop.vault)
    cursor = records_sync.cursor(laptop.vault)
    end, end_hash = starting.chain_end(laptop.vault) if starting else (0, "")
    timed: dict[str, tuple[float, float]] = {}
    with engine.protocol.device_connection(credential) as conn:
        conn.execute(f"SET jit = {'on' if jit else 'off'}")
        for query in CALLS:
            if "sync_start" in query and starting is None:
                continue
            times = []
            for _ in range(5):
                params = (
                    (cursor,) if "pull" in query else (end, end_hash) if "start" in query else ()
                )
                started = time.perf_counter()
                with conn.transaction():
                    conn.execute(query, params).fetchone()
                times.append(1000 * (time.perf_counter() - started))
            timed[query] = (times[0], statistics.median(times[1:]))
    return timed


def table(name: str, timer: StepTimer) -> list[str]:
    labels = [label for _, _, label in STEPS] + ["other", "total"]
    lines = [f"{name}: medians of {len(timer.runs)} runs, ms", ""]
    for label in labels:
        values = [run.get(label, 0.0) for run in timer.runs]
        if any(values):
            lines.append(f"  {label:34s} {1000 * statistics.median(values):8.1f}")
    lines.append(f"  {'server round trips':34s} {statistics.median(timer.trips):8.0f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "sync-profile")
    args = parser.parse_args()
    manifest = common.Manifest.load(args.data / f"{common.vault_stem(args.people, 5)}.json")
    if manifest is None:
        print(f"No stress vault of {args.people} people in {args.data}: run make bench-smoke.")
        return 2
    out = args.out
    shutil.rmtree(out / "sync", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    dirs = common.app_dirs(out)
    keyring = sync_figures.Keyring(manifest.paths)
    keyring.add(common.LEAD)
    template = sync_figures.empty_replica(manifest, out, keyring.keys[common.LEAD])
    clock = common.bench_clock(manifest.as_of_time)
    officer_timer, clinician_timer = StepTimer(), StepTimer()
    laptops: list[sync_figures.Laptop] = []
    try:
        with keyring.in_use(), team_server.running_cluster() as cluster:
            team = team_server.new_team(cluster, "Profile trust (synthetic data)")
            lead = sync_figures.new_laptop(
                template, out / "sync" / "lead", common.LEAD, clock, dirs, team
            )
            laptops.append(lead)
            pair = sync_figures.pair_users(lead.vault, 2)
            sync_figures.load(team, manifest, sync_figures._device_of(lead), dirs)
            for user in pair:
                keyring.add(user.username)
                laptop = sync_figures.new_laptop(
                    template, out / "sync" / user.username, user.username, clock, dirs, team
                )
                laptops.append(laptop)
                laptop.sync()
                laptop.reopen()
            officer, clinician = laptops[1], laptops[2]
            officer.sync(), clinician.sync()  # anything the first syncs left (key wraps)
            for n in range(args.runs):
                sync_figures.day_of_work(officer, seed=n)
                with officer_timer.installed():
                    officer_timer.sync(officer)
                with clinician_timer.installed():
                    clinician_timer.sync(clinician)
                if clinician.reports[-1].pulled_rows < sync_figures.DAY_OF_WORK:
                    raise AssertionError("the clinician's laptop did not receive the day's work")
            calls = {jit: server_calls(clinician, jit) for jit in (True, False)}
            idle = StepTimer()
            for _ in range(args.runs):
                with idle.installed():
                    idle.sync(clinician)
    finally:
        for laptop in laptops:
            if not laptop.vault.is_locked:
                laptop.vault.lock()
    size = {
        who.username: round(who.paths.database.stat().st_size / 2**20, 1) for who in laptops[1:]
    }
    print(f"\n{args.people}-person stress team, pair replicas (MiB): {size}")
    for name, timer in (
        ("officer's sync of a day's work (push, then pull)", officer_timer),
        ("clinician's sync (pull the day's work)", clinician_timer),
        ("a sync with nothing to do (clinician)", idle),
    ):
        print("\n".join(["", *table(name, timer)]))
    print("\nEach call in one device session: first, then median of the next 4 (ms)")
    print(f"  {'':44s} {'JIT on':>17s} {'JIT off':>17s}")
    for query, (first, then) in calls[True].items():
        off = calls[False][query]
        print(f"  {query:44s} {first:8.1f} {then:8.1f} {off[0]:8.1f} {off[1]:8.1f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.exit(main())
