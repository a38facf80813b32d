"""Child processes for run.py's GUI figures. Offscreen (QT_QPA_PLATFORM=offscreen).

    gui_probe.py memory MANIFEST      the real MainWindow on the stress vault: Today, Caseload,
                                      a person with 5 years of history (every tab); prints the
                                      peak resident set size (VmHWM) as JSON
    gui_probe.py startup-app VAULT    the real start-up path (sim_desk.cli.main) up to the unlock
                                      dialog on screen; prints "shown" and exits there
    gui_probe.py startup-bare         a bare QApplication and QWidget shown; prints "shown"

The start-up modes import nothing they do not need before the window shows: the parent times
from process creation to the "shown" line.
"""

from __future__ import annotations

import os
import sys


def startup_bare() -> None:
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication(sys.argv[:1])
    window = QWidget()
    window.resize(420, 200)
    window.show()
    app.processEvents()
    print("shown", flush=True)
    os._exit(0)


def startup_app(vault: str) -> None:
    # The unlock dialog is the first thing the app shows. Its exec() is replaced by: show it,
    # let Qt draw it, say so, leave. Everything before it is the app's own start-up path.
    from sim_desk.ui import unlock

    def shown(self) -> int:  # type: ignore[no-untyped-def]
        from PySide6.QtWidgets import QApplication

        self.show()
        QApplication.processEvents()
        print("shown", flush=True)
        os._exit(0)

    unlock.UnlockDialog.exec = shown  # type: ignore[method-assign]
    from sim_desk.cli import main

    sys.exit(main(["--vault", vault]))


def peak_kib() -> int:
    """This program's peak resident set size, in KiB. On Linux, /proc's VmHWM, which starts
    afresh at exec: ``ru_maxrss`` keeps the peak of the process this one was forked from (run.py
    after the sync figures, 1.4 GB), which is not the GUI's."""
    import resource

    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_mb() -> float:
    """Resident set size now (Linux), to see which step the peak comes from."""
    import resource

    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return 0.0


def memory(manifest_path: str) -> None:
    import json
    import time
    import uuid
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

    from sim_desk.settings import Settings
    from sim_desk.ui.app import make_application
    from sim_desk.ui.main_window import MainWindow
    from sim_desk.ui.session import UiSession

    manifest = common.Manifest.load(Path(manifest_path))
    assert manifest is not None
    app = make_application()
    out = Path(manifest.database).parent
    session = UiSession(
        manifest.paths,
        dirs=common.app_dirs(out / "gui"),
        settings=Settings(),
        clock=common.bench_clock(manifest.as_of_time),
    )
    window = MainWindow(session)
    window.resize(1280, 820)
    timings: dict[str, float] = {}

    def settle(seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    resident: dict[str, float] = {}

    def step(name: str, work) -> None:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        work()
        app.processEvents()
        timings[name] = round((time.perf_counter() - start) * 1000, 1)
        settle()
        resident[name] = round(rss_mb(), 1)

    step(
        "unlock (with Argon2)", lambda: session.unlock(common.LEAD, common.passphrase(common.LEAD))
    )
    window.show()
    step("Today page", lambda: window.show_page("today"))
    step("Caseload page", lambda: window.show_page("caseload"))
    caseload = window.pages["caseload"]
    table = caseload.table  # type: ignore[attr-defined]

    def scroll_to_end() -> None:  # every row loaded, as someone scrolling to the bottom would
        model = table.model()
        while model.canFetchMore():
            model.fetchMore()
        table.scrollToBottom()

    step("Caseload scrolled to the end", scroll_to_end)
    person = uuid.UUID(manifest.long_history_person)
    step("open person", lambda: window.open_person(person))
    workspace = window.workspace
    for index in range(6):
        step(f"person tab {index}", lambda index=index: workspace.set_tab(index))  # type: ignore[union-attr]
    settle(3.0)  # the outcomes tab works in the background
    peak = peak_kib()
    window.quitting = True
    session.lock()
    print(
        json.dumps(
            {"maxrss_mb": round(peak / 1024, 1), "steps_ms": timings, "rss_after_mb": resident}
        ),
        flush=True,
    )
    os._exit(0)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "startup-bare":
        startup_bare()
    elif mode == "startup-app":
        startup_app(sys.argv[2])
    elif mode == "memory":
        memory(sys.argv[2])
    else:
        sys.exit(f"unknown mode {mode}")
