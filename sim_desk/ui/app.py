"""Starting the desktop app: display check, style, first-run wizard or unlock, main window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.vault import VaultPaths

RESOURCES = Path(__file__).resolve().parent.parent.parent / "resources"


def resources_dir() -> Path:
    """The resources folder, in a source checkout or a frozen (PyInstaller) bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) / "resources" if frozen else RESOURCES


def has_display() -> bool:
    """Whether Qt can show a window here. Checked before QApplication so that a machine with no
    display gets one clear sentence, not a Qt platform-plugin abort."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def style_sheet() -> str:
    try:
        return (resources_dir() / "style.qss").read_text(encoding="utf-8")
    except OSError:
        return ""


def make_application(argv: list[str] | None = None):  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("SIM Desk")
    app.setOrganizationName("SIM Desk")
    app.setStyleSheet(style_sheet())
    icon = resources_dir() / "icons" / "sim-desk.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def run(paths: VaultPaths | None = None, *, dirs: AppDirs | None = None) -> int:
    """Opens the app on ``paths`` (or the remembered vault, or the first-run wizard)."""
    if not has_display():
        print(
            "sim-desk: no display found (DISPLAY is not set); run it in a desktop session,"
            " or use the command-line sub-commands (sim-desk --help).",
            file=sys.stderr,
        )
        return 1
    from PySide6.QtCore import QTimer

    from sim_desk.settings import Settings
    from sim_desk.ui.main_window import MainWindow
    from sim_desk.ui.session import UiSession
    from sim_desk.ui.unlock import UnlockDialog

    app = make_application()
    dirs = dirs or AppDirs.default()
    settings = Settings.load(dirs)
    if paths is None and settings.last_vault and Path(settings.last_vault).exists():
        paths = VaultPaths.at(settings.last_vault)
    if paths is None and dirs.default_vault.exists():
        paths = VaultPaths.at(dirs.default_vault)
    if paths is None or not paths.exists():
        from sim_desk.ui.wizard import FirstRunWizard

        wizard = FirstRunWizard(dirs, suggested=paths)
        if wizard.exec() != wizard.DialogCode.Accepted or wizard.chosen is None:
            return 0
        paths = wizard.chosen
    session = UiSession(paths, dirs=dirs, settings=settings)
    window = MainWindow(session)

    def ask_unlock() -> None:
        if window.quitting:
            return
        dialog = UnlockDialog(session, window)
        if dialog.exec() != dialog.DialogCode.Accepted:
            window.quitting = True
            window.close()
            app.quit()

    # After the lock has hidden every page, ask again; Quit there closes the app.
    session.locked.connect(lambda: QTimer.singleShot(0, ask_unlock))
    dialog = UnlockDialog(session)
    if dialog.exec() != dialog.DialogCode.Accepted:
        return 0
    window.show()
    return int(app.exec())
