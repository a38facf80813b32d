"""The sync figures (issue 19): laptops syncing the stress team with a team server on localhost.

    lead_first_sync     a lead's laptop with an empty replica fills from the server
    pair_first_sync     a pair member's laptop does the same (its pair's people only)
    day_of_work_sync    50 changes made on an officer's laptop, pushed (its sync), then pulled
                        by the pair's clinician's laptop (its sync): the two syncs, timed together
    laptops_at_once     30 laptops (15 pairs), each with a day's work, syncing at the same moment;
                        then checked as the administrator: every change id once on the server,
                        and every laptop holding every change it may see
    publish_team        the lead's laptop publishing a whole team it holds (its first sync:
                        every record queued, pushed 500 a call, pulled back); at 1/20 scale

Every laptop is a copy of one "empty replica" of the stress vault (its users and their key
slots, no records), joined to the server as its user. Each figure is timed around
``sim_desk.teamserver.sync.sync_now`` with the vault already open, as the app's sync button
runs it. How the server is loaded: team_server.py.
"""

from __future__ import annotations

import gc
import shutil
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import common
import team_server
from sqlalchemy import select

from sim_desk.records import contacts, people, sync
from sim_desk.records.model import Person, SyncRow
from sim_desk.records.sync.tables import CLINICAL_FIELDS, REPLICATED
from sim_desk.records.team import users
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import store, unlock
from sim_desk.records.vault.files import VaultKeys, VaultPaths, unlock_user
from sim_desk.records.vault.unlock import opening
from sim_desk.teamserver.sync import SyncReport, sync_now

DAY_OF_WORK = 50  # changes a laptop makes in a day
AT_ONCE = 30  # laptops syncing at the same moment (full scale)


@dataclass(frozen=True)
class SyncRepeats:
    lead_first: int
    day_of_work: int
    at_once_rounds: int
    at_once_laptops: int


FULL = SyncRepeats(lead_first=3, day_of_work=9, at_once_rounds=3, at_once_laptops=AT_ONCE)
SMOKE = SyncRepeats(lead_first=1, day_of_work=2, at_once_rounds=1, at_once_laptops=4)


@dataclass(frozen=True)
class SyncBudget:
    key: str
    work: str
    limit: float | None  # seconds; None where the figure has no time budget
    full_only: bool = False  # not measured by --smoke


SYNC_BUDGETS = (
    SyncBudget(
        "lead_first_sync",
        "A lead's first sync: an empty replica filled from the server (the whole team)",
        60,
    ),
    SyncBudget("pair_first_sync", "A pair member's first sync (the pair's people)", 10),
    SyncBudget(
        "day_of_work_sync",
        "A day's work (50 changes) pushed by an officer's laptop, pulled by the clinician's",
        1,
    ),
    SyncBudget(
        "lead_day_of_work_pull",
        "The same day's work pulled by the lead's laptop (the whole team's replica)",
        1,
    ),
    SyncBudget(
        "laptops_at_once",
        "{laptops} laptops syncing a day's work at once (until the last is done): every change"
        " on the server once, and on every laptop that may see it",
        None,
    ),
    SyncBudget(
        "publish_team",
        "The lead's laptop publishing a team it holds (1/20 of the stress team), push 500 a call",
        None,
        full_only=True,
    ),
)


# -- keys and laptops ----------------------------------------------------------------------------


@contextmanager
def app_garbage_collection() -> Iterator[None]:
    """Garbage collected as the app collects it while a sync runs in its worker thread
    (``ui.app.collect_garbage_on_gui_thread``): no automatic collection, and once a second
    the youngest generation (older ones by Python's own thresholds), here from a timer thread
    in place of the GUI's timer. Python's automatic collection (the CLI's) costs a first sync
    about a fifth more: a million rows make many short-lived objects."""
    enabled = gc.isenabled()
    gc.disable()
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            _, older, oldest = gc.get_threshold()
            _, young_collections, older_collections = gc.get_count()
            if older_collections >= oldest:
                gc.collect(2)
            elif young_collections >= older:
                gc.collect(1)
            else:
                gc.collect(0)

    timer = threading.Thread(target=tick, name="gc-timer", daemon=True)
    timer.start()
    try:
        yield
    finally:
        stop.set()
        timer.join()
        if enabled:
            gc.enable()


