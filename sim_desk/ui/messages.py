"""Showing errors: a person's message for errors they can act on, a bug report for the rest.

No message ever carries personal data or a passphrase: records-layer errors are written that way,
and for bugs we show only the exception type and where it happened, not its text.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

from sim_desk.records.errors import SimDeskError

log = logging.getLogger("sim_desk.ui")


def show_error(parent: QWidget | None, error: BaseException, *, title: str = "SIM Desk") -> None:
    if isinstance(error, SimDeskError):
        QMessageBox.warning(parent, title, str(error))
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


def _strip_values(trace: str) -> str:
    # Keep the frames ("File ..., line ...") and drop exception text lines that might hold data.
    return "\n".join(line for line in trace.splitlines() if line.startswith("  File "))
