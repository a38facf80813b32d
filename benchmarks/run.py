"""Measures SIM Desk on the stress vault against the budgets of issue 8.

    .venv/bin/python benchmarks/run.py            # 2,000 people, 5 years (built if missing)
    .venv/bin/python benchmarks/run.py --smoke    # 1/20 scale, every figure, never fails on time
    .venv/bin/python benchmarks/run.py --profile cohort_pdf   # cProfile one figure

Each figure is the median of repeated runs (min and max beside it). Every database figure is
measured on the encrypted vault and, in the same run and interleaved with it, on an unencrypted
SQLite copy of the same data opened the same way: these machines are noisy, so the ratio is the
figure that counts. The clock is the moment the vault was built (see common.bench_clock).

A full run writes benchmarks/results.json and benchmarks/results.md, and copies the table into
the README's Performance section; --smoke writes them under benchmarks/.data/ and exits non-zero
only if a figure is missing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import make_vault
import sync_figures

from sim_desk.records import contacts, incidents, people, visits
from sim_desk.records.read_models import caseload, outcome_data
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import unlock_user
from sim_desk.records.vault.unlock import opening

HERE = common.HERE
GUI_PROBE = HERE / "gui_probe.py"
CASELOAD_PAGE = 200  # ui.caseload.PAGE_SIZE: the rows the model asks for per query

# -- budgets (issue 8) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    key: str
    work: str
    limit: float
    unit: str  # "ms", "s", "MB", "x"


BUDGETS = (
    Budget("unlock_to_today", "Unlock (Argon2 excluded) to Today view data ready", 300, "ms"),
    Budget("caseload_keystroke", "Caseload search, per keystroke, all people", 50, "ms"),
    Budget("open_workspace", "Open a person workspace, 5 years, all tabs' data", 150, "ms"),
    Budget("log_contact", "Log a contact, committed durably", 25, "ms"),
    Budget("person_pdf", "Person PDF report", 1, "s"),
    Budget("cohort_pdf", "Cohort PDF report, all people, with equality section", 10, "s"),
    Budget("export", "Anonymised export (plan and write), all people", 3, "s"),
    Budget("query_mix_ratio", "Encrypted / plain SQLite, same query mix", 1.3, "x"),
    Budget("gui_peak_memory", "Peak memory of the GUI with the stress vault open", 400, "MB"),
    Budget("startup_ratio", "Process start to unlock dialog shown / bare PySide6 window", 1.5, "x"),
)


@dataclass
class Figure:
    samples: list[float] = field(default_factory=list)  # seconds

    def summary(self, scale: float) -> dict[str, float]:
        s = [x * scale for x in self.samples]
        return {
            "median": round(statistics.median(s), 3),
            "min": round(min(s), 3),
            "max": round(max(s), 3),
            "runs": len(s),
        }


@dataclass(frozen=True)
class Repeats:
    unlock: int
    keystroke_rounds: int
    workspace: int
    log_contact: int
    person_pdf: int
    cohort_pdf: int
    export: int
    mix: int
    startup: int


FULL = Repeats(9, 5, 9, 25, 5, 3, 3, 5, 7)
SMOKE = Repeats(2, 1, 2, 3, 1, 1, 1, 1, 2)

# -- the work, each as the app does it -----------------------------------------------------------


@contextmanager
def cached_keys(keys: Any) -> Iterator[None]:
    """unlock.unlock without Argon2: the slot is opened once, its keys handed back each time."""
    original = opening.unlock_user
    opening.unlock_user = lambda paths, username, passphrase: keys  # type: ignore[assignment]
    try:
        yield
    finally:
        opening.unlock_user = original  # type: ignore[assignment]


def unlock_to_today(paths: Any, dirs: Any, clock: Any) -> UnlockedVault:
    vault = unlock.unlock(paths, common.LEAD, "(cached)", dirs=dirs, clock=clock)
    caseload.today_view(vault)
    return vault


def keystrokes(names: list[str]) -> list[str]:
    """What the search box holds after each key: the first four letters of each name."""
    typed = []
    for name in [*names[:2], "Smith"]:
        typed += [name[:n] for n in range(1, min(4, len(name)) + 1)]
    return typed


def caseload_keystroke(vault: UnlockedVault, text: str) -> None:
    """What CaseloadModel.reload asks the records layer on each (debounced) keystroke."""
    total = caseload.count_caseload(vault, text)
    caseload.search_caseload(vault, text, limit=min(CASELOAD_PAGE, total) or CASELOAD_PAGE)


def open_workspace(vault: UnlockedVault, person_id: uuid.UUID) -> None:
    """Every tab's data: header and record, contacts, visit plan, incidents, outcomes."""
    people.view_person(vault, person_id)
    contacts.list_contacts(vault, person_id)
    visits.list_plans(vault, person_id)
    visits.list_planned_visits(vault, person_id, include_past=True)
    incidents.list_incidents(vault, person_id)
    incidents.list_baseline_counts(vault, person_id)
    incidents.list_disclosures(vault, person_id)
    outcome_data.person_outcomes(vault, person_id)


