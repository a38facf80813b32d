"""Key rotation for leavers: the leaver's copy is useless, everyone else carries on, and a
rotation killed at any moment leaves a vault that opens with exactly one of the old or new keys."""

from __future__ import annotations

import collections
import random
import shutil
import time

import pytest
from sqlalchemy import select

from sim_desk.records.codes import Role
from sim_desk.records.errors import AuthenticationFailed, PermissionDenied, VaultDamaged
from sim_desk.records.model import AuditEvent
from sim_desk.records.team import users
from sim_desk.records.vault import rekey, unlock
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.files import VaultPaths, read_slot_file, unlock_user
from sim_desk.records.vault.rekey import rotation
from sim_desk.records.vault.verify import verify_vault
from tests.conftest import PASSPHRASES
from tests.reliability.helpers import (
    Workers,
    clinical_notes,
    contact_ids,
    integrity,
    opens,
    seed_contacts,
)


@pytest.fixture
def seeded(team):
    with team.unlock("clinician") as clinician:
        return seed_contacts(clinician, team.pair_id)


def _user_id(vault, username):
    return next(u.id for u in users.list_users(vault) if u.username == username)


def test_leaver_with_a_copy_of_the_vault_cannot_read_anything_after_rotation(
    team, seeded, tmp_path
):
    leaver = unlock_user(team.paths, "clinician2", PASSPHRASES["clinician2"])
    copy = tmp_path / "leavers-copy"
    shutil.copytree(team.paths.database.parent, copy)
    with team.unlock("lead") as lead:
        users.remove_user(lead, _user_id(lead, "clinician2"))
        result = rekey.rotate_keys(lead)
        assert result.generation == 1 and result.notes_reencrypted == 9
        assert result.recovery_key and result.dropped_users == ()
    # The old keys from the leaver's slot open neither the database nor the notes.
    assert not opens(team.paths, leaver.record_key)
    lead_keys = unlock_user(team.paths, "lead", PASSPHRASES["lead"])
    notes = clinical_notes(team.paths, lead_keys.record_key, lead_keys.clinical_key)
    assert set(notes.values()) >= set(seeded.notes.values())
    with pytest.raises(VaultDamaged):
        clinical_notes(team.paths, lead_keys.record_key, leaver.clinical_key)
    # Their old slot file put back beside the rotated database does not help either.
    shutil.copy(copy / team.paths.keyslots.name, team.paths.keyslots)
    with pytest.raises(VaultDamaged) as error:
        team.unlock("clinician2")
    assert "backup" in str(error.value)


def test_everyone_else_carries_on_after_rotation(team, seeded):
    with team.unlock("lead") as lead:
        before = contact_ids(team.paths, lead.record_key)
        result = rekey.rotate_keys(lead)
        # The lead's own session goes on with the new keys.
        assert contact_ids(team.paths, lead.record_key) == before
        assert verify_vault(lead).ok
    for name in ("officer", "clinician", "analyst", "officer2", "clinician2"):
        with team.unlock(name) as vault:
            assert vault.has_clinical_key == name.startswith("clinician")
    keys = unlock_user(team.paths, "clinician", PASSPHRASES["clinician"])
    notes = clinical_notes(team.paths, keys.record_key, keys.clinical_key)
    for contact, text in seeded.notes.items():
        assert notes[str(contact)] == text
    for contact, text in seeded.first_notes.items():
        assert notes[f"{contact}@1"] == text
    with unlock.unlock_with_recovery_key(team.paths, result.recovery_key, dirs=team.dirs) as r:
        with r.read() as session:
            actions = session.execute(select(AuditEvent.action)).scalars().all()
        assert Action.KEYS_ROTATED in actions
    # Until someone confirms the new key is printed, the printed one still opens the vault ...
    with unlock.unlock_with_recovery_key(team.paths, team.recovery_key, dirs=team.dirs):
        pass
    with team.unlock("lead") as lead:
        rekey.confirm_recovery_key(lead, result.recovery_slot_id)
    # ... and from then on only the new one does.
    with pytest.raises(AuthenticationFailed):
        unlock.unlock_with_recovery_key(team.paths, team.recovery_key, dirs=team.dirs)
    with unlock.unlock_with_recovery_key(team.paths, result.recovery_key, dirs=team.dirs) as r:
        with r.read() as session:
            actions = session.execute(select(AuditEvent.action)).scalars().all()
        assert Action.RECOVERY_KEY_CONFIRMED in actions


def test_rotation_can_keep_the_printed_recovery_key(team):
    with team.unlock("lead") as lead:
        assert rekey.rotate_keys(lead, new_recovery=False).recovery_key is None
    with unlock.unlock_with_recovery_key(team.paths, team.recovery_key, dirs=team.dirs) as r:
        assert r.has_clinical_key


