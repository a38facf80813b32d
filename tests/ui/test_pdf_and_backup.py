"""PDF previews, backups, key rotation and the integrity check, through the real widgets on real
encrypted vaults (offscreen). File dialogs are never opened: the methods they call are.

Pictures of the new dialogs are saved for a person to look at (set SIM_DESK_SHOTS to keep them).
"""

from __future__ import annotations

import io
import json
import os
import stat
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt, QTimer
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QApplication, QCheckBox, QLabel, QMessageBox, QPushButton

from sim_desk.records import contacts
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import AuthenticationFailed, VaultBusy
from sim_desk.records.team import users
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.ui.backup_log import BackupLog, reminder_text
from sim_desk.ui.integrity import DamageDialog
from sim_desk.ui.main_window import MainWindow
from sim_desk.ui.pdf_preview import PdfPreviewDialog
from sim_desk.ui.person.reports_menu import MY_RECORD, OUTCOME, ReportOptionsDialog
from sim_desk.ui.person.workspace import PersonWorkspace
from sim_desk.ui.reports_page import ReportsPage
from sim_desk.ui.settings_page import SettingsPage
from sim_desk.ui.team import TeamPage
from sim_desk.ui.team_keys import RotateKeysDialog
from sim_desk.ui.today import TodayPage
from tests.conftest import FIXED_NOW, PASSPHRASES
from tests.reliability.helpers import flip
from tests.ui.conftest import make_session
from tests.ui.helpers import find
from tests.ui.people_data import CLINICAL_CANARY, add_history, add_person, at
from tests.ui.test_reports_page import a_cohort

SLOW = 60_000
LEFT = Qt.MouseButton.LeftButton
PAGE = 4096


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SIM_DESK_SHOTS", tmp_path / "shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def snap(widget, folder: Path, name: str) -> None:
    if widget.isWindow() and not widget.isVisible():
        # The size it opens with on a real screen: the offscreen screen is 800 × 600, and a
        # window may take only 2/3 of a screen's width when it first opens.
        width = max(widget.sizeHint().width(), widget.minimumWidth())
        height = widget.layout().heightForWidth(width) if widget.layout() else -1
        widget.resize(width, max(height, widget.sizeHint().height()))
        widget.show()
    QApplication.processEvents()
    path = folder / f"{name}.png"
    assert widget.grab().save(str(path))
    assert path.stat().st_size > 5_000


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def files_outside(root: Path, skip: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and skip not in p.parents}


def wait_for_preview(qtbot, holder) -> PdfPreviewDialog:
    qtbot.waitUntil(lambda: holder.preview is not None, timeout=SLOW)
    preview = holder.preview
    qtbot.waitUntil(lambda: preview.pages_rendered == preview.page_count, timeout=SLOW)
    return preview


def preview_pages(preview: PdfPreviewDialog):
    return PdfReader(io.BytesIO(preview.pdf_bytes)).pages


# -- PDF reports and the preview ----------------------------------------------------------


def test_cohort_report_from_the_reports_page_is_previewed_saved_and_printed(
    qtbot, team, lead_session, tmp_path, shots
):
    a_cohort(lead_session.vault)
    page = ReportsPage(lead_session)
    qtbot.addWidget(page)
    before = files_outside(tmp_path, team.paths.database.parent)

    qtbot.mouseClick(find(page, QPushButton, "Cohort report PDF"), LEFT)
    preview = wait_for_preview(qtbot, page)

    pages = len(PdfReader(io.BytesIO(preview.pdf_bytes)).pages)
    assert pages >= 3 and preview.page_count == pages
    labels = [find(preview, QLabel, f"Page {n} of {pages}") for n in range(1, pages + 1)]
    assert all(not label.pixmap().isNull() for label in labels)
    assert preview.windowTitle() == "Cohort outcome report"
    assert find(preview, QLabel, "Pages").text() == f"{pages} pages"
    # Made and shown from memory: not a byte on disk until the user saves.
    assert files_outside(tmp_path, team.paths.database.parent) == before
    preview.resize(900, 1000)
    snap(preview, shots, "pdf-preview-cohort")

    out = tmp_path / "chosen" / "cohort.pdf"
    out.parent.mkdir()
    assert preview.save_to(out)
    assert owner_only(out)
    saved = PdfReader(out)
    assert len(saved.pages) == pages
    text = saved.pages[0].extract_text()
    assert "Cohort outcome report" in text and "OFFICIAL-SENSITIVE" in text
    assert "Saved to" in find(preview, QLabel, "Save status").text()
    assert sorted(p.name for p in out.parent.iterdir()) == ["cohort.pdf"]  # no temp files

    printer = QPrinter(QPrinter.PrinterMode.ScreenResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "printed.pdf"))
    assert preview.print_to(printer) == pages
    assert len(PdfReader(tmp_path / "printed.pdf").pages) == pages