NOTE = (
    "Met at the library café as planned. Talked about the week ahead, the letter from the housing"
    " office and what helps on the bad days; agreed to ring the housing office together on Monday."
)


def log_contact(vault: UnlockedVault, person_id: uuid.UUID) -> None:
    contacts.log_contact(
        vault,
        person_id,
        contacts.ContactDetails(
            started_at=vault.now() - timedelta(minutes=30),
            duration_minutes=45,
            mechanism="01",
            attendance="5",
            staff_present="both",
            place="Library café",
            shared_note=NOTE,
            clinical_note="Mood brighter; sleep improving. No change to the safety plan.",
        ),
    )


def person_pdf(vault: UnlockedVault, person_id: uuid.UUID, out: Path) -> None:
    from sim_desk.reports.person_report import save_person_report

    save_person_report(out, vault, person_id)


def cohort_pdf(vault: UnlockedVault, out: Path) -> None:
    from sim_desk.reports.cohort_report import save_cohort_report

    save_cohort_report(out, vault)


#: Each export's own account of its steps, in seconds (the disclosure audit's time among them).
EXPORT_STEPS: dict[str, list[float]] = {}


def export(
    vault: UnlockedVault, folder: Path, *, steps: dict[str, list[float]] | None = None
) -> None:
    from sim_desk.exchange.export import plan_export, write_export

    shutil.rmtree(folder, ignore_errors=True)
    plan = plan_export(vault)
    started = time.perf_counter()
    write_export(vault, plan, folder)
    if steps is not None:
        for step, seconds in {**plan.timings, "write": time.perf_counter() - started}.items():
            steps.setdefault(step, []).append(seconds)
        steps.setdefault("cells_checked", []).append(plan.disclosure.get("cells_checked", 0))


def query_mix(vault: UnlockedVault, manifest: common.Manifest, ids: list[uuid.UUID]) -> None:
    """A working day's database traffic: Today, a search typed, three people opened, two
    contacts logged."""
    caseload.today_view(vault)
    for text in keystrokes(manifest.search_names)[:4]:
        caseload_keystroke(vault, text)
    for pid in ids[:3]:
        open_workspace(vault, pid)
    for _ in range(2):
        log_contact(vault, uuid.UUID(manifest.log_person))


# -- measuring ----------------------------------------------------------------------------------


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def measure_pair(
    figures: dict[str, dict[str, Figure]],
    key: str,
    repeats: int,
    enc: Callable[[], Any],
    plain: Callable[[], Any],
    *,
    warm_up: bool = True,
) -> None:
    """Runs the same work on both databases, interleaved (the order swaps each round)."""
    pair = figures.setdefault(key, {"encrypted": Figure(), "plain": Figure()})
    if warm_up:
        enc()
        plain()
    for n in range(repeats):
        order = [("encrypted", enc), ("plain", plain)]
        for name, work in order if n % 2 == 0 else order[::-1]:
            pair[name].samples.append(timed(work)[0])