class Keyring:
    """Each user's slot opened once (Argon2 once per user), handed back at every unlock."""

    def __init__(self, paths: VaultPaths) -> None:
        self.paths = paths
        self.keys: dict[str, VaultKeys] = {}

    def add(self, username: str) -> None:
        if username not in self.keys:
            self.keys[username] = unlock_user(self.paths, username, common.passphrase(username))

    @contextmanager
    def in_use(self) -> Iterator[None]:
        original = opening.unlock_user
        opening.unlock_user = lambda paths, username, passphrase: self.keys[username]  # type: ignore[assignment]
        try:
            yield
        finally:
            opening.unlock_user = original  # type: ignore[assignment]


def empty_replica(manifest: common.Manifest, folder: Path, keys: VaultKeys) -> VaultPaths:
    """A copy of the stress vault with every replicated record (and nothing of sync) taken out:
    the vault of a laptop that has joined but not yet synced. Built once, kept beside it."""
    name = Path(manifest.database).name
    target = VaultPaths.at(folder / f"empty-replica-{Path(name).stem}" / name)
    stamp = target.database.with_suffix(".built")
    if stamp.exists() and stamp.read_text() == manifest.as_of:
        return target
    shutil.rmtree(target.database.parent, ignore_errors=True)
    target.database.parent.mkdir(parents=True)
    source = manifest.paths
    with store.raw_connection(source.database, keys.record_key) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for original, copy in zip(source.all_files, target.all_files, strict=True):
        if original.exists():
            shutil.copy2(original, copy)
    from sim_desk.records.model.sync import SYNC_TABLES

    with store.raw_connection(target.database, keys.record_key) as conn:
        conn.execute("PRAGMA secure_delete = OFF")  # a copy of synthetic data
        # Everything goes, so the references are checked once at the end rather than for each
        # row deleted (a self-reference without an index makes that quadratic).
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN")
        for name in [spec.name for spec in reversed(REPLICATED)] + sorted(SYNC_TABLES):
            conn.execute(f'DELETE FROM "{name}"')
        conn.execute("COMMIT")
        found = conn.execute("PRAGMA foreign_key_check").fetchall()
        if found:
            raise RuntimeError(f"the empty replica has dangling references: {found[:5]}")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stamp.write_text(manifest.as_of)
    return target


@dataclass
class Laptop:
    username: str
    paths: VaultPaths
    vault: UnlockedVault
    clock: Callable[[], datetime]
    dirs: Any
    reports: list[SyncReport] = field(default_factory=list)

    def reopen(self) -> None:
        """Locks and unlocks again: who works in which pair is read at unlock, and a first
        sync is what brought the pairs."""
        self.vault.lock()
        self.vault = unlock.unlock(
            self.paths, self.username, "(keyring)", dirs=self.dirs, clock=self.clock
        )
        sync.attach(self.vault)

    def sync(self) -> float:
        started = time.perf_counter()
        self.reports.append(sync_now(self.vault))
        return time.perf_counter() - started