def test_only_a_clinical_lead_or_the_recovery_key_can_rotate(team):
    with team.unlock("officer") as officer, pytest.raises(PermissionDenied):
        rekey.rotate_keys(officer)
    with team.unlock("lead") as lead:
        users.add_user(
            lead,
            username="policelead",
            display_name="Police Lead",
            role=Role.TEAM_LEAD,
            passphrase="police lead passphrase",
        )
    police_lead = unlock.unlock(team.paths, "policelead", "police lead passphrase", dirs=team.dirs)
    with police_lead, pytest.raises(PermissionDenied) as error:
        rekey.rotate_keys(police_lead)
    assert "clinical key" in str(error.value)
    assert read_slot_file(team.paths).generation == 0
    with unlock.unlock_with_recovery_key(team.paths, team.recovery_key, dirs=team.dirs) as r:
        assert rekey.rotate_keys(r).generation == 1


def test_a_second_rotation_and_new_users_after_it(team):
    with team.unlock("lead") as lead:
        rekey.rotate_keys(lead, new_recovery=False)
        users.add_user(
            lead, username="newbie", display_name="New", role=Role.OFFICER, passphrase="x" * 12
        )
        assert rekey.rotate_keys(lead, new_recovery=False).generation == 2
    with unlock.unlock(team.paths, "newbie", "x" * 12, dirs=team.dirs) as newbie:
        assert not newbie.has_clinical_key


# -- killed half way ----------------------------------------------------------------------------

#: Every step boundary of a rotation as the worker reports it (rekey's progress texts, then the
#: caller's): the worker kills itself right after reporting the one a test aims at.
KILL_POINTS = (
    "Preparing new keys",  # unlocked, nothing written yet
    "Re-encrypting clinician-only notes",  # the journal (next key file) is written
    "Committing the new keys",  # notes re-encrypted, not committed
    "Re-encrypting the database",  # committed: the point of no return
    "Putting the new key file in place",  # database under the new key, old key file
    "Keys rotated",  # new key file in place
    "Showing the recovery key",  # rotation returned; nobody has seen the new recovery key
    "Confirming the recovery key",  # the new key was shown, not yet confirmed
    "Done",  # confirmed
)
STEPS = ("ready", *(f"step {point}" for point in KILL_POINTS))


def _recovery_opens(team, recovery_key: str) -> bool:
    try:
        with unlock.unlock_with_recovery_key(team.paths, recovery_key, dirs=team.dirs):
            return True
    except AuthenticationFailed:
        return False


class RotationChecker:
    """After each kill: the next unlock settles the vault, which then opens with exactly one of
    the old or new keys, holds every contact and note, is intact, and opens with a recovery key
    that somebody has seen (the printed one until a new one is confirmed, then the new one)."""

    def __init__(self, team) -> None:
        self.team = team
        self.keys = unlock_user(team.paths, "lead", PASSPHRASES["lead"])
        self.ids = contact_ids(team.paths, self.keys.record_key)
        self.notes = clinical_notes(team.paths, self.keys.record_key, self.keys.clinical_key)
        self.printed = team.recovery_key  # the recovery key people have on paper
        self.outcomes: collections.Counter[str] = collections.Counter()

    def check(self, lines: list[str], unlocker: str, where: str) -> None:
        team = self.team
        with team.unlock(unlocker):  # finishes or undoes the rotation: any user's unlock
            pass
        assert not team.paths.keyslots_pending.exists(), where
        after = unlock_user(team.paths, "lead", PASSPHRASES["lead"])
        if after.record_key == self.keys.record_key:
            assert after.generation == self.keys.generation, where
            assert not any(line.startswith("rotated") for line in lines), where
            self.outcomes["old keys"] += 1
        else:
            assert after.generation == self.keys.generation + 1, where
            assert not opens(team.paths, self.keys.record_key), f"{where}: both keys open"
            self.outcomes["new keys"] += 1
        assert contact_ids(team.paths, after.record_key) == self.ids, where
        notes = clinical_notes(team.paths, after.record_key, after.clinical_key)
        assert notes == self.notes, f"{where}: clinical notes differ"
        assert integrity(team.paths, after.record_key) == (["ok"], []), where
        shown = [line.split(" ", 1)[1] for line in lines if line.startswith("shown ")]
        if "confirmed" in lines:
            assert _recovery_opens(team, shown[-1]), f"{where}: the confirmed key fails"
            assert not _recovery_opens(team, self.printed), f"{where}: the old key still works"
            self.printed = shown[-1]
            self.outcomes["new recovery key confirmed"] += 1
        elif shown and not _recovery_opens(team, self.printed):
            # Killed while confirming: the key shown is the one that works now.
            assert _recovery_opens(team, shown[-1]), f"{where}: no seen recovery key works"
            self.printed = shown[-1]
            self.outcomes["killed while confirming"] += 1
        else:
            assert _recovery_opens(team, self.printed), f"{where}: the printed key fails"
            if shown:
                self.outcomes["new recovery key shown, not confirmed"] += 1
        self.keys = after