def probe(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> dict[str, Any]:
    """Runs gui_probe.py in a fresh process and returns the JSON it prints last."""
    result = subprocess.run(
        [sys.executable, str(GUI_PROBE), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})},
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"gui_probe {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(lines[-1])


def startup_times(manifest: common.Manifest, out: Path, repeats: int) -> dict[str, Figure]:
    """Process start to window shown, the app's unlock dialog and a bare QWidget, alternating."""
    home = out / "startup-home"
    shutil.rmtree(home, ignore_errors=True)
    figures = {"app": Figure(), "bare": Figure()}
    modes = (("app", ["startup-app", manifest.database]), ("bare", ["startup-bare"]))
    env = {"SIM_DESK_HOME": str(home)}
    # An installed app starts from compiled bytecode (pip and PyInstaller write it, as they did
    # for PySide6). Where PYTHONDONTWRITEBYTECODE is set, the app would compile its own modules
    # from source at every start and the bare window would not: the warm-up runs below write
    # the bytecode, as a first start would.
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for _name, args in modes:  # warm the OS file cache for both
        subprocess.run(
            [sys.executable, str(GUI_PROBE), *args],
            capture_output=True,
            timeout=120,
            check=True,
            env={**base, "QT_QPA_PLATFORM": "offscreen", **env},
        )
    for n in range(repeats):
        for name, args in modes if n % 2 == 0 else modes[::-1]:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, str(GUI_PROBE), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**base, "QT_QPA_PLATFORM": "offscreen", **env},
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("shown"):
                    figures[name].samples.append(time.perf_counter() - start)
                    break
            proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise RuntimeError(f"gui_probe {args[0]} exited with {proc.returncode}")
    return figures