def new_laptop(
    template: VaultPaths,
    folder: Path,
    username: str,
    clock: Callable[[], datetime],
    dirs: Any,
    team: team_server.Team | None,
) -> Laptop:
    """A copy of ``template`` opened as ``username`` (keys from the keyring), joined to
    ``team`` unless the template has joined already."""
    target = VaultPaths.at(folder / Path(template.database).name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for original, copy in zip(template.all_files, target.all_files, strict=True):
        if original.exists():
            shutil.copy2(original, copy)
    vault = unlock.unlock(target, username, "(keyring)", dirs=dirs, clock=clock)
    sync.attach(vault)
    if team is not None:
        team_server.join(team, vault)
    return Laptop(username, target, vault, clock, dirs)


# -- a day's work ---------------------------------------------------------------------------------


def visible_people(vault: UnlockedVault) -> list[uuid.UUID]:
    with vault.read() as session:
        return list(session.execute(select(Person.id).order_by(Person.id)).scalars())


NOTE = "Walked to the park and talked about the week ahead; agreed to meet on Thursday."


def day_of_work(laptop: Laptop, seed: int, size: int = DAY_OF_WORK) -> None:
    """``size`` changes through the use cases: contacts logged (with clinical text on a
    clinician's laptop) and people's details edited, among the people this laptop holds."""
    vault = laptop.vault
    ids = visible_people(vault)
    if not ids:
        raise RuntimeError(f"{laptop.username}'s laptop holds nobody to work with")
    clinical = vault.actor.clinical and vault.has_clinical_key
    made = sync.status(vault).waiting
    n = 0
    while sync.status(vault).waiting - made < size:
        person = ids[(seed * 7 + n) % len(ids)]
        if n % 5 == 4:
            record = people.view_person(vault, person)
            details = record.details
            preferred = f"{details.given_name[:3]}{seed % 100:02d}{n:03d}"
            people.update_person(vault, person, replace(details, preferred_name=preferred))
        else:
            contacts.log_contact(
                vault,
                person,
                contacts.ContactDetails(
                    started_at=vault.now() - timedelta(hours=2, minutes=n),
                    duration_minutes=45,
                    mechanism="01",
                    attendance="5",
                    staff_present="both",
                    place="Park",
                    shared_note=NOTE,
                    clinical_note="Brighter; sleeping better." if clinical else None,
                ),
            )
        n += 1
    if sync.status(vault).waiting - made != size:
        raise RuntimeError("a day's work made more changes than planned")


# -- the checks ----------------------------------------------------------------------------------


def server_changes_after(team: team_server.Team, after: int) -> list[dict[str, Any]]:
    with team.admin_connect() as conn:
        cur = conn.execute(
            "SELECT c.seq, c.change_id, c.table_name, c.row_id, c.person_id, c.op, c.clock,"
            " c.payload, coalesce(array_agg(cc.field) FILTER (WHERE cc.field IS NOT NULL), '{}')"
            " FROM sim.changes c LEFT JOIN sim.clinical_changes cc ON cc.seq = c.seq"
            " WHERE c.seq > %s GROUP BY c.seq ORDER BY c.seq",
            (after,),
        )
        return [
            {
                "seq": seq,
                "change_id": change_id,
                "table": table,
                "row_id": row_id,
                "person_id": person_id,
                "op": op,
                "clock": stamp,
                "fields": set(payload or {}),
                "clinical": set(clinical),
            }
            for seq, change_id, table, row_id, person_id, op, stamp, payload, clinical in cur
        ]


def may_see(team: team_server.Team, laptop: Laptop) -> tuple[set[uuid.UUID] | None, bool]:
    """The people ``laptop``'s user may see, worked out by the administrator from the server's
    own tables (None: everyone), and whether it gets clinical text."""
    user = laptop.vault.actor
    with team.admin_connect() as conn:
        (role, clinical) = conn.execute(
            "SELECT role, clinical FROM sim.users WHERE id = %s", (user.user_id,)
        ).fetchone()  # type: ignore[misc]
        if role == "team_lead":
            return None, bool(clinical)
        rows = conn.execute(
            "SELECT c.person_id FROM sim.caseload c JOIN sim.pairs p ON p.id = c.pair_id"
            " WHERE p.active AND NOT c.deleted AND (p.officer_id = %s OR p.clinician_id = %s)"
            " AND (c.police_sharing OR %s <> 'officer')",
            (user.user_id, user.user_id, role),
        ).fetchall()
    return {r[0] for r in rows}, bool(clinical)


def check_laptops(
    team: team_server.Team, laptops: list[Laptop], made: dict[uuid.UUID, str], after: int
) -> dict[str, Any]:
    """As the administrator: each change id made on a laptop is on the server once, and every
    laptop holds every change since ``after`` that it may see (each field at that change's
    clock or a later one). Raises AssertionError on the first loss or double."""
    with team.admin_connect() as conn:
        counted = dict(
            conn.execute(
                "SELECT change_id, count(*) FROM sim.changes WHERE change_id = ANY(%s)"
                " GROUP BY change_id",
                (list(made),),
            ).fetchall()
        )
        (doubled,) = conn.execute(
            "SELECT count(*) FROM (SELECT change_id FROM sim.changes GROUP BY change_id"
            " HAVING count(*) > 1) d"
        ).fetchone()  # type: ignore[misc]
    lost = [c for c in made if counted.get(c, 0) == 0]
    twice = [c for c, n in counted.items() if n != 1]
    if lost or twice or doubled:
        raise AssertionError(
            f"server: {len(lost)} changes lost, {len(twice) + doubled} held more than once"
        )
    changes = server_changes_after(team, after)
    checked = 0
    for laptop in laptops:
        status = sync.status(laptop.vault)
        if status.waiting or status.sent_not_seen_back or status.refused:
            raise AssertionError(f"{laptop.username}: outbox not empty after syncing: {status}")
        people_seen, clinical = may_see(team, laptop)
        wanted = [
            c
            for c in changes
            if c["person_id"] is None or people_seen is None or c["person_id"] in people_seen
        ]
        ids = list({c["row_id"] for c in wanted})
        with laptop.vault.read() as session:
            shadows = {
                row_id: (deleted, clocks)
                for start in range(0, len(ids), 500)
                for row_id, deleted, clocks in session.execute(
                    select(SyncRow.id, SyncRow.deleted, SyncRow.clocks).where(
                        SyncRow.id.in_(ids[start : start + 500])
                    )
                )
            }
            present: set[uuid.UUID] = set()
            for spec in REPLICATED:
                table = spec.table
                mine = [c["row_id"] for c in wanted if c["table"] == spec.name]
                for start in range(0, len(mine), 500):
                    present.update(
                        session.execute(
                            select(table.c.id).where(table.c.id.in_(mine[start : start + 500]))
                        ).scalars()
                    )
        for c in wanted:
            shadow = shadows.get(c["row_id"])
            if shadow is None:
                raise AssertionError(f"{laptop.username}: change {c['change_id']} never arrived")
            deleted, clocks = shadow
            if deleted:
                continue
            if c["row_id"] not in present:
                raise AssertionError(f"{laptop.username}: row of {c['change_id']} is missing")
            names = c["fields"] | (c["clinical"] if clinical else set())
            names -= CLINICAL_FIELDS.get(c["table"], frozenset()) if not clinical else set()
            behind = [n for n in names if str(clocks.get(n, "")) < c["clock"]]
            if behind:
                raise AssertionError(
                    f"{laptop.username}: change {c['change_id']} not applied ({behind})"
                )
            checked += 1
    return {
        "changes_made": len(made),
        "changes_on_server_once": len(counted),
        "laptop_changes_checked": checked,
    }


# -- the figures -----------------------------------------------------------------------------------


@dataclass
class SyncResults:
    samples: dict[str, list[float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, seconds: float) -> None:
        self.samples.setdefault(key, []).append(seconds)


def pair_users(vault: UnlockedVault, count: int) -> list[users.UserView]:
    """The first ``count`` pair members, officer and clinician of each pair in turn."""
    everyone = {u.username: u for u in users.list_users(vault)}
    chosen = []
    n = 1
    while len(chosen) < count and f"officer{n:02d}" in everyone:
        for who in ("officer", "clinician"):
            if len(chosen) < count:
                chosen.append(everyone[f"{who}{n:02d}"])
        n += 1
    return chosen


def laptops_at_once(laptops: list[Laptop]) -> tuple[float, list[float]]:
    """Every laptop's sync started at the same moment (one thread each); the wall time until
    the last has finished, and each one's own time."""
    gate = threading.Barrier(len(laptops) + 1)
    times: list[float] = [0.0] * len(laptops)
    errors: list[BaseException] = []

    def run(index: int, laptop: Laptop) -> None:
        gate.wait()
        try:
            times[index] = laptop.sync()
        except BaseException as exc:  # reported below, with the laptop's name
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(i, lap), name=lap.username)
        for i, lap in enumerate(laptops)
    ]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, times


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else 0.0


