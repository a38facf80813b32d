"""The vault's security promises, each on a real SQLCipher vault."""

import hashlib
import json
import sqlite3
from datetime import date

import pytest
import sqlcipher3

from sim_desk.records import people
from sim_desk.records.errors import AuthenticationFailed, VaultDamaged, VaultExists, VaultNotFound
from sim_desk.records.people import PersonDetails
from sim_desk.records.vault import audit, unlock
from sim_desk.records.vault.files import open_slot, read_slot_file
from sim_desk.records.vault.verify import verify_vault
from tests.conftest import PASSPHRASES


def file_hashes(paths):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths.all_files if p.exists()
    }


def test_vault_file_is_not_plain_sqlite(team):
    assert not team.paths.database.read_bytes().startswith(b"SQLite format 3")
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(team.paths.database).execute("select * from sqlite_master").fetchall()


def test_vault_files_are_owner_only(team, lead):
    for path in team.paths.all_files:
        if path.exists():
            assert path.stat().st_mode & 0o077 == 0, path.name


def test_wrong_passphrase_changes_no_byte_and_says_so(team):
    before = file_hashes(team.paths)
    with pytest.raises(AuthenticationFailed) as error:
        unlock.unlock(team.paths, "officer", "not the passphrase", dirs=team.dirs)
    assert "passphrase" in str(error.value)
    assert "not the passphrase" not in str(error.value)
    assert file_hashes(team.paths) == before


def test_failed_unlock_reaches_the_audit_log_at_next_unlock(team):
    with pytest.raises(AuthenticationFailed):
        unlock.unlock(team.paths, "officer", "not the passphrase", dirs=team.dirs)
    with team.unlock("lead") as lead, lead.read() as session:
        from sqlalchemy import select

        from sim_desk.records.model import AuditEvent

        actions = session.execute(select(AuditEvent.action)).scalars().all()
    assert audit.Action.UNLOCK_FAILED in actions


def test_officer_slot_cannot_yield_clinical_key(team):
    slots = read_slot_file(team.paths)
    officer_slot = slots.user_slot("officer")
    record_key, clinical_key = open_slot(slots.vault_id, officer_slot, PASSPHRASES["officer"])
    assert clinical_key is None
    # The payload holds exactly one key: there is nothing else to unwrap.
    assert len(record_key) == 32 and not officer_slot.clinical


def test_editing_the_role_in_a_slot_makes_it_unopenable(team):
    doc = json.loads(team.paths.keyslots.read_text())
    for slot in doc["slots"]:
        if slot["username"] == "officer":
            slot["role"], slot["clinical"] = "clinician", True
    team.paths.keyslots.write_text(json.dumps(doc))
    with pytest.raises((AuthenticationFailed, VaultDamaged)):
        team.unlock("officer")


def test_new_vault_refuses_to_overwrite(team):
    with pytest.raises(VaultExists):
        unlock.create_vault(
            team.paths,
            team_name="x",
            username="x",
            display_name="x",
            passphrase="long enough passphrase",
        )


def test_missing_slot_file_is_named(team):
    team.paths.keyslots.unlink()
    with pytest.raises(VaultNotFound) as error:
        team.unlock("lead")
    assert "key-slot file" in str(error.value)


def test_recovery_key_unlocks_as_clinical_lead(team):
    with unlock.unlock_with_recovery_key(
        team.paths, team.recovery_key.lower(), dirs=team.dirs
    ) as vault:
        assert vault.has_clinical_key and vault.actor.is_recovery


def test_verify_passes_on_a_healthy_vault(lead):
    report = verify_vault(lead)
    assert report.ok, report.lines()


def test_editing_an_audit_row_with_the_record_key_is_caught(team, lead):
    people.create_person(lead, PersonDetails(given_name="Ana", referred_on=date(2026, 1, 1)))
    conn = sqlcipher3.connect(str(team.paths.database))
    conn.execute(f"PRAGMA key = \"x'{lead.record_key.hex()}'\"")
    conn.execute("UPDATE audit_events SET action = 'record.update' WHERE seq = 3")
    conn.commit()
    conn.close()
    report = verify_vault(lead)
    assert not report.ok
    assert any("entry 3 was changed" in p for p in report.chain.problems)


def test_rewriting_the_whole_chain_is_caught_by_the_head_copy(team, lead):
    people.create_person(lead, PersonDetails(given_name="Ana", referred_on=date(2026, 1, 1)))
    conn = sqlcipher3.connect(str(team.paths.database))
    conn.execute(f"PRAGMA key = \"x'{lead.record_key.hex()}'\"")
    last = conn.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
    conn.execute("DELETE FROM audit_events WHERE seq = ?", (last,))  # drop the newest: chain ok
    conn.commit()
    conn.close()
    report = verify_vault(lead)
    assert any("entries were removed" in p for p in report.chain.problems)