def run(
    manifest: common.Manifest,
    repeats: Repeats,
    out: Path,
    *,
    only: set[str] | None = None,
    say: Callable[[str], None] = print,
    sync_repeats: sync_figures.SyncRepeats = sync_figures.FULL,
    publish_manifest: common.Manifest | None = None,
) -> dict[str, Any]:
    dirs = common.app_dirs(out)
    clock = common.bench_clock(manifest.as_of_time)
    paths, plain_paths = manifest.paths, manifest.plain_paths
    keys = unlock_user(paths, common.LEAD, common.passphrase(common.LEAD))
    long_history = uuid.UUID(manifest.long_history_person)
    log_person = uuid.UUID(manifest.log_person)
    figures: dict[str, dict[str, Figure]] = {}
    extra: dict[str, Any] = {}
    work_dir = out / "work"
    work_dir.mkdir(parents=True, exist_ok=True)

    def wanted(key: str) -> bool:
        return only is None or key in only

    with cached_keys(keys):
        if wanted("unlock_to_today"):
            say("unlock to Today")

            def enc_unlock() -> None:
                unlock_to_today(paths, dirs, clock).lock()

            def plain_unlock() -> None:
                with common.plain_store():
                    unlock_to_today(plain_paths, dirs, clock).lock()

            measure_pair(figures, "unlock_to_today", repeats.unlock, enc_unlock, plain_unlock)

        enc = unlock.unlock(paths, common.LEAD, "(cached)", dirs=dirs, clock=clock)
        with common.plain_store():
            plain = unlock.unlock(plain_paths, common.LEAD, "(cached)", dirs=dirs, clock=clock)
    try:
        both = {"encrypted": enc, "plain": plain}
        if wanted("caseload_keystroke"):
            say("caseload search per keystroke")
            typed = keystrokes(manifest.search_names)
            for text in typed:  # one warm-up pass
                caseload_keystroke(enc, text)
                caseload_keystroke(plain, text)
            for _ in range(repeats.keystroke_rounds):
                for text in typed:
                    measure_pair(
                        figures,
                        "caseload_keystroke",
                        1,
                        lambda text=text: caseload_keystroke(enc, text),
                        lambda text=text: caseload_keystroke(plain, text),
                        warm_up=False,
                    )
            extra["caseload_keystrokes"] = typed
            extra["caseload_matches"] = {t: caseload.count_caseload(enc, t) for t in typed}
        if wanted("open_workspace"):
            say("open a person workspace")
            measure_pair(
                figures,
                "open_workspace",
                repeats.workspace,
                lambda: open_workspace(enc, long_history),
                lambda: open_workspace(plain, long_history),
            )
            extra["workspace_person"] = {
                "contacts": len(contacts.list_contacts(enc, long_history)),
                "planned_visits": len(visits.list_planned_visits(enc, long_history)),
                "incidents": len(incidents.list_incidents(enc, long_history)),
                "enrolled_on": str(people.reload_person(enc, long_history).enrolled_on),
            }
        if wanted("log_contact"):
            say("log a contact")
            measure_pair(
                figures,
                "log_contact",
                repeats.log_contact,
                lambda: log_contact(enc, log_person),
                lambda: log_contact(plain, log_person),
            )
        if wanted("person_pdf"):
            say("person PDF report")
            measure_pair(
                figures,
                "person_pdf",
                repeats.person_pdf,
                lambda: person_pdf(enc, long_history, work_dir / "person-encrypted.pdf"),
                lambda: person_pdf(plain, long_history, work_dir / "person-plain.pdf"),
            )
        if wanted("cohort_pdf"):
            say("cohort PDF report")
            measure_pair(
                figures,
                "cohort_pdf",
                repeats.cohort_pdf,
                lambda: cohort_pdf(enc, work_dir / "cohort-encrypted.pdf"),
                lambda: cohort_pdf(plain, work_dir / "cohort-plain.pdf"),
            )
            extra["cohort_pdf_bytes"] = (work_dir / "cohort-encrypted.pdf").stat().st_size
        if wanted("export"):
            say("anonymised export")
            measure_pair(
                figures,
                "export",
                repeats.export,
                lambda: export(enc, work_dir / "export-encrypted", steps=EXPORT_STEPS),
                lambda: export(plain, work_dir / "export-plain"),
            )
            # The warm-up run is left out, as it is from the figure itself.
            extra["export_steps"] = {
                step: round(statistics.median(values[-repeats.export :]), 3)
                for step, values in EXPORT_STEPS.items()
            }
        if wanted("query_mix_ratio"):
            say("encrypted / plain query mix")
            others = [r.id for r in caseload.search_caseload(enc, statuses=["active"], limit=3)]
            ids = [long_history, *others]
            measure_pair(
                figures,
                "query_mix",
                repeats.mix,
                lambda: query_mix(enc, manifest, ids),
                lambda: query_mix(plain, manifest, ids),
            )
        del both
    finally:
        enc.lock()
        plain.lock()

    results: dict[str, Any] = {}
    for budget in BUDGETS:
        scale = 1000 if budget.unit == "ms" else 1
        pair = figures.get(budget.key)
        if pair is None:
            continue
        e, p = pair["encrypted"].summary(scale), pair["plain"].summary(scale)
        results[budget.key] = {
            "unit": budget.unit,
            "encrypted": e,
            "plain": p,
            "ratio": round(e["median"] / p["median"], 2) if p["median"] else None,
        }
    if "query_mix" in figures:
        e = figures["query_mix"]["encrypted"].summary(1000)
        p = figures["query_mix"]["plain"].summary(1000)
        results["query_mix_ratio"] = {
            "unit": "x",
            "value": round(e["median"] / p["median"], 2),
            "encrypted_ms": e,
            "plain_ms": p,
        }

    if any(wanted(b.key) for b in sync_figures.SYNC_BUDGETS):
        say("sync with a team server on localhost")
        synced = sync_figures.measure(
            manifest,
            sync_repeats,
            out,
            publish_manifest=publish_manifest if wanted("publish_team") else None,
            say=say,
        )
        results.update(sync_figures.summarise(synced))
        extra["sync"] = synced.details

    if wanted("gui_peak_memory"):
        say("GUI peak memory (subprocess, offscreen)")
        env = {"SIM_DESK_HOME": str(out / "gui-home")}
        gui = probe("memory", str(_manifest_path(manifest)), env=env)
        results["gui_peak_memory"] = {"unit": "MB", "value": gui["maxrss_mb"], **gui}
    if wanted("startup_ratio"):
        say("process start to unlock dialog (subprocesses, offscreen)")
        starts = startup_times(manifest, out, repeats.startup)
        app, bare = starts["app"].summary(1000), starts["bare"].summary(1000)
        results["startup_ratio"] = {
            "unit": "x",
            "value": round(app["median"] / bare["median"], 2),
            "app_ms": app,
            "bare_ms": bare,
        }
    return {"figures": results, "extra": extra}