def server_rows(team: team_server.Team) -> dict[str, Any]:
    """What a team's server holds, without the clocks' values and change numbers (which differ
    between two ways of loading the same records)."""
    with team.admin_connect() as conn:
        return {
            "rows": {
                r[0]: r[1:]
                for r in conn.execute(
                    "SELECT row_id, table_name, person_id, payload, deleted,"
                    " ARRAY(SELECT jsonb_object_keys(clocks) ORDER BY 1) FROM sim.rows"
                )
            },
            "one_clock_per_row": conn.execute(
                "SELECT count(*) FROM sim.rows r WHERE (SELECT count(DISTINCT value)"
                " FROM jsonb_each_text(r.clocks)) > 1"
            ).fetchone(),
            "caseload": set(
                conn.execute("SELECT person_id, pair_id, deleted, police_sharing FROM sim.caseload")
            ),
            "pairs": set(
                conn.execute("SELECT id, officer_id, clinician_id, active FROM sim.pairs")
            ),
            "clinical": set(
                conn.execute(
                    "SELECT row_id, field, person_id, ciphertext, key_epoch"
                    " FROM sim.clinical_fields"
                )
            ),
            "clinical_changes": conn.execute(
                "SELECT count(*) FROM sim.clinical_changes"
            ).fetchone(),
            "changes": conn.execute(
                "SELECT count(*), count(DISTINCT change_id), count(DISTINCT row_id)"
                " FROM sim.changes"
            ).fetchone(),
            "merge_proposals": conn.execute("SELECT count(*) FROM sim.merge_proposals").fetchone(),
        }


