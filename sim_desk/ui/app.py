"""Starting the desktop app: display check, style, first-run wizard or unlock, main window."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.vault.files import VaultPaths

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

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


def collect_garbage_on_gui_thread(app) -> None:  # type: ignore[no-untyped-def]
    """Python's cycle collector runs on whichever thread happens to allocate; if that is a
    worker (see ``ui.worker``) and the garbage holds Qt widgets, their C++ side is destroyed off
    the GUI thread and the process can crash. So automatic collection is switched off and done
    here instead, on the GUI thread, as Anki does.

    Each second the youngest generation is collected (cheap: only objects made since the last
    tick); older generations follow Python's own thresholds, so with the default (700, 10, 10)
    a full collection comes every 100 seconds at most.
    """
    import gc

    from PySide6.QtCore import QTimer

    if app.property("simDeskCollector"):
        return

    def collect() -> None:
        _, older, oldest = gc.get_threshold()
        _, young_collections, older_collections = gc.get_count()
        if older_collections >= oldest:
            gc.collect(2)
        elif young_collections >= older:
            gc.collect(1)
        else:
            gc.collect(0)

    gc.disable()
    timer = QTimer(app)
    timer.setInterval(1_000)
    timer.timeout.connect(collect)
    timer.start()
    app.setProperty("simDeskCollector", True)


def make_application(argv: list[str] | None = None) -> QApplication:
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from sim_desk.ui.fonts import register_bundled_fonts

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    assert isinstance(app, QApplication)  # instance() is typed as its QCoreApplication base
    collect_garbage_on_gui_thread(app)
    app.setApplicationName("SIM Desk")
    app.setOrganizationName("SIM Desk")
    from PySide6.QtCore import QDir

    # The style sheet's arrows: url(sim-desk-icons:arrow-down-dark.svg), wherever it runs from.
    QDir.addSearchPath("sim-desk-icons", str(resources_dir() / "icons"))
    app.setStyleSheet(style_sheet())
    icon = resources_dir() / "icons" / "sim-desk.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    fonts = resources_dir() / "fonts"
    QTimer.singleShot(0, lambda: register_bundled_fonts(fonts))  # names in any script, not boxes
    return app


#: Modules the main window needs that have nothing to do with Qt (SQLAlchemy, the records
#: layer): about half a second of imports, loaded while the unlock dialog waits for a passphrase.
WARM_UP_MODULES = (
    "sim_desk.records.vault.unlock",
    "sim_desk.records.read_models.caseload",
    "sim_desk.records.vault.verify",
    "sim_desk.records.people",
    "sim_desk.records.contacts",
    "sim_desk.records.visits",
    "sim_desk.records.incidents",
)


def warm_up() -> threading.Thread:
    """Imports :data:`WARM_UP_MODULES` in a background thread and returns it.

    The unlock dialog is the first thing anyone sees, so it is shown before these load; by the
    time a passphrase has been typed they are ready, and unlocking does not wait for them.
    Python's import locks make this safe: an import of the same module on the GUI thread waits
    for the one under way. Only plain-Python modules here: Qt's own stay on the GUI thread.
    """
    import importlib

    def load() -> None:
        for name in WARM_UP_MODULES:
            importlib.import_module(name)

    thread = threading.Thread(target=load, name="sim-desk-warm-up", daemon=True)
    thread.start()
    return thread


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
    from PySide6.QtWidgets import QMessageBox

    from sim_desk.settings import Settings
    from sim_desk.ui.messages import install_excepthooks
    from sim_desk.ui.session import UiSession
    from sim_desk.ui.unlock import UnlockDialog

    app = make_application()
    install_excepthooks(app)
    dirs = dirs or AppDirs.default()
    settings = Settings.load(dirs)
    if settings.problems:
        QMessageBox.information(None, "Settings", "\n\n".join(settings.problems))
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
        joined = wizard.take_joined_vault()  # "Join my team": signed in already
    else:
        joined = None
    session = UiSession(paths, dirs=dirs, settings=settings)
    if joined is not None:
        session.adopt(joined, joined.actor.username)
    else:
        dialog = UnlockDialog(session)
        # Once the dialog has had its first paint, load the rest of the app behind it.
        QTimer.singleShot(100, warm_up)
        if dialog.exec() != dialog.DialogCode.Accepted:
            return 0
    # The main window is built unlocked: it fills its pages at once.
    from sim_desk.ui.main_window import MainWindow

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
    window.show()
    return int(app.exec())