def test_officer_cannot_include_clinician_notes_but_makes_the_person_report(
    qtbot, team, lead_session, officer_session, shots
):
    person = add_person(lead_session.vault, pair_id=team.pair_id)
    add_history(lead_session.vault, person)
    dialog = ReportOptionsDialog(officer_session, OUTCOME)
    qtbot.addWidget(dialog)
    assert not find(dialog, QCheckBox, "Include clinician-only notes").isEnabled()
    snap(dialog, shots, "person-report-options-officer")

    workspace = PersonWorkspace(officer_session, person)
    qtbot.addWidget(workspace)
    menu = workspace.reports.button.menu()
    assert [a.text() for a in menu.actions()] == [
        "Person outcome report…",
        "My record (subject access copy)…",
    ]
    workspace.reports.make(OUTCOME)
    preview = wait_for_preview(qtbot, workspace.reports)
    assert preview.windowTitle() == "Person outcome report"  # never a name in a title
    text = " ".join(p.extract_text() for p in preview_pages(preview))
    assert "Person outcome report" in text and "Wiśniewska" in text


def test_clinician_may_include_notes_and_makes_the_subject_access_copy(
    qtbot, team, lead_session, clinician_session
):
    person = add_person(lead_session.vault, pair_id=team.pair_id)
    contacts.log_contact(
        clinician_session.vault,
        person,
        ContactDetails(started_at=at(2026, 10, 30), clinical_note=CLINICAL_CANARY),
    )
    dialog = ReportOptionsDialog(clinician_session, MY_RECORD)
    qtbot.addWidget(dialog)
    assert find(dialog, QCheckBox, "Include clinician-only notes").isEnabled()

    workspace = PersonWorkspace(clinician_session, person)
    qtbot.addWidget(workspace)
    workspace.reports.make(MY_RECORD, include_clinical=True)
    preview = wait_for_preview(qtbot, workspace.reports)
    assert preview.windowTitle() == "My record (subject access copy)"
    text = " ".join(" ".join(p.extract_text().split()) for p in preview_pages(preview))
    assert "Your record" in text and CLINICAL_CANARY in text


# -- backup and restore -------------------------------------------------------------------