def check_load(bulk: team_server.Team, published: team_server.Team) -> dict[str, int]:
    """The bulk-loaded server holds what the lead's laptop published through push: the same
    rows, payloads, people, clinical text and fields clocked."""
    a, b = server_rows(bulk), server_rows(published)
    for key in a:
        if a[key] != b[key]:
            if key == "rows":
                both = a[key].keys() | b[key].keys()
                differ = [k for k in both if a[key].get(k) != b[key].get(k)]
                raise AssertionError(
                    f"bulk load and publishing differ in {len(differ)} rows, e.g."
                    f" {a[key].get(differ[0])} vs {b[key].get(differ[0])}"
                )
            raise AssertionError(f"bulk load and publishing differ in {key}: {a[key]} vs {b[key]}")
    return {"rows_compared": len(a["rows"]), "clinical_compared": len(a["clinical"])}


def _device_of(laptop: Laptop) -> uuid.UUID:
    from sim_desk.records.model import TeamServerDevice

    with laptop.vault.read() as session:
        return session.execute(select(TeamServerDevice.device_id)).scalar_one()


def load(
    team: team_server.Team, manifest: common.Manifest, device_id: uuid.UUID, dirs: Any
) -> dict[str, Any]:
    """The stress team into ``team``'s server, in bulk, as the lead's device published it
    an hour before the vault's clock starts (see team_server.py)."""
    clock = common.bench_clock(manifest.as_of_time)
    stress = unlock.unlock(manifest.paths, common.LEAD, "-", dirs=dirs, clock=clock)
    try:
        loaded = team_server.load_team(
            team, stress, device_id, manifest.as_of_time - timedelta(hours=1)
        )
    finally:
        stress.lock()
    return {
        "how": "COPY into the server's tables as the administrator",
        "rows": loaded.rows,
        "people": loaded.people,
        "clinical_fields": loaded.clinical,
        "seconds": {k: round(v, 1) for k, v in loaded.seconds.items()},
    }


