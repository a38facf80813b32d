"""A wrong passphrase, a missing key-slot file or the wrong file chosen: a clear message, not
one byte changed (SHA-256 of every file before and after), and no empty vault created."""

from __future__ import annotations

import copy
import json
import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import AuthenticationFailed, SimDeskError, VaultDamaged, VaultNotFound
from sim_desk.records.vault import backup, unlock
from sim_desk.records.vault.files import VaultPaths
from tests.conftest import PASSPHRASES
from tests.fuzzing import examples
from tests.reliability.helpers import file_hashes

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 40


def attempt(paths, username, passphrase, dirs) -> SimDeskError:
    with pytest.raises(SimDeskError) as error:
        unlock.unlock(paths, username, passphrase, dirs=dirs)
    message = str(error.value)
    assert passphrase not in message  # never echoed, whatever was typed
    return error.value


@pytest.fixture
def folder(team):
    return team.paths.database.parent


def test_wrong_passphrase_unknown_user_and_wrong_recovery_key_change_nothing(team, folder):
    before = file_hashes(folder)
    error = attempt(team.paths, "officer", "officer passphrase 2", team.dirs)
    assert isinstance(error, AuthenticationFailed) and "passphrase is not right" in str(error)
    error = attempt(team.paths, "nobody", PASSPHRASES["officer"], team.dirs)
    assert isinstance(error, AuthenticationFailed) and "no user with that name" in str(error)
    with pytest.raises(AuthenticationFailed) as recovery:
        unlock.unlock_with_recovery_key(team.paths, "AAAA-" * 7 + "AAAA", dirs=team.dirs)
    assert "recovery key is not right" in str(recovery.value)
    assert file_hashes(folder) == before


def test_missing_key_slot_file_is_named_and_nothing_is_created(team, folder, tmp_path):
    shutil.move(team.paths.keyslots, tmp_path / "elsewhere")
    before = file_hashes(folder)
    error = attempt(team.paths, "lead", PASSPHRASES["lead"], team.dirs)
    assert isinstance(error, VaultNotFound) and "key-slot file" in str(error)
    assert "missing" in str(error) and "backup" in str(error)
    assert file_hashes(folder) == before


def test_no_vault_at_the_path_creates_nothing(team, tmp_path):
    nowhere = VaultPaths.at(tmp_path / "new-folder" / "team.simvault")
    error = attempt(nowhere, "lead", PASSPHRASES["lead"], team.dirs)
    assert isinstance(error, VaultNotFound) and "There is no vault" in str(error)
    assert not (tmp_path / "new-folder").exists()


def test_a_pdf_renamed_as_a_vault_is_named_as_a_pdf(team, tmp_path):
    alone = VaultPaths.at(tmp_path / "letter.simvault")
    alone.database.write_bytes(PDF)
    before = file_hashes(tmp_path)
    error = attempt(alone, "lead", PASSPHRASES["lead"], team.dirs)
    assert isinstance(error, VaultNotFound) and "is a PDF document" in str(error)
    # ... and beside a real key-slot file (the PDF was copied over the vault database):
    shutil.copy(team.paths.keyslots, alone.keyslots)
    before = file_hashes(tmp_path)
    error = attempt(alone, "lead", PASSPHRASES["lead"], team.dirs)
    assert isinstance(error, VaultDamaged) and "is a PDF document" in str(error)
    assert file_hashes(tmp_path) == before


def test_other_vaults_slot_file_beside_this_database(team, folder, tmp_path):
    other = VaultPaths.at(tmp_path / "other" / "other.simvault")
    unlock.create_vault(
        other,
        team_name="Other Team",
        username="lead",
        display_name="Other Lead",
        passphrase="other vault passphrase",
    )
    shutil.copy(other.keyslots, team.paths.keyslots)
    before = file_hashes(folder)
    error = attempt(team.paths, "lead", PASSPHRASES["lead"], team.dirs)
    assert isinstance(error, AuthenticationFailed)  # this slot is the other vault's lead's
    error = attempt(team.paths, "lead", "other vault passphrase", team.dirs)
    assert isinstance(error, VaultDamaged) and "another vault" in str(error)
    assert file_hashes(folder) == before


def test_helper_files_backups_and_empty_files_chosen_as_the_vault(team, folder, tmp_path):
    with team.unlock("lead") as lead:
        backup.backup_vault(lead, tmp_path / "b.simbackup")
    before = file_hashes(folder)
    for chosen, words in (
        (team.paths.keyslots, "helper files"),
        (tmp_path / "b.simbackup", "looks like a SIM Desk backup"),
    ):
        error = attempt(VaultPaths.at(chosen), "lead", PASSPHRASES["lead"], team.dirs)
        assert isinstance(error, VaultNotFound) and words in str(error), str(error)
    # An empty file where the database should be would be an empty SQLite database: refused,
    # never filled with new tables.
    empty = VaultPaths.at(tmp_path / "empty.simvault")
    empty.database.write_bytes(b"")
    shutil.copy(team.paths.keyslots, empty.keyslots)
    error = attempt(empty, "lead", PASSPHRASES["lead"], team.dirs)
    assert isinstance(error, VaultDamaged) and "empty" in str(error)
    assert empty.database.stat().st_size == 0
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(("b.", "empty"))) == [
        "b.simbackup",
        "empty.simvault",
        "empty.simvault-keys",
    ]
    assert file_hashes(folder) == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@pytest.mark.fuzz
def test_edited_key_slot_files_are_refused_with_a_message(_team_template, tmp_path_factory):
    source = _team_template[0]
    folder = tmp_path_factory.mktemp("edited") / "vault"
    shutil.copytree(source, folder)
    paths = VaultPaths.at(folder / "team.simvault")
    original = json.loads(paths.keyslots.read_text())
    database = file_hashes(paths.database)
    dirs = AppDirs(folder / "d", folder / "s", folder / "c")

    @settings(max_examples=examples(12))
    @given(
        st.sampled_from(["lead", "officer"]),
        st.sampled_from(sorted(original["slots"][0])),
        json_values,
    )
    def refused_cleanly(username: str, key: str, value: object) -> None:
        doc = copy.deepcopy(original)
        for slot in doc["slots"]:
            if slot["username"] == username:
                slot[key] = value
        paths.keyslots.write_text(json.dumps(doc))
        try:
            unlock.unlock(paths, username, PASSPHRASES[username], dirs=dirs).lock()
        except SimDeskError as error:
            assert str(error)
            assert file_hashes(paths.database) == database
        else:  # an edit that changed nothing that matters (the same value written back)
            database.clear()
            database.update(file_hashes(paths.database))

    refused_cleanly()
