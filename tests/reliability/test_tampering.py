"""Promises kept under tampering, crashes and hostile files (issue 12).

Each test does to a real vault what a failing disk, a killed process, a hurried user or an
attacker would, and checks what SIM Desk then says and does: the audit log against its head copy,
a deleted ``-wal``, leftover temporary files, damaged pages met by a command, edited key slots,
and copies of one vault sharing failed-unlock notes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sim_desk.records import people
from sim_desk.records.errors import AuthenticationFailed, VaultDamaged
from sim_desk.records.vault import audit, unlock
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.files import VaultKeys, VaultPaths, unlock_user
from sim_desk.records.vault.keyslots import slot_digest
from sim_desk.records.vault.store import raw_connection
from sim_desk.records.vault.unlock import opening
from sim_desk.records.vault.verify import (
    mark_findings_reviewed,
    verify_keys,
    verify_vault,
    verify_with_passphrase,
)
from tests.conftest import PASSPHRASES
from tests.reliability.helpers import (
    REPO,
    Workers,
    contact_ids,
    file_hashes,
    flip,
    seed_contacts,
)


def cli(*args: str, home: Path, passphrase: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIM_DESK_HOME": str(home)}
    env.pop("SIM_DESK_PASSPHRASE", None)
    if passphrase is not None:
        env["SIM_DESK_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, "-m", "sim_desk", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=180,
    )


def lead_verify(team, tmp_path) -> subprocess.CompletedProcess:
    return cli(
        "verify",
        "--vault",
        str(team.paths.database),
        "--user",
        "lead",
        home=tmp_path / "home",
        passphrase=PASSPHRASES["lead"],
    )


def record_key(team) -> bytes:
    return unlock_user(team.paths, "lead", PASSPHRASES["lead"]).record_key


def audit_actions(vault) -> list[str]:
    from sqlalchemy import select

    from sim_desk.records.model import AuditEvent

    with vault.read() as session:
        return list(session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars())


def add_person(vault, name: str = "Ana") -> uuid.UUID:
    return people.create_person(
        vault, people.PersonDetails(given_name=name, referred_on=date(2026, 1, 5))
    )


# -- the audit log and its head copy -----------------------------------------------------------


def test_verify_reads_only_and_sees_a_truncated_log(team, tmp_path):
    with team.unlock("lead") as lead:
        add_person(lead)
    with raw_connection(team.paths.database, record_key(team)) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq > (SELECT max(seq) - 2 FROM audit_events)")
    before = file_hashes(team.paths.database.parent)
    result = lead_verify(team, tmp_path)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "committed records and their audit entries are missing" in result.stdout
    assert "Traceback" not in result.stderr
    # Checking wrote nothing: not an audit entry, not the head copy, not a checkpoint.
    assert file_hashes(team.paths.database.parent) == before
    assert lead_verify(team, tmp_path).returncode == 5  # and so says the same thing again


def test_unlocking_a_tampered_vault_records_the_finding_before_writing(team, tmp_path):
    with team.unlock("lead") as lead:
        add_person(lead)
    team.paths.audit_head.unlink()  # the head copy deleted
    assert not verify_keys(team.paths, record_key(team)).ok
    with team.unlock("officer") as officer:
        assert officer.opening_findings and "missing" in officer.opening_findings[0]
        assert Action.AUDIT_ANCHOR_MISMATCH in audit_actions(officer)
    # The unlock wrote a fresh head copy, but the finding is in the log: verify still says so,
    # and the app's check after unlock (verify_vault) too.
    report = verify_with_passphrase(team.paths, "lead", PASSPHRASES["lead"])
    assert not report.ok
    assert any("at an unlock on" in p and "missing" in p for p in report.chain.problems)
    with team.unlock("lead") as lead:
        assert not verify_vault(lead).ok
        assert mark_findings_reviewed(lead) == 1
        assert mark_findings_reviewed(lead) == 0
    report = verify_with_passphrase(team.paths, "lead", PASSPHRASES["lead"])
    assert report.ok, report.lines()
    assert any("looked into" in note for note in report.chain.notes)


def test_only_a_team_lead_marks_findings_as_looked_into(team):
    team.paths.audit_head.unlink()
    with team.unlock("officer") as officer, pytest.raises(Exception) as refused:
        mark_findings_reviewed(officer)
    assert "team lead" in str(refused.value)


def test_an_older_copy_of_the_head_file_is_tampering_whatever_the_gap(team, tmp_path):
    with team.unlock("lead") as lead:
        add_person(lead, "First")
    older = team.paths.audit_head.read_bytes()
    with team.unlock("lead") as lead:
        add_person(lead, "Second")
    team.paths.audit_head.write_bytes(older)
    report = verify_with_passphrase(team.paths, "lead", PASSPHRASES["lead"])
    assert not report.ok
    assert any("older -audit file was put back" in p for p in report.chain.problems)


def test_a_crash_on_either_side_of_a_commit_is_not_tampering(team, monkeypatch):
    from sim_desk.records import unit_of_work

    with team.unlock("lead") as lead:
        # Killed between the commit and the head copy's second update: one write in flight.
        with monkeypatch.context() as patch:
            patch.setattr(unit_of_work.UnlockedVault, "_settle_head", lambda self, end: None)
            add_person(lead, "Committed")
        copy = audit.read_head(team.paths)
        assert copy is not None and copy.pending is not None
        report = verify_vault(lead)
        assert report.ok, report.lines()
        # Killed after the copy said where the next write would end, before it committed.
        with lead.read() as session:
            end = audit.current_head(session)
        audit.write_head(team.paths, end, pending=audit.AuditHead(end.seq + 1, "f" * 64))
        assert verify_vault(lead).ok
        # But a copy *two* writes behind is not a crash.
        add_person(lead, "Next")
        audit.write_head(team.paths, end)
        assert not verify_vault(lead).ok


def test_a_cut_in_the_middle_of_the_log_is_named(team):
    with team.unlock("lead") as lead:
        add_person(lead)
    with raw_connection(team.paths.database, record_key(team)) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq = 3")
    report = verify_with_passphrase(team.paths, "lead", PASSPHRASES["lead"])
    assert any("audit entry 3 is missing" in p for p in report.chain.problems)


def test_deleting_the_wal_after_a_crash_is_reported_not_silently_lost(team, tmp_path):
    """Committed contacts that were only in the -wal file: the choice here is to detect the
    loss (the audit chain ends before its head copy), not to checkpoint after every commit."""
    with team.unlock("clinician") as clinician:
        person = add_person(clinician)
    workers = Workers(team.paths, {"clinician": PASSPHRASES["clinician"]}, tmp_path / "tmp")
    try:
        pid = workers.start("contacts", "clinician", str(person))
        for _ in range(8):
            workers.wait_for("committed ")
        lines = workers.kill(pid)
    finally:
        workers.close()
    committed = {uuid.UUID(x.split()[1]) for x in lines if x.startswith("committed ")}
    wal = team.paths.database.with_name(team.paths.database.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    wal.unlink()
    team.paths.database.with_name(team.paths.database.name + "-shm").unlink(missing_ok=True)
    lost = committed - contact_ids(team.paths, record_key(team))
    assert lost, "the contacts were checkpointed already: this test must aim at the -wal"
    result = lead_verify(team, tmp_path)
    assert result.returncode == 5
    assert "-wal file was deleted after a crash" in result.stdout
    with team.unlock("lead") as lead:
        assert lead.opening_findings


# -- leftover temporary files -------------------------------------------------------------------


def test_temp_files_left_by_a_killed_writer_are_cleared_and_never_clash(team):
    folder = team.paths.database.parent
    # The old naming (by process id) that a later process could clash with, and the new one.
    stale = [
        folder / f".{team.paths.audit_head.name}.{os.getpid()}.tmp",
        folder / f".{team.paths.keyslots.name}.{os.getpid()}.tmp",
        folder / f".{team.paths.audit_head.name}.k3x9q_2a.tmp",
    ]
    for path in stale:
        path.write_bytes(b"half a write")
    with team.unlock("lead") as lead:
        assert not any(p.exists() for p in stale)
        for path in stale:  # and a clash can no longer break a write
            path.write_bytes(b"half a write")
        add_person(lead)
    assert verify_with_passphrase(team.paths, "lead", PASSPHRASES["lead"]).ok


# -- damage met by a command ---------------------------------------------------------------------


def _pages_that_break(team, keys, action, scratch: Path) -> Iterator[tuple[int, object]]:
    """(page, vault) for pages, from the end where contacts were written last, whose damage
    ``action`` meets after an ordinary unlock, with the vault it met them in (locked again on
    the way out, as every use ends). Each try starts from a copy of the vault's folder, since
    every unlock writes to it; the folder is put back as it was before each yield.

    Pages are laid out a little differently on each run (ids are random), so callers take the
    pages this run found rather than a page number."""
    folder = team.paths.database.parent
    pristine = scratch / "pristine"
    shutil.copytree(folder, pristine)

    def restore() -> None:
        shutil.rmtree(folder)
        shutil.copytree(pristine, folder)

    for page in range(team.paths.database.stat().st_size // 4096 - 1, 1, -1):
        restore()
        flip(team.paths.database, page * 4096 + 200)
        try:
            vault = opening._open(
                team.paths, keys, dirs=team.dirs, clock=team.clock, action=Action.UNLOCK
            )
        except VaultDamaged:
            continue  # the unlock itself met it
        try:
            with vault:
                action(vault)
        except VaultDamaged:  # not an error from the lock that followed
            restore()
            yield page, vault
    restore()


def _seed_for_damage(team) -> VaultKeys:
    with team.unlock("clinician") as clinician:
        seed_contacts(clinician, team.pair_id, count=60)
    return unlock_user(team.paths, "lead", PASSPHRASES["lead"])


def test_damage_is_not_hidden_by_the_lock_that_follows(team, tmp_path):
    from sim_desk.records.read_models.caseload import vault_counts

    keys = _seed_for_damage(team)
    _page, vault = next(_pages_that_break(team, keys, vault_counts, tmp_path))
    assert vault.is_locked  # and the keys were dropped although the lock was not audited


def test_a_damaged_page_met_by_a_command_exits_5_with_words_not_a_traceback(team, tmp_path):
    from sim_desk.records.read_models.caseload import vault_counts

    keys = _seed_for_damage(team)
    met = 0
    for tries, (page, _vault) in enumerate(_pages_that_break(team, keys, vault_counts, tmp_path)):
        flip(team.paths.database, page * 4096 + 200)
        for command in (["summary"], ["verify"]):
            result = cli(
                *command,
                "--vault",
                str(team.paths.database),
                "--user",
                "lead",
                home=tmp_path / "home",
                passphrase=PASSPHRASES["lead"],
            )
            # The command's own writes may land beside the damage rather than on it (0); it is
            # never anything but damage named in words.
            assert result.returncode in (0, 5), (command, result.stdout, result.stderr)
            assert "Traceback" not in result.stderr, result.stderr
            # SQLCipher's own log ("ERROR CORE ... hmac check failed") stays off the terminal.
            assert "ERROR CORE" not in result.stderr and "hmac" not in result.stderr.lower()
            if result.returncode == 5:
                assert "damaged" in result.stdout + result.stderr
                met += command == ["summary"]
        if met or tries == 8:
            break
    assert met, "summary never met the damaged page"


# -- the key file -------------------------------------------------------------------------------


def _edit_slot(team, username: str, **changes) -> None:
    doc = json.loads(team.paths.keyslots.read_text())
    for slot in doc["slots"]:
        if slot.get("username") == username:
            slot.update(changes)
    team.paths.keyslots.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("salt", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ("public_key", "A" * 43 + "="),
        ("kdf", {"t": 4, "m": 65536, "p": 4}),
        ("version", 1),
        ("private_nonce", ""),
        ("nonce", "AAAA"),
    ],
)
def test_an_edited_slot_says_the_key_file_is_damaged_not_the_passphrase(team, field, value):
    before = file_hashes(team.paths.database)
    _edit_slot(team, "officer", **{field: value})
    with pytest.raises(VaultDamaged) as error:
        team.unlock("officer")
    assert "key file" in str(error.value) and "backup" in str(error.value)
    assert "passphrase" not in str(error.value)
    assert file_hashes(team.paths.database) == before
    with team.unlock("lead"):  # one damaged slot locks out only its owner
        pass


def test_a_renamed_slot_does_not_sign_in_under_its_new_name(team):
    doc = json.loads(team.paths.keyslots.read_text())
    for slot in doc["slots"]:
        if slot.get("username") == "officer":
            slot["username"] = "mallory"
            # A deliberate editor recomputes the digest too: the database still knows better.
            from sim_desk.records.vault.keyslots import Slot

            fields = {k: v for k, v in slot.items() if k != "digest"}
            slot["digest"] = slot_digest(doc["vault_id"], Slot(**fields))
    team.paths.keyslots.write_text(json.dumps(doc))
    with pytest.raises(VaultDamaged) as error:
        unlock.unlock(team.paths, "mallory", PASSPHRASES["officer"], dirs=team.dirs)
    assert "key file" in str(error.value)
    with pytest.raises(AuthenticationFailed):
        team.unlock("officer")


def test_verify_checks_every_slot_and_the_recovery_slot(team, tmp_path):
    _edit_slot(team, "clinician2", salt="AAAA")
    doc = json.loads(team.paths.keyslots.read_text())
    for slot in doc["slots"]:
        if slot["kind"] == "recovery":
            slot["ciphertext"] = slot["ciphertext"][:-8] + "AAAAAAA="
    team.paths.keyslots.write_text(json.dumps(doc))
    result = lead_verify(team, tmp_path)
    assert result.returncode == 5
    assert "key file: the slot of clinician2" in result.stdout
    assert "key file: the recovery-key slot was changed" in result.stdout


def test_a_missing_recovery_slot_is_reported(team):
    doc = json.loads(team.paths.keyslots.read_text())
    doc["slots"] = [s for s in doc["slots"] if s["kind"] != "recovery"]
    team.paths.keyslots.write_text(json.dumps(doc))
    report = verify_with_passphrase(team.paths, "lead", PASSPHRASES["lead"])
    assert "there is no recovery-key slot" in report.key_problems


# -- failed unlocks --------------------------------------------------------------------------------


def test_failed_unlock_notes_belong_to_one_copy_of_a_vault(team, tmp_path):
    copy = VaultPaths.at(tmp_path / "copy" / team.paths.database.name)
    shutil.copytree(team.paths.database.parent, copy.database.parent)
    with pytest.raises(AuthenticationFailed):
        unlock.unlock(copy, "officer", "not the passphrase", dirs=team.dirs)
    with team.unlock("lead") as lead:
        assert Action.UNLOCK_FAILED not in audit_actions(lead)
    with unlock.unlock(copy, "lead", PASSPHRASES["lead"], dirs=team.dirs) as lead:
        assert audit_actions(lead).count(Action.UNLOCK_FAILED) == 1
