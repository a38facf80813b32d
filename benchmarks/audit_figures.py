"""The audit-chain figures (issue 20): a laptop's audit chain pushed to a team server on
localhost and verified there, and a laptop put back from an older copy caught.

    .venv/bin/python benchmarks/audit_figures.py                      # 10,000 and 100,000
    .venv/bin/python benchmarks/audit_figures.py --entries 10000      # one size

For each size N: a new vault whose user has N audit entries (views of records, as a lead's
laptop collects them over years), joined to a fresh team on a durable throw-away PostgreSQL;
then, timed around ``audit_chain.push_audit_chain`` with the vault open, as a sync runs it:

    first_push      the whole chain of N entries, pushed from its first entry and verified
                    link by link on the server (SHA-256 over the previous hash and the bytes)
    next_push       the 50 entries of a day's work, at the next sync
    detect_rollback the vault put back from the copy taken before that day: refused, the
                    refusal recorded in the laptop's audit log

Also the server's storage for the chain (table and index). Prints a Markdown table and writes
the figures as JSON beside this file (``.data/audit-figures.json``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import team_server

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.team import device
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import protocol
from sim_desk.teamserver.audit_chain import AuditChainRefused, push_audit_chain

PASSPHRASE = "audit figures passphrase, long enough"
DAY = 50


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=7)
        return self.at


def add_views(vault: Any, count: int) -> None:
    """``count`` audit entries as viewing records writes them (ids only), 5,000 a transaction."""
    for start in range(0, count, 5000):
        with vault.write() as session:
            for _ in range(min(5000, count - start)):
                vault.audit(session, "record.view", "person", uuid.uuid4())


def measure(cluster: Any, entries: int, folder: Path) -> dict[str, Any]:
    paths = VaultPaths.at(folder / "vault" / "lead.simvault")
    dirs = AppDirs(folder / "d", folder / "s", folder / "c")
    clock = Clock()
    unlock.create_vault(
        paths,
        team_name="Audit figures",
        username="lead",
        display_name="Lee Lead",
        passphrase=PASSPHRASE,
        clinical_lead=True,
        clock=clock,
    )
    team = team_server.new_team(cluster, "Audit figures")
    figures: dict[str, Any] = {"entries": entries}
    with unlock.unlock(paths, "lead", PASSPHRASE, dirs=dirs, clock=clock) as vault:
        started = time.perf_counter()
        add_views(vault, entries)
        figures["build_s"] = round(time.perf_counter() - started, 1)
        team_server.join(team, vault)
        credential = device.device_credential(vault)
        with protocol.device_connection(credential) as conn:
            started = time.perf_counter()
            pushed = push_audit_chain(vault, conn)
            figures["first_push_s"] = round(time.perf_counter() - started, 2)
            figures["first_push_entries"] = pushed.entries
            figures["first_push_batches"] = pushed.batches
    shutil.copytree(paths.database.parent, folder / "monday")
    with unlock.unlock(paths, "lead", PASSPHRASE, dirs=dirs, clock=clock) as vault:
        add_views(vault, DAY)
        credential = device.device_credential(vault)
        with protocol.device_connection(credential) as conn:
            started = time.perf_counter()
            pushed = push_audit_chain(vault, conn)
            figures["next_push_s"] = round(time.perf_counter() - started, 3)
            figures["next_push_entries"] = pushed.entries
    shutil.rmtree(paths.database.parent)
    shutil.copytree(folder / "monday", paths.database.parent)
    with unlock.unlock(paths, "lead", PASSPHRASE, dirs=dirs, clock=clock) as vault:
        credential = device.device_credential(vault)
        with protocol.device_connection(credential) as conn:
            started = time.perf_counter()
            try:
                push_audit_chain(vault, conn)
            except AuditChainRefused as refused:
                figures["detect_rollback_s"] = round(time.perf_counter() - started, 3)
                figures["detected"] = refused.kind
            else:
                raise AssertionError("the rolled-back vault was not caught")
    with team.admin_connect() as admin:
        row = admin.execute(
            "SELECT pg_total_relation_size('sim.audit_entries'), count(*) FROM sim.audit_entries"
        ).fetchone()
    assert row is not None
    figures["server_mb"] = round(row[0] / 1e6, 1)
    figures["server_entries"] = row[1]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    results = []
    with team_server.running_cluster() as cluster:
        for entries in args.entries:
            with tempfile.TemporaryDirectory(prefix="sim-audit-figures-") as tmp:
                results.append(measure(cluster, entries, Path(tmp)))
                print(json.dumps(results[-1]), flush=True)
    print()
    print(
        "| entries | first push (all, verified) | next sync (+50) | rollback caught in |"
        " server storage |"
    )
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['entries']:,} | {r['first_push_s']} s ({r['first_push_batches']} calls)"
            f" | {r['next_push_s'] * 1000:.0f} ms | {r['detect_rollback_s'] * 1000:.0f} ms"
            f" | {r['server_mb']} MB |"
        )
    out = Path(__file__).resolve().parent / ".data" / "audit-figures.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
