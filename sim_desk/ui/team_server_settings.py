"""Settings in team mode (issue 21): which team server this laptop syncs with, and its
certificate, shown; and "Leave the team": a final sync, then this laptop's copy of the team's
records erased (``teamserver.leaving``), with a clear warning if changes could not be sent."""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import format_datetime, hint
from sim_desk.ui.worker import run_holding_vault

ROLE_LABELS = {
    "officer": "Officer",
    "clinician": "Clinician",
    "team_lead": "Team lead",
    "analyst": "Analyst",
}


def _selectable(name: str) -> QLabel:
    label = QLabel()
    label.setAccessibleName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class TeamServerSettings(QGroupBox):
    """The "Team server" box of the Settings page; hidden outside team mode."""

    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__("Team server", parent)
        self.session = session
        self.setAccessibleName("Team server")
        self.busy = False
        #: What the person was last told (for the tests and the status line).
        self.outcome = ""

        self.team = _selectable("Team")
        self.address = _selectable("Server address")
        self.fingerprint = _selectable("Certificate fingerprint")
        self.fingerprint.setMinimumWidth(420)
        self.who = _selectable("On the team server as")
        self.joined = _selectable("Joined")
        form = QFormLayout()
        form.addRow("Team", self.team)
        form.addRow("Server", self.address)
        form.addRow("Trust CA certificate\n(SHA-256)", self.fingerprint)
        form.addRow("On the server as", self.who)
        form.addRow("This laptop joined", self.joined)

        self.leave_button = QPushButton("Leave the team…")
        self.leave_button.setAccessibleName("Leave the team")
        self.leave_button.clicked.connect(self.leave)
        self.status = QLabel()
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Leaving the team")
        self.status.hide()
        row = QHBoxLayout()
        row.addWidget(self.leave_button)
        row.addStretch(1)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(
            hint(
                "Leaving syncs once more, then erases this laptop's copy of the team's records;"
                " the records stay on the team server and on your colleagues' laptops."
            )
        )
        box.addLayout(row)
        box.addWidget(self.status)

    def refresh(self) -> None:
        """Shown in team mode only, from what this vault keeps (no network)."""
        from sim_desk.records.team import device

        credential = None
        if self.session.is_unlocked and self.session.vault.actor.user_id is not None:
            credential = device.device_credential(self.session.vault)
        if credential is None or not credential.is_active:
            self.setVisible(False)
            return
        from sim_desk.teamserver.protocol import address_of

        address = address_of(credential)
        self.team.setText(credential.team_name)
        self.address.setText(address.describe())
        self.fingerprint.setText(address.ca_fingerprint)
        self.who.setText(
            f"{credential.server_username} ({ROLE_LABELS.get(credential.role, credential.role)})"
        )
        self.joined.setText(
            f"{format_datetime(credential.joined_at) or 'earlier'} · device"
            f" {str(credential.device_id)[:8]}"
        )
        self.leave_button.setEnabled(not self.busy)
        self.setVisible(True)

    def _gone(self) -> bool:
        return not shiboken6.isValid(self) or not self.session.is_unlocked

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _background(self, title: str, work: Any, done: Any) -> None:
        self.busy = True
        self.leave_button.setEnabled(False)

        def finished(result: Any) -> None:
            self.busy = False
            done(result)

        def failed(error: BaseException) -> None:
            self.busy = False
            from sim_desk.teamserver.leavers import DeviceRevoked
            from sim_desk.ui.messages import show_error

            self.outcome = (
                "Your team lead had revoked this laptop: its copy of the team's records has"
                " been erased."
                if isinstance(error, DeviceRevoked)
                else "You are still on the team: nothing was erased."
            )
            self._say(self.outcome)

            show_error(self, error, title="Leave the team")
            self.refresh()
            self.session.changed.emit("team")  # revoked meanwhile: erased, and said so

        run_holding_vault(
            self,
            self.session,
            work,
            gone=self._gone,
            on_done=finished,
            on_failed=failed,
            title=title,
        )

    def leave(self) -> None:
        from sim_desk.teamserver import leaving

        if self.busy or not self.session.is_unlocked:
            return
        team = self.team.text()
        lead = (
            "You are a team lead: this laptop is also revoked on the team server, and from"
            " then on another team lead (or the trust's IT team) manages the team's server.\n\n"
            if self.who.text().endswith("(Team lead)")
            else ""
        )
        answer = QMessageBox.question(
            self,
            "Leave the team",
            f"Leave {team} on this laptop?\n\n{lead}"
            "SIM Desk first syncs once more, to send what is waiting. Then it erases this"
            " laptop's copy of the team's records, its drafts and the team's keys, and forgets"
            " this laptop's team server sign-in. The records stay on the team server and your"
            " colleagues' laptops; this vault stays, with your sign-in, but empty of the team's"
            " records.\n\nThis cannot be undone: to rejoin, you need a new invitation.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._say("Syncing one last time…")
        self._background("Final sync before leaving the team", leaving.final_sync, self._synced)

    def _synced(self, last: Any) -> None:
        from sim_desk.teamserver import leaving

        if last.waiting:
            answer = QMessageBox.warning(
                self,
                "Changes not sent",
                f"The final sync could not send {last.waiting} change(s) made on this laptop"
                f"{f' ({last.problem})' if last.problem else ''}.\n\n"
                "If you leave now, they are lost for good: nobody else has them.\n\n"
                "Choose Cancel to keep them, then leave once this laptop can reach the team"
                " server (check the network and VPN).",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Discard:
                self._say(
                    f"You are still on the team: nothing was erased; {last.waiting} change(s)"
                    " wait to be sent."
                )
                self.leave_button.setEnabled(True)
                return
        self._say("Erasing this laptop's copy of the team's records…")
        self._background(
            "Erasing this laptop's copy of the team's records",
            leaving.erase_and_leave,
            self._left,
        )

    def _left(self, left: Any) -> None:
        from sim_desk.teamserver import leaving

        self.outcome = leaving.left_message(left)
        self._say(self.outcome)
        QMessageBox.information(self, "You have left the team", self.outcome)
        # Every page that shows records refreshes: they are gone from this laptop.
        for kind in ("team", "person", "contact", "visit", "incident"):
            self.session.changed.emit(kind)
        self.refresh()