def publish(
    cluster: Any, manifest: common.Manifest, folder: Path, dirs: Any, results: SyncResults
) -> None:
    """The lead's laptop publishing the whole team it holds (its first sync), timed; then the
    same team loaded in bulk into another database, and the two servers compared."""
    keyring = Keyring(manifest.paths)
    keyring.add(common.LEAD)
    clock = common.bench_clock(manifest.as_of_time)
    with keyring.in_use():
        published = team_server.new_team(cluster, "Stress test trust (published)")
        laptop = new_laptop(
            manifest.paths, folder / "publisher", common.LEAD, clock, dirs, published
        )
        try:
            results.add("publish_team", laptop.sync())
            report = laptop.reports[-1]
            bulk = team_server.new_team(cluster, "Stress test trust (bulk)")
            # The bulk load names a device of its own team as the rows' author.
            author = new_laptop(manifest.paths, folder / "author", common.LEAD, clock, dirs, bulk)
            author_device = _device_of(author)
            author.vault.lock()
            loaded = load(bulk, manifest, author_device, dirs)
        finally:
            laptop.vault.lock()
            shutil.rmtree(folder / "publisher", ignore_errors=True)
            shutil.rmtree(folder / "author", ignore_errors=True)
    results.details["publish_team"] = {
        "people": manifest.people,
        "rows": loaded["rows"],
        "pushed": report.pushed,
        "same_as_bulk_load": check_load(bulk, published),
    }


