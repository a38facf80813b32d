"""Backups and tampering: a backup restores every row and opens with the same passphrases and
the recovery key; flipped bytes are refused with a message naming the damage; a damaged backup
or an occupied target is refused without writing anything."""

from __future__ import annotations

import os
import shutil
import threading
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from sim_desk.records import contacts
from sim_desk.records.errors import (
    AuthenticationFailed,
    PermissionDenied,
    VaultDamaged,
    VaultExists,
    VaultNotFound,
)
from sim_desk.records.model import AuditEvent
from sim_desk.records.vault import backup, rekey, unlock
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.files import VaultPaths, unlock_user
from sim_desk.records.vault.store import raw_connection
from sim_desk.records.vault.verify import verify_vault, verify_with_passphrase
from tests.conftest import FIXED_NOW, PASSPHRASES
from tests.reliability.helpers import clinical_notes, file_hashes, flip, seed_contacts

PAGE = 4096


def table_rows(paths: VaultPaths, record_key: bytes) -> dict[str, list[tuple]]:
    """Every row of every table except the audit log (which grows on each unlock)."""
    with raw_connection(paths.database, record_key) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                " AND name != 'audit_events' ORDER BY name"
            )
        ]
        return {n: sorted(map(tuple, conn.execute(f'SELECT * FROM "{n}"'))) for n in names}


@pytest.fixture
def seeded(team):
    with team.unlock("clinician") as clinician:
        return seed_contacts(clinician, team.pair_id)


def test_backup_is_one_owner_only_file_and_restores_every_row(team, seeded, tmp_path):
    out = tmp_path / "backups" / "north.simbackup"
    out.parent.mkdir()
    steps = []
    with team.unlock("lead") as lead:
        info = backup.backup_vault(lead, out, progress=lambda f, text: steps.append(f))
        expected = table_rows(team.paths, lead.record_key)
        with lead.read() as session:
            actions = session.execute(select(AuditEvent.action)).scalars().all()
        assert actions.count(Action.BACKUP) == 1  # the backup is in the source vault's log
    assert os.listdir(out.parent) == ["north.simbackup"]  # no temporary files left behind
    assert out.stat().st_mode & 0o077 == 0
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)
    assert info.rows["contacts"] == len(seeded.notes) and info.generation == 0
    assert backup.read_backup(out).vault_id == info.vault_id

    target = VaultPaths.at(tmp_path / "restored" / "north.simvault")
    backup.restore_backup(out, target)
    for name in ("officer", "clinician"):
        with unlock.unlock(target, name, PASSPHRASES[name], dirs=team.dirs) as vault:
            assert verify_vault(vault).ok, verify_vault(vault).lines()
    with unlock.unlock_with_recovery_key(target, team.recovery_key, dirs=team.dirs) as vault:
        assert table_rows(target, vault.record_key) == expected


def test_flipped_bytes_are_refused_by_name_and_a_restore_brings_back_every_row(
    team, seeded, tmp_path
):
    out = tmp_path / "before-damage.simbackup"
    with team.unlock("lead") as lead:
        backup.backup_vault(lead, out)
        expected = table_rows(team.paths, lead.record_key)
        keys = unlock_user(team.paths, "lead", PASSPHRASES["lead"])
        notes = clinical_notes(team.paths, keys.record_key, keys.clinical_key)
    size = team.paths.database.stat().st_size
    page = size // PAGE // 2 + 1  # a page in the middle of the file
    flip(team.paths.database, (page - 1) * PAGE + 700)

    try:  # the damage may sit where unlock reads, or only where verify looks
        with team.unlock("lead") as lead:
            report = verify_vault(lead)
    except VaultDamaged as error:
        assert "damaged" in str(error) and "backup" in str(error)
        report = verify_with_passphrase(team.paths, "lead", PASSPHRASES["lead"])
    assert not report.ok
    text = "\n".join(report.lines())
    assert f"page {page} fails its authentication check" in text
    assert "restore the vault from a backup" in text

    target = VaultPaths.at(tmp_path / "restored" / "team.simvault")
    backup.restore_backup(out, target)
    with unlock.unlock(target, "lead", PASSPHRASES["lead"], dirs=team.dirs) as lead:
        assert verify_vault(lead).ok
        assert table_rows(target, lead.record_key) == expected
    assert clinical_notes(target, keys.record_key, keys.clinical_key) == notes


