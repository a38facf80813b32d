"""The team-sync status at the foot of the main window: always in sight, read by screen readers
(its accessible name carries the status), reached by Tab; Sync now beside it, and a count of
what needs looking at (changed on another laptop, refused, people created twice).

A vault that is not in a team (no device credential) shows nothing here at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from sim_desk.records.sync import SyncStatus
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.ui.messages import REFUSED, attempt, quietly
from sim_desk.ui.session import UiSession
from sim_desk.ui.sync_runner import SyncOutcome, SyncRunner
from sim_desk.ui.widgets import format_datetime

#: How often "2 min ago" is brought up to date.
TICK_MS = 30_000


def changes(count: int) -> str:
    return f"{count} change{'' if count == 1 else 's'}"


def _clock_time(moment: datetime, now: datetime) -> str:
    """09:40 today; 03/12/2026 09:40 another day (UK time)."""
    local = moment.astimezone(LOCAL_ZONE)
    if local.date() == now.astimezone(LOCAL_ZONE).date():
        return local.strftime("%H:%M")
    return format_datetime(moment)


def _ago(moment: datetime, now: datetime) -> str:
    gone = now - moment
    if gone < timedelta(minutes=1):
        return "just now"
    if gone < timedelta(hours=1):
        return f"{int(gone.total_seconds() // 60)} min ago"
    return f"at {_clock_time(moment, now)}"


def first_sentence(message: str) -> str:
    head, dot, _rest = message.partition(". ")
    return head + ("." if dot else "")


def status_text(
    outcome: SyncOutcome, status: SyncStatus | None, *, syncing: bool, now: datetime
) -> str:
    """The one line a person reads about syncing."""
    waiting = status.waiting if status is not None else 0
    if syncing:
        return "Syncing with the team server…"
    if outcome.state == "revoked":
        return "This laptop was removed from the team server"
    if outcome.state == "unreachable":
        since = _clock_time(outcome.unreachable_since or now, now)
        if waiting:
            return (
                f"Working offline — {changes(waiting)} waiting"
                f" (cannot reach the team server since {since})"
            )
        return f"Cannot reach the team server since {since}"
    if outcome.state == "refused":
        return f"Sync refused: {first_sentence(outcome.message)}"
    if outcome.state == "failed":
        return f"Sync did not finish: {first_sentence(outcome.message)}"
    last = status.last_pull_at if status is not None else None
    if last is None:
        return f"Not synced yet — {changes(waiting)} waiting" if waiting else "Not synced yet"
    text = f"Synced {_ago(last, now)}"
    return f"{text} — {changes(waiting)} waiting" if waiting else text


def status_details(outcome: SyncOutcome, status: SyncStatus | None) -> str:
    """The longer words behind the line (tool tip, accessible description, details window)."""
    parts: list[str] = []
    if outcome.state == "unreachable":
        parts.append(
            "This laptop cannot reach the team server (no network, or the VPN is off). You can"
            " go on working: every change is kept on this laptop and is sent at the next sync,"
            " which is tried every few minutes."
        )
    elif outcome.state in ("refused", "failed", "revoked") and outcome.message:
        parts.append(outcome.message)
    if status is not None and status.waiting:
        parts.append(f"{changes(status.waiting)} made here wait to be sent.")
    return " ".join(parts)


def review_counts(status: SyncStatus | None) -> str:
    """What needs looking at, or "" when nothing does."""
    if status is None:
        return ""
    parts = []
    if status.changed_elsewhere:
        parts.append(f"Changed on another laptop: {status.changed_elsewhere}")
    if status.refused:
        parts.append(f"Refused: {status.refused}")
    if status.merge_proposals:
        parts.append(f"Created twice: {status.merge_proposals}")
    return " · ".join(parts)


class SyncStatusBar(QWidget):
    """Status, Sync now and what needs looking at. ``details_requested`` opens the window
    with the lists."""

    details_requested = Signal()

    def __init__(self, session: UiSession, runner: SyncRunner) -> None:
        super().__init__()
        self.session = session
        self.runner = runner
        self.status: SyncStatus | None = None
        self.setObjectName("syncStatusBar")
        self.status_button = QPushButton()
        self.status_button.setObjectName("badge")
        self.status_button.setFlat(True)
        self.status_button.clicked.connect(self.details_requested)
        self.review_button = QPushButton()
        self.review_button.setObjectName("badgeWarning")
        self.review_button.setFlat(True)
        self.review_button.clicked.connect(self.details_requested)
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setAccessibleName("Sync now")
        self.sync_button.setToolTip("Send your changes and receive the team's now (F5)")
        self.sync_button.clicked.connect(runner.sync_now)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 6, 0)
        row.setSpacing(6)
        row.addWidget(self.review_button)
        row.addWidget(self.status_button)
        row.addWidget(self.sync_button)
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self.refresh)
        runner.started.connect(self.refresh)
        runner.finished.connect(self.refresh)
        session.changed.connect(self._changed)
        session.unlocked.connect(self.refresh)
        session.locked.connect(self.refresh)
        self.refresh()

    def _changed(self, _kind: str) -> None:
        self.refresh()

    @property
    def text(self) -> str:
        return self.status_button.text()

    def refresh(self) -> None:
        """Reads the counts again (one quick local read) and says where syncing stands."""
        from sim_desk.records import sync

        shown = self.session.is_unlocked and (self.runner.in_team or self.runner.outcome.at)
        self.setVisible(bool(shown))
        if not shown:
            self._tick.stop()
            self.status = None
            return
        self._tick.start()
        # Only a status line: if the counts cannot be read now, the last ones stay.
        read = attempt(self, lambda: sync.status(self.session.vault), failure=quietly)
        if read is not REFUSED:
            self.status = read
        outcome = self.runner.outcome
        now = self.session.vault.now()
        text = status_text(outcome, self.status, syncing=self.runner.is_running, now=now)
        details = status_details(outcome, self.status)
        self.status_button.setText(text)
        self.status_button.setAccessibleName(f"Team sync: {text}")
        self.status_button.setAccessibleDescription(details)
        self.status_button.setToolTip(
            (details + "\n\n" if details else "") + "Open the sync details"
        )
        style = "badge"
        if outcome.state in ("unreachable", "failed"):
            style = "badgeWarning"
        elif outcome.state in ("refused", "revoked"):
            style = "badgeDanger"
        if self.status_button.objectName() != style:
            self.status_button.setObjectName(style)
            self.status_button.style().unpolish(self.status_button)
            self.status_button.style().polish(self.status_button)
        review = review_counts(self.status)
        self.review_button.setText(review)
        self.review_button.setAccessibleName(f"To look at: {review}" if review else "")
        self.review_button.setToolTip("Open the lists of changes to look at")
        self.review_button.setVisible(bool(review))
        self.sync_button.setVisible(self.runner.in_team)
        self.sync_button.setEnabled(not self.runner.is_running)
