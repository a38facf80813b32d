"""No committed record is lost: a writer killed with SIGKILL at random moments, again and again.

A worker process logs contacts (with clinician-only notes) in a loop and prints each id only
after ``log_contact`` has returned. After every kill, every printed id must be in the database
and both SQLite's and SQLCipher's integrity checks must be clean; at the end the vault unlocks
and ``verify`` passes.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import date

import pytest

from sim_desk.records import people
from sim_desk.records.vault.files import unlock_user
from sim_desk.records.vault.verify import verify_vault
from tests.conftest import PASSPHRASES
from tests.reliability.helpers import Workers, contact_ids, integrity


def _kill_writer_repeatedly(team, tmp_path, kills: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    with team.unlock("clinician") as clinician:
        person = people.create_person(
            clinician,
            people.PersonDetails(
                given_name="Kit",
                family_name="Crashtest",
                referred_on=date(2026, 1, 5),
                pair_id=team.pair_id,
            ),
        )
    record_key = unlock_user(team.paths, "clinician", PASSPHRASES["clinician"]).record_key
    workers = Workers(team.paths, {"clinician": PASSPHRASES["clinician"]}, tmp_path / "tmp")
    committed: set[uuid.UUID] = set()
    during_unlock = 0
    started = time.monotonic()
    try:
        for run in range(kills):
            pid = workers.start("contacts", "clinician", str(person))
            if rng.random() < 0.2:  # now and then while it is still unlocking (and auditing that)
                time.sleep(rng.uniform(0.0, 0.35))
            else:
                workers.wait_for("ready")
                time.sleep(rng.uniform(0.0, 0.25))
            lines = workers.kill(pid)
            during_unlock += "ready" not in lines
            committed |= {uuid.UUID(x.split()[1]) for x in lines if x.startswith("committed ")}
            lost = committed - contact_ids(team.paths, record_key)
            assert not lost, f"kill {run}: {len(lost)} committed contacts are gone"
            structure, pages = integrity(team.paths, record_key)
            assert structure == ["ok"] and pages == [], f"kill {run}: {structure} {pages}"
    finally:
        workers.close()
    with team.unlock("clinician") as clinician:
        report = verify_vault(clinician)
        assert report.ok, report.lines()
    return {
        "kills": kills,
        "committed": len(committed),
        "killed_while_unlocking": during_unlock,
        "seconds": round(time.monotonic() - started, 1),
    }


def test_writer_killed_20_times_loses_no_committed_contact(team, tmp_path):
    figures = _kill_writer_repeatedly(team, tmp_path, kills=20, seed=20)
    print(figures)
    assert figures["committed"] > 20


@pytest.mark.slow
def test_writer_killed_1000_times_loses_no_committed_contact(team, tmp_path):
    figures = _kill_writer_repeatedly(team, tmp_path, kills=1000, seed=1000)
    print(figures)
    assert figures["committed"] > 1000