def _manifest_path(manifest: common.Manifest) -> Path:
    return common.locations(Path(manifest.database).parent, manifest.people, manifest.years)[2]


# -- reporting ----------------------------------------------------------------------------------


def verdicts(figures: dict[str, Any], details: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = {}
    for b in BUDGETS:
        f = figures.get(b.key)
        if f is None:
            rows[b.key] = {"value": None, "passed": None}
            continue
        value = f["encrypted"]["median"] if "encrypted" in f else f["value"]
        rows[b.key] = {"value": value, "budget": b.limit, "passed": value <= b.limit}
    return rows | sync_figures.verdicts(figures, details.get("sync", {}))


def _fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:.2f}×"


def markdown(doc: dict[str, Any]) -> str:
    figures, verdict = doc["figures"], doc["verdicts"]
    m = doc["machine"]
    v = doc["vault"]
    lines = [
        f"Measured {doc['measured_at'][:16].replace('T', ' ')} UTC on {m['cpus']} CPUs"
        f" ({m['machine']}, Python {m['python']}, {m['system']}); stress vault of"
        f" {v['people']:,} people over {v['years']} years: {v['contacts']:,} contacts,"
        f" {v['incidents']:,} incidents, {v['planned_visits']:,} planned visits"
        f" ({v['database_mib']:,} MiB encrypted). Median of the runs shown, (min–max).",
        "",
        "| work | budget | encrypted vault | plain SQLite copy | enc/plain | result |",
        "|---|---|---|---|---|---|",
    ]
    for b in BUDGETS:
        f = figures.get(b.key)
        budget = f"≤ {b.limit:g} {b.unit}" if b.unit != "x" else f"≤ {b.limit}×"
        if f is None:
            lines.append(f"| {b.work} | {budget} | not measured | | | |")
            continue
        ok = "pass" if verdict[b.key]["passed"] else "**MISS**"
        if "encrypted" in f:
            e, p = f["encrypted"], f["plain"]
            lines.append(
                f"| {b.work} | {budget} | {_fmt(e['median'], b.unit)}"
                f" ({_fmt(e['min'], b.unit)}–{_fmt(e['max'], b.unit)}, {e['runs']} runs)"
                f" | {_fmt(p['median'], b.unit)} | {f['ratio']:.2f}× | {ok} |"
            )
        elif b.key == "query_mix_ratio":
            e, p = f["encrypted_ms"], f["plain_ms"]
            lines.append(
                f"| {b.work} | {budget} | {_fmt(e['median'], 'ms')}"
                f" ({_fmt(e['min'], 'ms')}–{_fmt(e['max'], 'ms')}, {e['runs']} runs)"
                f" | {_fmt(p['median'], 'ms')} | **{f['value']:.2f}×** | {ok} |"
            )
        elif b.key == "startup_ratio":
            a, bare = f["app_ms"], f["bare_ms"]
            lines.append(
                f"| {b.work} | {budget} | app {_fmt(a['median'], 'ms')}"
                f" ({_fmt(a['min'], 'ms')}–{_fmt(a['max'], 'ms')}) vs bare window"
                f" {_fmt(bare['median'], 'ms')} ({_fmt(bare['min'], 'ms')}–"
                f"{_fmt(bare['max'], 'ms')}), {a['runs']} runs each"
                f" | | **{f['value']:.2f}×** | {ok} |"
            )
        else:
            lines.append(
                f"| {b.work} | {budget} | {_fmt(f['value'], b.unit)} (peak resident, VmHWM: Today,"
                f" Caseload and a 5-year person, every tab) | | | {ok} |"
            )
    lines += [
        "",
        "The query mix is one working day's database traffic: the Today view, four keystrokes of"
        " a caseload search, three people's workspaces opened (every tab), two contacts logged.",
    ]
    steps = doc.get("details", {}).get("export_steps")
    if steps:
        lines += [
            "",
            "The anonymised export by step (encrypted vault, median): reading the cohort and"
            f" working out outcomes {steps.get('cohort', 0):.2f} s; the pseudonymised extract"
            f" {steps.get('extract', 0):.2f} s; the published figures"
            f" {steps.get('published', 0):.2f} s, of which the disclosure audit (complementary"
            f" suppression and its proofs, HiGHS through SciPy) {steps.get('audit', 0):.2f} s for"
            f" {int(steps.get('cells_checked', 0)):,} figures checked; writing the files"
            f" {steps.get('write', 0):.2f} s.",
        ]
    lines += sync_figures.markdown(doc)
    return "\n".join(lines) + "\n"


