"""Run a use case off the GUI thread, with success and failure callbacks (as Anki's CollectionOp).

Each GUI action stays a one-liner::

    run_in_background(self, lambda progress: make_report(vault, progress), on_done=self.show)

The function runs on a pool thread; the callbacks run back on the GUI thread. ``progress`` is a
callable ``progress(fraction, text)``; it raises :class:`Cancelled` once the user has pressed
Cancel, so long work stops at its next step and its transaction rolls back.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from sim_desk.records.errors import SimDeskError


class Cancelled(Exception):
    """The user cancelled; nothing half-done was kept."""


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)
    progressed = Signal(float, str)


class _Job(QRunnable):
    def __init__(self, work: Callable[[Callable[[float, str], None]], Any]) -> None:
        super().__init__()
        self.work = work
        self.signals = _Signals()
        self.cancelled = False

    def progress(self, fraction: float, text: str = "") -> None:
        if self.cancelled:
            raise Cancelled()
        self.signals.progressed.emit(fraction, text)

    def run(self) -> None:
        try:
            result = self.work(self.progress)
        except BaseException as error:
            if not isinstance(error, SimDeskError | Cancelled):
                error.__sim_traceback__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.signals.failed.emit(error)
        else:
            self.signals.done.emit(result)


def run_in_background(
    parent: QWidget | None,
    work: Callable[[Callable[[float, str], None]], Any],
    *,
    on_done: Callable[[Any], None],
    on_failed: Callable[[BaseException], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    title: str | None = None,
    cancellable: bool = True,
    show_after_ms: int = 500,
) -> _Job:
    """Starts ``work(progress)`` on the thread pool. With a ``title``, shows a progress dialog
    with Cancel (after half a second, so quick work never flashes a dialog). ``on_cancelled``
    runs (on the GUI thread) once cancelled work has stopped; no error is shown for it.
    Work that cannot stop half-way (``cancellable`` False) shows no Cancel button."""
    job = _Job(work)
    dialog: QProgressDialog | None = None
    if title and parent is not None:
        dialog = QProgressDialog(title, "Cancel", 0, 1000, parent)
        dialog.setWindowTitle(title)
        dialog.setAccessibleName(title)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(show_after_ms)
        if not cancellable:
            dialog.setCancelButton(None)  # type: ignore[arg-type]
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(lambda: setattr(job, "cancelled", True))

        def show_progress(fraction: float, text: str) -> None:
            assert dialog is not None
            dialog.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
            if text:
                dialog.setLabelText(text)

        job.signals.progressed.connect(show_progress)

    def finish() -> None:
        # The dialog's parent page may have been destroyed meanwhile (the vault locked).
        if dialog is not None and shiboken6.isValid(dialog):
            dialog.close()
            dialog.deleteLater()

    def done(result: Any) -> None:
        finish()
        on_done(result)

    def failed(error: BaseException) -> None:
        finish()
        if isinstance(error, Cancelled):
            if on_cancelled is not None:
                on_cancelled()
            return
        if on_failed is not None:
            on_failed(error)
        else:
            from sim_desk.ui.messages import show_error

            show_error(parent, error)

    job.signals.done.connect(done, Qt.ConnectionType.QueuedConnection)
    job.signals.failed.connect(failed, Qt.ConnectionType.QueuedConnection)
    # Keep the Python object alive until Qt is done with it.
    _running.add(job)
    job.signals.done.connect(lambda _: _running.discard(job))
    job.signals.failed.connect(lambda _: _running.discard(job))
    job.setAutoDelete(False)
    QThreadPool.globalInstance().start(job)
    return job


_running: set[_Job] = set()


def run_and_wait(
    parent: QWidget,
    work: Callable[[Callable[[float, str], None]], Any],
    *,
    title: str,
    cancellable: bool = False,
) -> Any:
    """Runs ``work`` off the GUI thread and waits for it, the window still painting, with a
    progress dialog shown at once (for a step that must finish before the next: a wizard page).
    Returns its result, or raises what it raised (:class:`Cancelled` if cancelled)."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    outcome: dict[str, Any] = {}

    def done(result: Any) -> None:
        outcome["result"] = result
        loop.quit()

    def failed(error: BaseException) -> None:
        outcome["error"] = error
        loop.quit()

    dialog_parent = parent.window()
    dialog_parent.setProperty("simDeskBusy", True)
    run_in_background(
        parent,
        work,
        on_done=done,
        on_failed=failed,
        on_cancelled=lambda: failed(Cancelled()),
        title=title,
        cancellable=cancellable,
        show_after_ms=0,
    )
    if not outcome:
        loop.exec()
    dialog_parent.setProperty("simDeskBusy", False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def run_holding_vault(
    parent: QWidget,
    session: Any,
    work: Callable[[Any], Any],
    *,
    gone: Callable[[], bool],
    on_done: Callable[[Any], None],
    on_failed: Callable[[BaseException], None],
    title: str,
) -> _Job:
    """``work(vault)`` (one call to the team server: nothing to stop half-way) off the GUI
    thread, the vault held open meanwhile: the idle lock waits for it (a final sync can take
    minutes). The callbacks run only if ``gone()`` is false by then (the page closed, or the
    vault locked, leaves nothing to say it on)."""
    vault = session.vault
    session.hold_open()

    def finished(result: Any) -> None:
        session.release()
        if not gone():
            on_done(result)

    def failed(error: BaseException) -> None:
        session.release()
        if not gone():
            on_failed(error)

    return run_in_background(
        parent,
        lambda _progress: work(vault),
        on_done=finished,
        on_failed=failed,
        title=title,
        cancellable=False,
    )