def measure(
    manifest: common.Manifest,
    repeats: SyncRepeats,
    out: Path,
    *,
    publish_manifest: common.Manifest | None = None,
    say: Callable[[str], None] = print,
) -> SyncResults:
    """Every sync figure: one durable PostgreSQL for the run, the stress team loaded in bulk,
    then the laptops (see the module's docstring)."""
    results = SyncResults()
    details = results.details
    folder = out / "sync"
    shutil.rmtree(folder, ignore_errors=True)
    dirs = common.app_dirs(out)
    keyring = Keyring(manifest.paths)
    keyring.add(common.LEAD)
    started = time.perf_counter()
    template = empty_replica(manifest, out, keyring.keys[common.LEAD])
    details["empty_replica_seconds"] = round(time.perf_counter() - started, 1)
    clock = common.bench_clock(manifest.as_of_time)
    laptops: list[Laptop] = []
    try:
        with (
            keyring.in_use(),
            app_garbage_collection(),
            team_server.running_cluster() as cluster,
        ):
            say("sync: a team server on localhost; the lead joins, the team is loaded in bulk")
            team = team_server.new_team(cluster, "Stress test trust (synthetic data)")
            with team.admin_connect() as conn:
                (version,) = conn.execute("SHOW server_version").fetchone()  # type: ignore[misc]
            details["server"] = {"version": str(version).split()[0], **team_server.DURABLE}
            joined = new_laptop(template, folder / "lead-joined", common.LEAD, clock, dirs, team)
            device_id = _device_of(joined)
            everyone = pair_users(joined.vault, repeats.at_once_laptops)
            joined.vault.lock()
            details["server_load"] = load(team, manifest, device_id, dirs)
            say(
                f"sync: {details['server_load']['rows']:,} rows loaded in"
                f" {details['server_load']['seconds']['total']:.0f} s"
            )

            say(f"sync: a lead's first sync ({repeats.lead_first} runs)")
            lead = None
            for n in range(repeats.lead_first):
                if lead is not None:
                    lead.vault.lock()
                    shutil.rmtree(lead.paths.database.parent, ignore_errors=True)
                # Each run a laptop of its own: a copy of one joined laptop synced again would
                # be a laptop put back from an older copy, which the server's audit check refuses.
                lead = new_laptop(template, folder / f"lead-{n}", common.LEAD, clock, dirs, team)
                results.add("lead_first_sync", lead.sync())
                report = lead.reports[-1]
                details["lead_first_sync"] = {
                    "rows": report.pulled_rows,
                    "pages": report.pages,
                    "replica_mib": round(lead.paths.database.stat().st_size / 2**20),
                }
            assert lead is not None
            laptops.append(lead)

            say(f"sync: {len(everyone)} pair members' laptops join and make their first sync")
            pair: list[Laptop] = []
            for user in everyone:
                keyring.add(user.username)
                laptop = new_laptop(
                    template, folder / user.username, user.username, clock, dirs, team
                )
                laptops.append(laptop)
                pair.append(laptop)
                results.add("pair_first_sync", laptop.sync())
                details.setdefault("pair_first_sync_rows", []).append(
                    laptop.reports[-1].pulled_rows
                )
                laptop.reopen()
            with team.admin_connect() as conn:
                (seq_before,) = conn.execute("SELECT last_seq FROM sim.team").fetchone()  # type: ignore[misc]
            made: dict[uuid.UUID, str] = {}

            say(f"sync: a day's work pushed and pulled ({repeats.day_of_work} runs)")
            officer, clinician = pair[0], pair[1]
            lead.sync()  # (what the pair members' first syncs sent the server)
            pushes, pulls = [], []
            for n in range(repeats.day_of_work):
                day_of_work(officer, seed=n)
                for change in sync.pending_changes(officer.vault, 10_000):
                    made[uuid.UUID(change["change_id"])] = officer.username
                push = officer.sync()
                pull = clinician.sync()
                if clinician.reports[-1].pulled_rows < DAY_OF_WORK:
                    raise AssertionError("the pair's other laptop did not receive the day's work")
                pushes.append(push)
                pulls.append(pull)
                results.add("day_of_work_sync", push + pull)
                results.add("lead_day_of_work_pull", lead.sync())
                if lead.reports[-1].pulled_rows < DAY_OF_WORK:
                    raise AssertionError("the lead's laptop did not receive the day's work")
            details["day_of_work_sync"] = {
                "changes": DAY_OF_WORK,
                "push_median": median(pushes),
                "pull_median": median(pulls),
            }

            say(
                f"sync: {len(pair)} laptops syncing a day's work at once"
                f" ({repeats.at_once_rounds} rounds)"
            )
            each: list[float] = []
            for r in range(repeats.at_once_rounds):
                for i, laptop in enumerate(pair):
                    day_of_work(laptop, seed=1000 * (r + 1) + i)
                    for change in sync.pending_changes(laptop.vault, 10_000):
                        made[uuid.UUID(change["change_id"])] = laptop.username
                elapsed, times = laptops_at_once(pair)
                results.add("laptops_at_once", elapsed)
                each += times
                for laptop in laptops:  # once more: what others pushed after this one pulled
                    laptop.sync()
            details["laptops_at_once"] = {
                "laptops": len(pair),
                "changes_each": DAY_OF_WORK,
                "one_laptop_median": median(each),
                "one_laptop_max": round(max(each), 3),
            }
            say("sync: every change checked as the administrator")
            try:
                details["laptops_at_once"]["check"] = check_laptops(team, laptops, made, seq_before)
            except AssertionError as failed:
                details["laptops_at_once"]["check_failed"] = str(failed)
            if publish_manifest is not None:
                say(f"sync: publish a team of {publish_manifest.people} people (push, 500 a call)")
                publish(cluster, publish_manifest, folder, dirs, results)
    finally:
        for laptop in laptops:
            if not laptop.vault.is_locked:
                laptop.vault.lock()
        shutil.rmtree(folder, ignore_errors=True)
    return results


# -- reporting -------------------------------------------------------------------------------------


