"""No plaintext on disk: after a session of work, a canary name and NHS number occur in no file
of the vault's folder (database, WAL, key slots, audit head), the backup, the temp folder or the
app's own folders (where logs and failed-unlock notes go), in any common encoding or case."""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest

from sim_desk.records import contacts, people
from sim_desk.records.errors import AuthenticationFailed
from sim_desk.records.vault import backup, rekey, unlock
from tests.conftest import FIXED_NOW

CANARY_NAME = "Quillfeather"
CANARY_NHS = "9434765919"


def needles() -> list[bytes]:
    texts = {CANARY_NAME, CANARY_NAME.lower(), CANARY_NAME.upper(), CANARY_NHS, "943 476 5919"}
    found = []
    for text in texts:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            found.append(text.encode(encoding))
    return found


def leaks(*roots: Path) -> list[str]:
    """Every (file, canary) pair found under the given folders or files."""
    out = []
    for root in roots:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            data = path.read_bytes()
            out += [f"{path}: {n!r}" for n in needles() if n in data]
    return out


@pytest.fixture
def temp_folder(tmp_path, monkeypatch):
    folder = tmp_path / "tmp"
    folder.mkdir()
    for name in ("TMPDIR", "TEMP", "TMP", "SQLITE_TMPDIR"):
        monkeypatch.setenv(name, str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # recomputed from TMPDIR
    assert tempfile.gettempdir() == str(folder)
    return folder


def test_canary_name_and_nhs_number_never_reach_the_disk_in_plaintext(
    team, tmp_path, temp_folder, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    control = temp_folder / "control.txt"  # the detector finds what it is looking for
    control.write_text(f"{CANARY_NAME.lower()} {CANARY_NHS}", encoding="utf-16")
    assert len(leaks(temp_folder)) >= 2
    control.unlink()
    home = Path(os.environ["SIM_DESK_HOME"])
    backups = tmp_path / "backups"
    backups.mkdir()
    folder = team.paths.database.parent
    with pytest.raises(AuthenticationFailed):  # a failed unlock is noted in the app's folders
        unlock.unlock(team.paths, "clinician", CANARY_NAME + " typed", dirs=team.dirs)
    with team.unlock("clinician") as clinician:
        person = people.create_person(
            clinician,
            people.PersonDetails(
                given_name=CANARY_NAME,
                family_name=f"{CANARY_NAME}-Okafor",
                preferred_name=CANARY_NAME,
                nhs_number="943 476 5919",
                referred_on=date(2026, 1, 5),
                goals=f"{CANARY_NAME} wants to walk more",
                crisis_plan=f"Call {CANARY_NAME}'s sister",
                pair_id=team.pair_id,
            ),
        )
        people.add_key_contact(
            clinician, person, name=f"{CANARY_NAME} senior", notes=f"NHS {CANARY_NHS}"
        )
        for i in range(5):
            details = contacts.ContactDetails(
                started_at=FIXED_NOW - timedelta(days=i + 1),
                shared_note=f"Met {CANARY_NAME} at the library ({i})",
                clinical_note=f"{CANARY_NAME} reports low mood; NHS {CANARY_NHS} ({i})",
            )
            contact = contacts.log_contact(clinician, person, details)
        details.clinical_note = f"{CANARY_NAME}: amended note"
        contacts.amend_contact(clinician, contact, details, reason="typo")
        assert CANARY_NAME in contacts.read_clinical_note(clinician, contact)
        people.view_person(clinician, person)
        open_leaks = leaks(folder, temp_folder, home)  # while open: WAL and shared memory too
    with team.unlock("lead") as lead:
        backup.backup_vault(lead, backups / "after-work.simbackup")
        rekey.rotate_keys(lead)
        backup.backup_vault(lead, backups / "after-rotation.simbackup")
    captured = capsys.readouterr()
    assert open_leaks == []
    assert leaks(folder, backups, temp_folder, home) == []
    for text in (caplog.text, captured.out, captured.err):
        assert CANARY_NAME not in text and CANARY_NHS not in text