README_START, README_END = "<!-- bench:start -->\n", "\n<!-- bench:end -->"


def update_readme(readme: Path, table: str) -> None:
    """Puts a full run's table into the README's Performance section, between its markers."""
    text = readme.read_text("utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        print(f"{readme.name}: no bench markers, table not copied", file=sys.stderr)
        return
    readme.write_text(text[: start + len(README_START)] + table.strip() + text[end:], "utf-8")
    print(f"Table copied into {readme.name} (Performance).")


def describe(manifest: common.Manifest) -> dict[str, Any]:
    return {
        "people": manifest.people,
        "years": manifest.years,
        "contacts": manifest.counts.get("rows.contacts", manifest.counts.get("contacts", 0)),
        "incidents": manifest.counts.get("rows.incidents", manifest.counts.get("incidents", 0)),
        "planned_visits": manifest.counts.get(
            "rows.planned_visits", manifest.counts.get("planned_visits", 0)
        ),
        "database_mib": round(Path(manifest.database).stat().st_size / 2**20),
        "plain_mib": round(Path(manifest.plain).stat().st_size / 2**20),
        "built_in_seconds": manifest.build_seconds,
        "as_of": manifest.as_of,
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def profile(manifest: common.Manifest, out: Path, key: str, top: int = 30) -> str:
    """cProfile of one figure's work on the encrypted vault (after one warm-up run)."""
    dirs = common.app_dirs(out)
    clock = common.bench_clock(manifest.as_of_time)
    keys = unlock_user(manifest.paths, common.LEAD, common.passphrase(common.LEAD))
    pid = uuid.UUID(manifest.long_history_person)
    with cached_keys(keys):
        if key == "unlock_to_today":

            def work() -> None:
                unlock_to_today(manifest.paths, dirs, clock).lock()

            vault = None
        else:
            vault = unlock.unlock(manifest.paths, common.LEAD, "-", dirs=dirs, clock=clock)
            works: dict[str, Callable[[], Any]] = {
                "caseload_keystroke": lambda: [
                    caseload_keystroke(vault, t) for t in keystrokes(manifest.search_names)
                ],
                "open_workspace": lambda: open_workspace(vault, pid),
                "log_contact": lambda: log_contact(vault, uuid.UUID(manifest.log_person)),
                "person_pdf": lambda: person_pdf(vault, pid, out / "work" / "p.pdf"),
                "cohort_pdf": lambda: cohort_pdf(vault, out / "work" / "c.pdf"),
                "export": lambda: export(vault, out / "work" / "export-profile"),
            }
            work = works[key]
        (out / "work").mkdir(parents=True, exist_ok=True)
        work()
        profiler = cProfile.Profile()
        profiler.enable()
        elapsed, _ = timed(work)
        profiler.disable()
        if vault is not None:
            vault.lock()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("cumulative")
    stats.print_stats(top)
    return f"{key}: {elapsed * 1000:,.0f} ms under cProfile\n{text.getvalue()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="1/20 scale; checks figures only")
    parser.add_argument("--people", type=int)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--only", help="comma-separated figure keys")
    parser.add_argument("--profile", metavar="FIGURE", help="cProfile one figure instead")
    parser.add_argument("--results", type=Path, help="where to write results.json/.md")
    args = parser.parse_args(argv)
    people_count = args.people or (100 if args.smoke else 2000)
    started = time.perf_counter()
    manifest = make_vault.ensure(people_count, args.years, args.data)
    if args.profile:
        print(profile(manifest, args.data, args.profile))
        return 0
    only = set(args.only.split(",")) if args.only else None
    repeats = SMOKE if args.smoke else FULL
    sync_repeats = sync_figures.SMOKE if args.smoke else sync_figures.FULL
    doc: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "smoke" if args.smoke else "full",
        "machine": machine(),
        "vault": describe(manifest),
        "budgets": {b.key: {"work": b.work, "limit": b.limit, "unit": b.unit} for b in BUDGETS}
        | {
            b.key: {
                "work": b.work.format(laptops=sync_repeats.at_once_laptops),
                "limit": b.limit,
                "unit": "s",
            }
            for b in sync_figures.SYNC_BUDGETS
        },
    }

    def say(text: str) -> None:
        print(f"  [{time.perf_counter() - started:6.1f} s] {text}", flush=True)

    publish = None
    if not args.smoke and (only is None or "publish_team" in only):
        # Publishing through push is measured on 1/20 of the team (README: why).
        publish = make_vault.ensure(max(10, people_count // 20), args.years, args.data)
    measured = run(
        manifest,
        repeats,
        args.data,
        only=only,
        say=say,
        sync_repeats=sync_repeats,
        publish_manifest=publish,
    )
    doc["figures"] = measured["figures"]
    doc["details"] = measured["extra"]
    doc["verdicts"] = verdicts(doc["figures"], doc["details"])
    doc["seconds"] = round(time.perf_counter() - started, 1)
    folder = args.results or (args.data if args.smoke else HERE)
    stem = "results-smoke" if args.smoke else "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    table = markdown(doc)
    (folder / f"{stem}.md").write_text(table)
    print(table)
    missing = [
        k
        for k, v in doc["verdicts"].items()
        if v["value"] is None
        and (only is None or k in only)
        and not (args.smoke and v.get("full_only"))
    ]
    if doc["details"].get("sync", {}).get("laptops_at_once", {}).get("check_failed"):
        missing.append("laptops_at_once (a change lost or doubled)")
    if missing:
        print(f"Figures not produced: {', '.join(missing)}", file=sys.stderr)
        return 1
    if args.smoke:
        print(f"bench-smoke: every figure produced in {doc['seconds']:.0f} s (timings not judged)")
        return 0
    if args.results is None and only is None:
        update_readme(HERE.parent / "README.md", table)
    misses = [k for k, v in doc["verdicts"].items() if v["passed"] is False]
    if misses:
        print(f"Over budget: {', '.join(misses)} (see benchmarks/README.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