def summarise(results: SyncResults) -> dict[str, Any]:
    """Each sync figure as run.py reports figures: median, min, max, runs, in seconds."""
    figures: dict[str, Any] = {}
    for budget in SYNC_BUDGETS:
        samples = results.samples.get(budget.key)
        if samples:
            figures[budget.key] = {
                "unit": "s",
                "value": round(statistics.median(samples), 3),
                "min": round(min(samples), 3),
                "max": round(max(samples), 3),
                "runs": len(samples),
                "samples": [round(x, 3) for x in samples],
            }
    return figures


def verdicts(figures: dict[str, Any], details: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for b in SYNC_BUDGETS:
        f = figures.get(b.key)
        if f is None:
            rows[b.key] = {"value": None, "passed": None, "full_only": b.full_only}
            continue
        if b.limit is not None:
            passed = f["value"] <= b.limit
        elif b.key == "laptops_at_once":
            passed = "check" in details.get(b.key, {})
        else:
            passed = True
        rows[b.key] = {"value": f["value"], "budget": b.limit, "passed": passed}
    return rows


def markdown(doc: dict[str, Any]) -> list[str]:
    figures, verdict = doc["figures"], doc["verdicts"]
    details = doc.get("details", {}).get("sync")
    if not details:
        return []
    load = details["server_load"]
    server = details.get("server", {})
    lines = [
        "",
        f"Sync with a team server on localhost (PostgreSQL {server.get('version', '?')}, durable:"
        " fsync and synchronous commit on), started as the team-server tests start theirs."
        f" The stress team ({load['rows']:,} rows, {load['people']:,} people) was loaded by"
        f" COPY as the administrator in {load['seconds']['total']:,.0f} s (see"
        " benchmarks/README.md). Median of the runs shown, (min–max).",
        "",
        "| work | budget | laptop(s) | result |",
        "|---|---|---|---|",
    ]
    for b in SYNC_BUDGETS:
        f = figures.get(b.key)
        budget = f"≤ {b.limit:g} s" if b.limit is not None else "no time budget"
        work = b.work.format(laptops=details.get(b.key, {}).get("laptops", AT_ONCE))
        if f is None:
            lines.append(f"| {work} | {budget} | not measured | |")
            continue
        ok = "pass" if verdict[b.key]["passed"] else "**MISS**"
        if b.key == "laptops_at_once":
            ok = "every change once, everywhere" if verdict[b.key]["passed"] else "**LOST**"
        lines.append(
            f"| {work} | {budget} | {f['value']:,.2f} s ({f['min']:,.2f}–{f['max']:,.2f} s,"
            f" {f['runs']} runs) | {ok} |"
        )
    lead = details.get("lead_first_sync", {})
    if lead:
        lines += [
            "",
            f"The lead's replica: {lead['rows']:,} rows in {lead['pages']} pages,"
            f" {lead['replica_mib']:,} MiB encrypted. A pair member's:"
            f" {statistics.median(details['pair_first_sync_rows']):,.0f} rows (median).",
        ]
    day = details.get("day_of_work_sync")
    if day:
        lines.append(
            f"A day's work: the officer's sync (push, then pull) {day['push_median']:.2f} s,"
            f" the clinician's (pull) {day['pull_median']:.2f} s (medians)."
        )
    at_once = details.get("laptops_at_once")
    if at_once and "check" in at_once:
        c = at_once["check"]
        lines.append(
            f"{at_once['laptops']} laptops at once: each laptop's own sync"
            f" {at_once['one_laptop_median']:.2f} s (median), {at_once['one_laptop_max']:.2f} s"
            f" at most; checked as the administrator: {c['changes_made']:,} changes made, each"
            f" on the server once; {c['laptop_changes_checked']:,} (laptop, change) pairs"
            " present at their clock or later."
        )
    publish = details.get("publish_team")
    if publish:
        same = publish["same_as_bulk_load"]
        lines.append(
            f"Publishing: a team of {publish['people']:,} people, {publish['rows']:,} rows"
            f" pushed; the server it made holds what the bulk load makes of the same vault"
            f" ({same['rows_compared']:,} rows, {same['clinical_compared']:,} clinical fields"
            " compared)."
        )
    return lines