def test_backup_then_restore_to_a_new_folder_from_settings(
    qtbot, team, lead_session, tmp_path, monkeypatch, shots
):
    page = SettingsPage(lead_session)
    qtbot.addWidget(page)
    page.resize(900, 1000)
    page.show()
    page.refresh()
    panel = page.backup
    assert panel.isVisible()
    assert "No backup" in find(panel, QLabel, "Last backup").text()

    out = tmp_path / "usb" / "north.simbackup"
    out.parent.mkdir()
    panel.back_up_to(out)
    qtbot.waitUntil(lambda: panel.job is None, timeout=SLOW)
    status = find(panel, QLabel, "Backup status").text()
    assert status.startswith(f"Backup written to {out}")
    assert owner_only(out)
    assert (
        "Last backup on this laptop: 02/11/2026 10:00" in find(panel, QLabel, "Last backup").text()
    )
    log = json.loads((team.dirs.config / "backups.json").read_text())
    assert list(log["vaults"]) == [str(lead_session.vault.vault_id)]  # ids and dates only

    target = tmp_path / "restored" / "north.simvault"
    panel.restore_to(out, target)
    qtbot.waitUntil(lambda: panel.job is None, timeout=SLOW)
    assert "Restored to" in find(panel, QLabel, "Backup status").text()
    snap(page, shots, "settings-backup-restored")
    restored = VaultPaths.at(target)
    with unlock.unlock(restored, "officer", PASSPHRASES["officer"], dirs=team.dirs) as vault:
        assert vault.actor.display_name == "Olu Officer"

    # The same place again: refused, said so, and nothing is replaced.
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a: warned.append(text))
    before = target.read_bytes()
    panel.restore_to(out, target)
    qtbot.waitUntil(lambda: panel.job is None, timeout=SLOW)
    assert warned and "already exists" in warned[0] and "never overwrites" in warned[0]
    assert find(panel, QLabel, "Backup status").text() == "Nothing was restored."
    assert target.read_bytes() == before

    panel.open_restored_next_time()
    assert lead_session.settings.last_vault == str(target)


def test_backups_are_for_team_leads_only(qtbot, officer_session):
    page = SettingsPage(officer_session)
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    assert not page.backup.isVisible()


def test_backup_reminder_on_today_after_seven_days_and_dismissed_until_tomorrow(
    qtbot, team, lead_session, officer_session, shots
):
    vault = lead_session.vault
    log = BackupLog(team.dirs)
    today = TodayPage(lead_session)
    qtbot.addWidget(today)
    today.resize(1100, 700)
    today.show()
    today.refresh()
    banner = find(today, type(today.backup_reminder), "Backup reminder")
    assert not banner.isVisible()  # first seen today: a week's grace

    log.note_backup(vault.vault_id, FIXED_NOW - timedelta(days=7))
    today.refresh()
    assert not banner.isVisible()
    log.note_backup(vault.vault_id, FIXED_NOW - timedelta(days=10))
    today.refresh()
    assert banner.isVisible()
    assert "23/10/2026, 10 days ago" in find(banner, QLabel, "Backup reminder text").text()
    snap(today, shots, "today-backup-reminder")

    officer_today = TodayPage(officer_session)
    qtbot.addWidget(officer_today)
    officer_today.show()
    officer_today.refresh()
    assert not officer_today.backup_reminder.isVisible()

    qtbot.mouseClick(find(banner, QPushButton, "Dismiss backup reminder"), LEFT)
    assert not banner.isVisible()
    today.refresh()
    assert not banner.isVisible()  # snoozed until tomorrow
    state = log.state(vault.vault_id)
    assert reminder_text(state, vault.today() + timedelta(days=1)) is not None


def test_never_backed_up_is_reminded_a_week_after_first_seen(team):
    log = BackupLog(team.dirs)
    vault_id = uuid.uuid4()
    log.note_seen(vault_id, FIXED_NOW - timedelta(days=8))
    text = reminder_text(log.state(vault_id), FIXED_NOW.date())
    assert text is not None and "has not been backed up" in text


# -- key rotation -------------------------------------------------------------------------


