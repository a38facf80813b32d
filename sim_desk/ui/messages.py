"""Showing errors: a person's message for errors they can act on, a bug report for the rest.

No message ever carries personal data or a passphrase: records-layer errors are written that way,
and for bugs we show only the exception type and where it happened (file, line, function), not
its text or any value, since an exception's text may quote a name or an SQL parameter.

:func:`attempt` runs a use case that may refuse (a :class:`SimDeskError`) and shows why, so
that a GUI action is one call and a check of :data:`REFUSED`, not a try/except of its own.

:func:`install_excepthooks` routes every exception nobody caught (in a Qt slot, or in any thread)
to one dialog on the GUI thread, instead of a traceback on stderr that nobody sees. The app goes
on running, so an open form keeps what was typed into it.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from enum import Enum
from types import TracebackType
from typing import Final, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget

from sim_desk.records.errors import SimDeskError

log = logging.getLogger("sim_desk.ui")

T = TypeVar("T")


def _damage_message(error: BaseException) -> str | None:
    """The damaged-vault message if ``error`` is SQLCipher meeting damaged pages. (The store
    module is imported only here: the unlock dialog shows before SQLAlchemy has loaded.)"""
    if not type(error).__module__.startswith(("sqlalchemy", "sqlcipher3")):
        return None
    from sim_desk.records.vault.store import DAMAGED_DATABASE, is_damage

    return DAMAGED_DATABASE if is_damage(error) else None


UNEXPECTED_TITLE = "Something went wrong"
UNEXPECTED_TEXT = (
    "Something went wrong inside SIM Desk. Nothing you had saved is lost, and any form you"
    " were filling in is still open: save it if you can.\n\nIf it happens again, tell your"
    " team lead what you were doing and copy them the details below (they name no one)."
)


def show_error(parent: QWidget | None, error: BaseException, *, title: str = "SIM Desk") -> None:
    if isinstance(error, SimDeskError):
        QMessageBox.warning(parent, title, str(error))
        return
    damage = _damage_message(error)
    if damage is not None:
        QMessageBox.warning(parent, title, damage)
        return
    # A bug. Its text may quote data (an SQL parameter, a value): log the type and trace only.
    trace = getattr(error, "__sim_traceback__", "")
    log.error("unexpected %s\n%s", type(error).__name__, _strip_values(trace))
    QMessageBox.critical(
        parent,
        title,
        "Something went wrong inside SIM Desk. Nothing you had saved is lost.\n\n"
        f"({type(error).__name__}) Please tell your team lead what you were doing.",
    )


class Refused(Enum):
    """What :func:`attempt` returns when the use case refused. A sentinel of its own, not
    None, since some use cases return None when they succeed."""

    REFUSED = "refused"


# An Enum member, so that mypy narrows ``result is REFUSED`` to the use case's own type.
REFUSED: Final = Refused.REFUSED


def attempt(
    parent: QWidget | None,
    action: Callable[[], T],
    *,
    title: str = "SIM Desk",
    failure: Callable[[SimDeskError], object] | None = None,
) -> T | Refused:
    """Runs a use case that may refuse, and tells the person why it did.

    Args:
        parent: the window the message box belongs to (unused when ``failure`` is given).
        action: the use case, as a call with no arguments (usually a lambda).
        title: the message box's title.
        failure: what to do with a refusal instead of the message box (a problem label, a
            field's error), as Anki's ``CollectionOp.failure``.

    Returns:
        What ``action`` returned, or :data:`REFUSED` once the refusal has been shown. Only a
        :class:`SimDeskError` is a refusal: anything else is a bug and goes on up.
    """
    try:
        return action()
    except SimDeskError as error:
        if failure is None:
            show_error(parent, error, title=title)
        else:
            failure(error)
        return REFUSED


def quietly(_refusal: SimDeskError) -> None:
    """A ``failure`` for :func:`attempt` that shows nothing: for a read the screen can do
    without (each caller says why)."""


def shown_in(label: QLabel) -> Callable[[SimDeskError], None]:
    """A ``failure`` for :func:`attempt` that puts the refusal in a page's own problem line,
    for a page that refreshes by itself, where a message box would interrupt the person."""

    def show(refusal: SimDeskError) -> None:
        label.setText(str(refusal))
        label.show()

    return show


def _strip_values(trace: str) -> str:
    # Keep the frames ("File ..., line ...") and drop exception text lines that might hold data.
    return "\n".join(line for line in trace.splitlines() if line.startswith("  File "))


def stripped_details(error: BaseException, tb: TracebackType | None) -> str:
    """The exception's type and the frames it passed through: no message, no values."""
    frames = traceback.extract_tb(tb)
    lines = [f"{type(error).__module__}.{type(error).__qualname__}"]
    lines += [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    return "\n".join(lines)


class _Relay(QObject):
    """Carries uncaught errors from any thread to the GUI thread (a queued signal)."""

    caught = Signal(object, str)


class UnexpectedErrors:
    """The hooks' state: one dialog at a time; later errors while it is open are only logged."""

    def __init__(self, app: QApplication) -> None:
        self.relay = _Relay(app)
        self.relay.caught.connect(self.show)
        self.dialog: QMessageBox | None = None
        self.seen = 0

    def hook(
        self, kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        details = stripped_details(error, tb)
        log.error("uncaught %s\n%s", kind.__name__, details)
        self.relay.caught.emit(error, details)  # queued when called off the GUI thread

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self.hook(args.exc_type, args.exc_value, args.exc_traceback)

    def show(self, error: BaseException, details: str) -> None:
        self.seen += 1
        if self.dialog is not None and self.dialog.isVisible():
            return
        damage = _damage_message(error)
        if isinstance(error, SimDeskError) or damage is not None:
            text = str(error) if isinstance(error, SimDeskError) else str(damage)
            box = QMessageBox(QMessageBox.Icon.Warning, "SIM Desk", text)
        else:
            box = QMessageBox(QMessageBox.Icon.Critical, UNEXPECTED_TITLE, UNEXPECTED_TEXT)
            box.setDetailedText(details)
        box.setObjectName("unexpectedError")
        box.setAccessibleName(UNEXPECTED_TITLE)
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        box.setParent(QApplication.activeWindow(), box.windowFlags())
        self.dialog = box
        box.open()


_installed: UnexpectedErrors | None = None


def install_excepthooks(app: QApplication) -> UnexpectedErrors:
    """Routes uncaught exceptions (``sys.excepthook``, ``threading.excepthook``) to a dialog.

    Called by the app's start (``ui.app.run``), not when a QApplication is made, so that the
    tests' own exception capture (pytest-qt) stays in charge there.
    """
    global _installed
    if _installed is None:
        _installed = UnexpectedErrors(app)
    sys.excepthook = _installed.hook
    threading.excepthook = _installed.thread_hook
    return _installed