def _kill_rotation_repeatedly(team, seeded, tmp_path, kills: int, seed: int) -> dict:
    rng = random.Random(seed)
    workers = Workers(team.paths, {"lead": PASSPHRASES["lead"]}, tmp_path / "tmp")
    checker = RotationChecker(team)
    started = time.monotonic()
    try:
        for run in range(kills):
            pid = workers.start("rekey", "lead")
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0.0, 0.7))
            else:
                workers.wait_for(rng.choice(STEPS))
                time.sleep(rng.uniform(0.0, 0.02))
            lines = workers.kill(pid)
            # Whoever unlocks next finishes or undoes the rotation: an officer as often as a lead.
            checker.check(lines, rng.choice(["officer", "lead"]), f"kill {run}")
    finally:
        workers.close()
    with team.unlock("lead") as lead:
        report = verify_vault(lead)
        assert report.ok, report.lines()
    return {**checker.outcomes, "kills": kills, "seconds": round(time.monotonic() - started, 1)}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_rotation_killed_at_each_step_keeps_a_way_in(team, seeded, tmp_path, point):
    workers = Workers(team.paths, {"lead": PASSPHRASES["lead"]}, tmp_path / "tmp")
    checker = RotationChecker(team)
    try:
        workers.start("rekey", "lead", point.replace(" ", "_"))
        lines = workers.finish()
    finally:
        workers.close()
    assert f"step {point}" in lines, lines
    # The worker died right after reporting this step, and not a step later.
    assert lines[-1] == f"step {point}" or lines[-1].startswith("shown "), lines
    checker.check(lines, "officer", point)
    with team.unlock("lead") as lead:
        assert verify_vault(lead).ok


def test_rotation_killed_5_times_at_random_opens_with_old_or_new_keys(team, seeded, tmp_path):
    print(_kill_rotation_repeatedly(team, seeded, tmp_path, kills=5, seed=5))


@pytest.mark.slow
def test_rotation_killed_50_times_opens_with_old_or_new_keys(team, seeded, tmp_path):
    figures = _kill_rotation_repeatedly(team, seeded, tmp_path, kills=50, seed=50)
    print(figures)
    assert figures.get("old keys") and figures.get("new keys")


# -- each point of interruption, deterministically: a copy of the folder taken at that moment
# is what a crash there would leave behind.


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("journal written", "old keys"),
        ("notes re-encrypted", "new keys"),
        ("database re-encrypted", "new keys"),
    ],
)
def test_crash_image_at_each_step_is_settled_by_the_next_unlock(
    team, seeded, tmp_path, monkeypatch, moment, expected
):
    image = tmp_path / "crash-image"
    folder = team.paths.database.parent

    def snapshot() -> None:
        shutil.copytree(folder, image)

    def after(original, when):
        def wrapper(*args, **kwargs):
            if when == "before":
                snapshot()
            result = original(*args, **kwargs)
            if when == "after":
                snapshot()
            return result

        return wrapper

    target = {
        "journal written": ("_reencrypt_notes", "before"),
        "notes re-encrypted": ("_finish", "before"),
        "database re-encrypted": ("rekey_database", "after"),
    }[moment]
    old = unlock_user(team.paths, "lead", PASSPHRASES["lead"])
    notes = clinical_notes(team.paths, old.record_key, old.clinical_key)
    with monkeypatch.context() as patch, team.unlock("lead") as lead:
        patch.setattr(rotation, target[0], after(getattr(rotation, target[0]), target[1]))
        rekey.rotate_keys(lead, new_recovery=False)

    crashed = VaultPaths.at(image / team.paths.database.name)
    assert crashed.keyslots_pending.exists()
    with unlock.unlock(crashed, "officer", PASSPHRASES["officer"], dirs=team.dirs):
        pass  # an officer's unlock settles it as well as a lead's would
    assert not crashed.keyslots_pending.exists()
    keys = unlock_user(crashed, "lead", PASSPHRASES["lead"])
    assert (keys.record_key == old.record_key) == (expected == "old keys")
    assert keys.generation == (0 if expected == "old keys" else 1)
    assert opens(crashed, old.record_key) == (expected == "old keys")
    assert clinical_notes(crashed, keys.record_key, keys.clinical_key) == notes
    assert integrity(crashed, keys.record_key) == (["ok"], [])