def test_rotating_keys_from_the_team_page_keeps_passphrases_and_issues_a_recovery_key(
    qtbot, team, lead_session, tmp_path, shots
):
    page = TeamPage(lead_session)
    qtbot.addWidget(page)
    page.resize(1000, 900)
    page.show()
    page.refresh()
    explain = RotateKeysDialog(page)
    qtbot.addWidget(explain)
    snap(explain, shots, "rotate-keys-explained")

    page.keys.start_rotation(new_recovery=True)
    qtbot.waitUntil(lambda: page.keys.recovery_dialog is not None, timeout=SLOW)
    dialog = page.keys.recovery_dialog
    new_key = dialog.recovery_key
    assert new_key != team.recovery_key
    assert find(dialog, QLabel, "Recovery key").text() == new_key
    close = find(dialog, QPushButton, "Close")
    assert not close.isEnabled()
    dialog.reject()  # Escape does not lose the key
    assert dialog.isVisible()
    dialog.team_name.setText("North Team")
    sheet = tmp_path / "sheet" / "recovery.pdf"
    sheet.parent.mkdir()
    assert dialog.save_sheet_to(sheet)
    assert owner_only(sheet)
    sheet_text = PdfReader(sheet).pages[0].extract_text()
    assert new_key in sheet_text and "North Team" in sheet_text
    snap(dialog, shots, "new-recovery-key")
    assert "Keys rotated" in find(page, QLabel, "Key rotation status").text()
    # Until the lead says the new key is kept safe, the printed one still opens the vault.
    with unlock.unlock_with_recovery_key(team.paths, team.recovery_key, dirs=team.dirs):
        pass
    find(dialog, QCheckBox, "New recovery key kept safe").setChecked(True)
    assert close.isEnabled()
    qtbot.mouseClick(close, LEFT)
    assert "old sheet no longer works" in find(page, QLabel, "Key rotation status").text()

    for name in ("officer", "clinician", "analyst"):
        with team.unlock(name) as vault:
            assert vault.actor.username == name
    with unlock.unlock_with_recovery_key(team.paths, new_key, dirs=team.dirs) as vault:
        assert vault.has_clinical_key
    with pytest.raises(AuthenticationFailed):
        unlock.unlock_with_recovery_key(team.paths, team.recovery_key, dirs=team.dirs)
    assert len(users.list_users(lead_session.vault)) == 6  # the lead goes on working


def test_removing_a_leaver_offers_rotation_right_away(
    qtbot, team, lead_session, monkeypatch, shots
):
    page = TeamPage(lead_session)
    qtbot.addWidget(page)
    page.resize(1000, 900)
    page.show()
    page.refresh()
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    table = page.users_table
    names = [table.item(r, 0).text() for r in range(table.rowCount())]
    table.selectRow(names.index("Omar Officer"))
    qtbot.mouseClick(find(page, QPushButton, "Remove user"), LEFT)
    offer = page.keys.offer
    assert offer.isVisible()
    assert "Omar Officer" in find(offer, QLabel, "Why rotate the keys now").text()
    snap(page, shots, "team-rotate-offer")

    def agree() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, RotateKeysDialog)
        assert "Omar Officer" in find(dialog, QLabel, "Why rotate now").text()
        find(dialog, QPushButton, "Rotate keys").click()

    QTimer.singleShot(0, agree)
    qtbot.mouseClick(find(offer, QPushButton, "Rotate keys now"), LEFT)
    qtbot.waitUntil(lambda: page.keys.recovery_dialog is not None, timeout=SLOW)
    assert not offer.isVisible()
    assert page.keys.last_rotation is not None and page.keys.last_rotation.generation == 1


def test_busy_vault_is_explained_and_nothing_changes(qtbot, lead_session, monkeypatch):
    import sim_desk.records.vault.rekey as rekey

    def busy(*_a, **_k):
        raise VaultBusy("The vault is in use by another SIM Desk window or command.")

    monkeypatch.setattr(rekey, "rotate_keys", busy)
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a: warned.append(text))
    page = TeamPage(lead_session)
    qtbot.addWidget(page)
    page.refresh()
    page.keys.start_rotation()
    qtbot.waitUntil(lambda: bool(warned), timeout=SLOW)
    assert "Close SIM Desk everywhere else" in warned[0] and "Nothing was changed" in warned[0]
    assert page.keys.rotate_button.isEnabled()
    assert page.keys.recovery_dialog is None


def test_officer_and_non_clinical_lead_cannot_start_a_rotation(qtbot, officer_session):
    page = TeamPage(officer_session)
    qtbot.addWidget(page)
    assert not page.keys.rotate_button.isEnabled()


# -- integrity at unlock ------------------------------------------------------------------