def test_damaged_first_page_is_named_at_unlock(team):
    flip(team.paths.database, 200)
    with pytest.raises(VaultDamaged) as error:
        team.unlock("officer")
    assert "first page" in str(error.value) and "backup" in str(error.value)
    report = verify_with_passphrase(team.paths, "officer", PASSPHRASES["officer"])
    assert any("page 1 (the first page" in line for line in report.lines())


def test_damaged_backup_is_refused_and_nothing_is_restored(team, tmp_path):
    out = tmp_path / "b.simbackup"
    with team.unlock("lead") as lead:
        backup.backup_vault(lead, out)
    with zipfile.ZipFile(out) as zf:
        start = zf.getinfo("database").header_offset + 30 + len("database")
    flip(out, start + 5000, count=4)
    target = VaultPaths.at(tmp_path / "restored" / "team.simvault")
    with pytest.raises(VaultDamaged) as error:
        backup.restore_backup(out, target)
    assert "vault database" in str(error.value)
    assert list((tmp_path / "restored").iterdir()) == []


def test_restore_never_overwrites_and_wrong_files_are_named(team, tmp_path):
    out = tmp_path / "b.simbackup"
    with team.unlock("lead") as lead:
        backup.backup_vault(lead, out)
        with pytest.raises(VaultExists):
            backup.backup_vault(lead, out)
    before = file_hashes(team.paths.database.parent)
    with pytest.raises(VaultExists):
        backup.restore_backup(out, team.paths)
    assert file_hashes(team.paths.database.parent) == before
    with pytest.raises(VaultDamaged) as error:  # a vault chosen instead of a backup
        backup.restore_backup(team.paths.database, VaultPaths.at(tmp_path / "x" / "y"))
    assert "is a vault, not a backup" in str(error.value)
    pdf = tmp_path / "letter.simbackup"
    pdf.write_bytes(b"%PDF-1.7\n" + os.urandom(2000))
    with pytest.raises(VaultDamaged) as error:
        backup.restore_backup(pdf, VaultPaths.at(tmp_path / "x" / "y"))
    assert "not a readable SIM Desk backup" in str(error.value)
    with pytest.raises(VaultNotFound):
        backup.restore_backup(tmp_path / "missing.simbackup", VaultPaths.at(tmp_path / "x" / "y"))
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_only_team_leads_make_backups(team, tmp_path):
    with team.unlock("officer") as officer, pytest.raises(PermissionDenied):
        backup.backup_vault(officer, tmp_path / "b.simbackup")
    assert not (tmp_path / "b.simbackup").exists()


def test_backup_while_another_session_keeps_writing_is_consistent(team, seeded, tmp_path):
    stop = threading.Event()
    written = []

    def keep_writing() -> None:
        with team.unlock("clinician") as clinician:
            i = 0
            while not stop.is_set():
                i += 1
                details = contacts.ContactDetails(
                    started_at=FIXED_NOW - timedelta(hours=i), clinical_note=f"busy {i}"
                )
                written.append(contacts.log_contact(clinician, seeded.person_id, details))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        with team.unlock("lead") as lead:
            while len(written) < 3:
                stop.wait(0.01)
            infos = [backup.backup_vault(lead, tmp_path / f"b{i}.simbackup") for i in range(3)]
    finally:
        stop.set()
        writer.join()
    assert infos[-1].rows["contacts"] >= infos[0].rows["contacts"] >= len(seeded.notes) + 3
    target = VaultPaths.at(tmp_path / "restored" / "team.simvault")
    backup.restore_backup(infos[-1].path, target)
    with unlock.unlock(target, "clinician", PASSPHRASES["clinician"], dirs=team.dirs) as vault:
        report = verify_vault(vault)
        assert report.ok, report.lines()
    shutil.rmtree(target.database.parent)


def test_backup_after_a_key_rotation_opens_with_the_new_keys(team, seeded, tmp_path):
    with team.unlock("lead") as lead:
        result = rekey.rotate_keys(lead)
        rekey.confirm_recovery_key(lead, result.recovery_slot_id)  # printed: the old one goes
        info = backup.backup_vault(lead, tmp_path / "rotated.simbackup")
    assert info.generation == 1
    target = VaultPaths.at(tmp_path / "restored" / "team.simvault")
    backup.restore_backup(info.path, target)
    with unlock.unlock_with_recovery_key(target, result.recovery_key, dirs=team.dirs) as vault:
        assert verify_vault(vault).ok
    with pytest.raises(AuthenticationFailed):
        unlock.unlock_with_recovery_key(target, team.recovery_key, dirs=team.dirs)
