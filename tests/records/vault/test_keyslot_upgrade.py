"""A vault made with key-slot format 1 (tests/records/vault/fixtures/vault-v1) still opens, and each
slot is upgraded to format 2 when its owner signs in; keys can then be rotated."""

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from sim_desk.records import contacts
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import AuthenticationFailed, ValidationError, VaultDamaged
from sim_desk.records.model import AuditEvent, Contact
from sim_desk.records.vault import rekey, unlock
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.files import VaultPaths, read_slot_file
from sim_desk.records.vault.store import schema_head
from sim_desk.records.vault.verify import verify_vault

FIXTURE = Path(__file__).parent / "fixtures" / "vault-v1"
V1 = {name: f"v1 {name} passphrase" for name in ("lead", "officer", "clinician")}


@pytest.fixture
def old_vault(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "v1")
    return VaultPaths.at(tmp_path / "v1" / "v1.simvault")


def versions(paths):
    return {s.username or "recovery": s.version for s in read_slot_file(paths).slots}


def test_fixture_is_format_1(old_vault):
    assert json.loads(old_vault.keyslots.read_text())["version"] == 1
    assert set(versions(old_vault).values()) == {1}


def test_each_user_opens_a_format_1_vault_and_their_slot_is_upgraded(old_vault, tmp_path):
    dirs = AppDirs(tmp_path / "d", tmp_path / "s", tmp_path / "c")
    with unlock.unlock(old_vault, "clinician", V1["clinician"], dirs=dirs) as clinician:
        with clinician.read() as session:
            contact = session.execute(select(Contact.id)).scalar_one()
        assert contacts.read_clinical_note(clinician, contact) == "v1 clinical note, amended"
        assert contacts.read_revision_clinical_note(clinician, contact, 1) == "v1 clinical note"
        with clinician.read() as session:
            actions = session.execute(select(AuditEvent.action)).scalars().all()
            version = session.connection().exec_driver_sql("SELECT * FROM alembic_version")
            assert version.scalar_one() == schema_head()
        assert Action.SLOT_UPGRADED in actions
    assert versions(old_vault) == {"lead": 1, "officer": 1, "clinician": 2, "recovery": 1}
    # The upgraded slot opens again, with the same passphrase.
    with unlock.unlock(old_vault, "clinician", V1["clinician"], dirs=dirs) as clinician:
        assert clinician.has_clinical_key
    recovery_key = (FIXTURE / "recovery-key.txt").read_text().strip()
    with unlock.unlock_with_recovery_key(old_vault, recovery_key, dirs=dirs) as recovery:
        assert verify_vault(recovery).ok
    assert versions(old_vault)["recovery"] == 2


def test_wrong_passphrase_on_a_format_1_slot_changes_nothing(old_vault, tmp_path):
    dirs = AppDirs(tmp_path / "d", tmp_path / "s", tmp_path / "c")
    before = old_vault.keyslots.read_bytes()
    with pytest.raises(AuthenticationFailed):
        unlock.unlock(old_vault, "officer", "not the passphrase", dirs=dirs)
    assert old_vault.keyslots.read_bytes() == before


def test_rotation_waits_for_old_slots_or_locks_them_out_when_told(old_vault, tmp_path):
    dirs = AppDirs(tmp_path / "d", tmp_path / "s", tmp_path / "c")
    with unlock.unlock(old_vault, "lead", V1["lead"], dirs=dirs) as lead:
        with pytest.raises(ValidationError) as error:
            rekey.rotate_keys(lead)
        assert "clinician, officer" in str(error.value)
        result = rekey.rotate_keys(lead, drop_old_slots=True)
    assert result.dropped_users == ("clinician", "officer")
    assert result.recovery_key  # the format-1 recovery slot could not be re-wrapped
    with pytest.raises(AuthenticationFailed):
        unlock.unlock(old_vault, "officer", V1["officer"], dirs=dirs)
    with unlock.unlock_with_recovery_key(old_vault, result.recovery_key, dirs=dirs) as recovery:
        assert recovery.has_clinical_key


def test_a_slot_whose_public_key_was_swapped_is_refused(team):
    doc = json.loads(team.paths.keyslots.read_text())
    officer = next(s for s in doc["slots"] if s["username"] == "officer")
    clinician = next(s for s in doc["slots"] if s["username"] == "clinician")
    officer["public_key"] = clinician["public_key"]
    team.paths.keyslots.write_text(json.dumps(doc))
    with pytest.raises((AuthenticationFailed, VaultDamaged)):
        team.unlock("officer")


def test_an_old_vault_migrated_to_0008_keeps_its_circle_tables_and_old_rules(old_vault, tmp_path):
    """Issue 17 on an old vault: after migration to 0008 the circle's tables are there and
    work, and a disclosure recorded as before is one to police."""
    from datetime import UTC, date, datetime

    from sim_desk.records import circle, incidents
    from sim_desk.records.model import Person

    dirs = AppDirs(tmp_path / "d", tmp_path / "s", tmp_path / "c")
    with unlock.unlock(old_vault, "clinician", V1["clinician"], dirs=dirs) as clinician:
        with clinician.read() as session:
            person = session.execute(select(Person.id)).scalar_one()
        assert circle.list_partners(clinician, person) == []
        assert circle.list_referrals(clinician, person) == []
        partner = circle.add_partner(
            clinician,
            person,
            circle.PartnerDetails(service_type="gp_practice", organisation="Old Surgery"),
        )
        referral = circle.record_referral(
            clinician,
            person,
            circle.ReferralDetails(
                referred_on=date(2026, 10, 1), reason="Review", partner_id=partner
            ),
        )
        assert circle.list_referrals(clinician, person)[0].id == referral
        incidents.record_disclosure(
            clinician,
            person,
            incidents.DisclosureDetails(
                shared_at=datetime(2026, 10, 2, 9, tzinfo=UTC),
                what="Crisis plan",
                why="Welfare check",
                lawful_basis="vital_interests",
                person_asked="not_asked",
            ),
        )
        [shared] = incidents.list_disclosures(clinician, person)
        assert shared.recipient == "police"