def test_damaged_vault_shows_a_banner_after_unlock(qtbot, team, shots):
    # Plenty of contacts, so the middle of the file holds their pages (not read at unlock).
    with team.unlock("clinician") as clinician:
        person = add_person(clinician, pair_id=team.pair_id, enrolled=None)
        for day in range(1, 120):
            contacts.log_contact(
                clinician,
                person,
                ContactDetails(
                    started_at=FIXED_NOW - timedelta(days=day), shared_note="A long walk. " * 60
                ),
            )
    size = team.paths.database.stat().st_size
    page = size // PAGE // 2 + 1
    flip(team.paths.database, (page - 1) * PAGE + 700)

    session = make_session(team)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    session.unlock("lead", PASSPHRASES["lead"])
    banner = window.damage_banner
    qtbot.waitUntil(banner.isVisible, timeout=SLOW)
    assert "This vault is damaged" in find(banner, QLabel, "Vault damage").text()
    assert "Settings → Backup and restore" in find(banner, QLabel, "Vault damage").text()
    dialog = banner.dialog
    assert isinstance(dialog, DamageDialog) and dialog.isVisible()
    found = dialog.findings.toPlainText()
    assert f"page {page} fails its authentication check" in found
    assert "Restore it from your latest backup" in find(dialog, QLabel, "What to do").text()
    snap(dialog, shots, "integrity-damage-dialog")
    dialog.close()
    snap(window, shots, "integrity-damage-banner")

    session.lock()
    assert not banner.isVisible()


def test_healthy_vault_shows_no_banner(qtbot, team):
    session = make_session(team)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.unlock("officer", PASSPHRASES["officer"])
    qtbot.waitUntil(lambda: window.integrity.report is not None, timeout=SLOW)
    assert window.integrity.report.ok
    assert not window.damage_banner.isVisible()
    session.lock()


def test_a_tampered_audit_log_is_shown_loudly_and_a_lead_can_mark_it_looked_into(
    qtbot, team, shots
):
    team.paths.audit_head.unlink()  # the head copy beside the vault deleted
    session = make_session(team)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    session.unlock("lead", PASSPHRASES["lead"])
    assert session.vault.opening_findings  # found before the unlock wrote anything
    banner = window.damage_banner
    qtbot.waitUntil(banner.isVisible, timeout=SLOW)
    dialog = banner.dialog
    assert isinstance(dialog, DamageDialog)
    assert "the copy was missing" in dialog.findings.toPlainText()
    snap(dialog, shots, "integrity-audit-finding")
    assert dialog.reviewed_button is not None
    qtbot.mouseClick(dialog.reviewed_button, LEFT)
    qtbot.waitUntil(lambda: window.integrity.report is not None, timeout=SLOW)
    assert window.integrity.report.ok
    assert not banner.isVisible()
    session.lock()


def test_an_officer_sees_the_finding_but_cannot_mark_it(qtbot, team):
    team.paths.audit_head.unlink()
    session = make_session(team)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.unlock("officer", PASSPHRASES["officer"])
    qtbot.waitUntil(window.damage_banner.isVisible, timeout=SLOW)
    assert window.damage_banner.dialog.reviewed_button is None
    session.lock()


def test_a_new_recovery_key_alone_replaces_the_old_one_once_confirmed(
    qtbot, team, lead_session, monkeypatch
):
    page = TeamPage(lead_session)
    qtbot.addWidget(page)
    page.refresh()
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(find(page, QPushButton, "New recovery key"), LEFT)
    dialog = page.keys.recovery_dialog
    assert dialog is not None and dialog.isVisible()
    new_key = dialog.recovery_key
    with unlock.unlock_with_recovery_key(team.paths, team.recovery_key, dirs=team.dirs):
        pass  # not confirmed yet: the printed key still works
    find(dialog, QCheckBox, "New recovery key kept safe").setChecked(True)
    qtbot.mouseClick(find(dialog, QPushButton, "Close"), LEFT)
    with pytest.raises(AuthenticationFailed):
        unlock.unlock_with_recovery_key(team.paths, team.recovery_key, dirs=team.dirs)
    with unlock.unlock_with_recovery_key(team.paths, new_key, dirs=team.dirs):
        pass
