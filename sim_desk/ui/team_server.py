"""The Team page's "Team server" card (issue 21): the server's users and their laptops with
each laptop's last sync; invite, revoke, rotate the clinical key, the replica expiry. Outside
team mode, a team lead can publish this vault to a new server from here instead.

Every call to the server runs off the GUI thread (``ui.worker``) through the use cases of
``teamserver.team_admin``; the page never waits on the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.errors import SimDeskError
from sim_desk.ui.session import UiSession
from sim_desk.ui.team_server_actions import NO_EXPIRY, TeamServerActions, describe_expiry
from sim_desk.ui.widgets import format_datetime, heading, hint, read_only_table
from sim_desk.ui.worker import run_in_background

COLUMNS = ("Name", "User name", "Role", "Laptop", "Last sync", "Last in touch", "State")


@dataclass(frozen=True)
class Row:
    """One line of the table: a user's laptop, or a user with none."""

    user: Any  # team_admin.ServerUserRow
    device: Any | None  # team_admin.ServerDeviceRow


def _button(text: str, name: str, *, primary: bool = False) -> QPushButton:
    button = QPushButton(text)
    button.setAccessibleName(name)
    if primary:
        button.setObjectName("primary")
    return button


def _last_sync(row: Row) -> str:
    laptop = row.device
    if laptop is None:
        return "—"
    if laptop.last_synced is not None:
        return format_datetime(laptop.last_synced)
    # The server reports writers' syncs only: an analyst's laptop reads, and is not counted.
    return "not reported" if row.user.role == "analyst" else "not known"


def _state(row: Row) -> str:
    user, laptop = row.user, row.device
    if laptop is None:
        if not user.active:
            return "Removed"
        if user.invitations:
            return f"Invited (until {format_datetime(max(user.invitations))})"
        return "No laptop yet"
    if laptop.revoked:
        if laptop.erased_at is not None:
            return f"Revoked; replica erased {format_datetime(laptop.erased_at)}"
        return "Revoked; erased when it next connects"
    return "This laptop" if laptop.this_laptop else "Active"


class TeamServerSection(TeamServerActions):
    """The card; ``TeamPage`` places ``card`` and calls ``refresh`` when it shows."""

    def __init__(self, session: UiSession, page: QWidget) -> None:
        self.session = session
        self.page = page
        self.overview: Any | None = None  # team_admin.TeamOverview
        self.rows: list[Row] = []
        self.loading = False
        self.busy = False
        #: What each action did, in order (the line shows the last).
        self.outcomes: list[str] = []

        self.card = QFrame()
        self.card.setObjectName("card")
        self.card.setAccessibleName("Team server")
        column = QVBoxLayout(self.card)
        column.setContentsMargins(14, 10, 14, 14)
        column.addWidget(heading("Team server", level=2))
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setAccessibleName("Team server address")
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.where)
        self.status = QLabel()
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Team server status")
        column.addWidget(self.status)
        # What the last action did, kept while the table reloads after it.
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.setAccessibleName("Team server action result")
        self.outcome.hide()
        column.addWidget(self.outcome)

        # -- team mode ------------------------------------------------------------------------
        self.team_mode = QWidget()
        team = QVBoxLayout(self.team_mode)
        team.setContentsMargins(0, 0, 0, 0)
        self.invite_button = _button("Invite…", "Invite to the team server", primary=True)
        self.revoke_device_button = _button("Revoke laptop…", "Revoke laptop")
        self.revoke_user_button = _button("Remove from team server…", "Remove from team server")
        self.rotate_button = _button("Rotate clinical key…", "Rotate clinical key")
        self.refresh_button = _button("Refresh", "Refresh team server")
        # A publish cut short (a lost connection, a closed lid) is carried on from here.
        self.carry_on_button = _button("Carry on publishing…", "Carry on publishing", primary=True)
        self.carry_on_button.hide()
        buttons = QHBoxLayout()
        for widget in (
            self.invite_button,
            self.revoke_device_button,
            self.revoke_user_button,
            self.rotate_button,
        ):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.carry_on_button)
        buttons.addWidget(self.refresh_button)
        self.lead_actions = QWidget()
        self.lead_actions.setLayout(buttons)
        buttons.setContentsMargins(0, 0, 0, 0)
        team.addWidget(self.lead_actions)
        self.table = read_only_table("Team server users and laptops", COLUMNS)
        team.addWidget(self.table)

        self.expiry = QSpinBox()
        self.expiry.setAccessibleName("Replica expiry days")
        self.expiry.setRange(NO_EXPIRY, 365)
        self.expiry.setSpecialValueText("No expiry")
        self.expiry.setSuffix(" days")
        self.expiry.setMinimumWidth(140)
        self.expiry_button = _button("Set expiry", "Set replica expiry")
        self.expiry_text = hint(describe_expiry(None))
        self.expiry_text.setAccessibleName("Replica expiry")
        self.expiry_row = QWidget()
        expiry = QHBoxLayout(self.expiry_row)
        expiry.setContentsMargins(0, 0, 0, 0)
        expiry_label = QLabel("Replica expiry")
        expiry_label.setBuddy(self.expiry)
        expiry.addWidget(expiry_label)
        expiry.addWidget(self.expiry)
        expiry.addWidget(self.expiry_button)
        expiry.addWidget(self.expiry_text, 1)
        team.addWidget(self.expiry_row)
        column.addWidget(self.team_mode)

        # -- not yet in team mode: publish ------------------------------------------------------
        self.single = QWidget()
        single = QVBoxLayout(self.single)
        single.setContentsMargins(0, 0, 0, 0)
        single.addWidget(
            hint(
                "This vault is on this laptop only. To share it with the team's other laptops,"
                " the trust's IT team sets up a team server and gives you an invitation file;"
                " publishing then puts this vault's records, histories and users on the server,"
                " once. Afterwards you invite each member of the team from here."
            )
        )
        self.publish_button = _button(
            "Publish this vault to a team server…", "Publish to a team server", primary=True
        )
        row = QHBoxLayout()
        row.addWidget(self.publish_button)
        row.addStretch(1)
        single.addLayout(row)
        column.addWidget(self.single)

        self.invite_button.clicked.connect(self.invite)
        self.revoke_device_button.clicked.connect(self.revoke_device)
        self.revoke_user_button.clicked.connect(self.revoke_user)
        self.rotate_button.clicked.connect(lambda: self.rotate_clinical_key())
        self.refresh_button.clicked.connect(self.load)
        self.expiry_button.clicked.connect(self.set_expiry)
        self.publish_button.clicked.connect(self.publish)
        self.carry_on_button.clicked.connect(self.publish)
        self.table.itemSelectionChanged.connect(self.update_buttons)
        self.team_mode.hide()
        self.single.hide()
        self.update_buttons()

    def tab_chain(self) -> list[QWidget]:
        """The card's controls in reading order, for the page's tab order."""
        return [
            self.invite_button,
            self.revoke_device_button,
            self.revoke_user_button,
            self.rotate_button,
            self.carry_on_button,
            self.refresh_button,
            self.table,
            self.expiry,
            self.expiry_button,
            self.publish_button,
        ]

    # -- showing ------------------------------------------------------------------------------
    def _gone(self) -> bool:
        return not shiboken6.isValid(self.page) or not self.session.is_unlocked

    def in_team_mode(self) -> bool:
        from sim_desk.records.team import device

        if not self.session.is_unlocked or self.session.vault.actor.user_id is None:
            return False
        credential = device.device_credential(self.session.vault)
        return credential is not None and credential.is_active

    def refresh(self) -> None:
        """Team mode or not (read here, at once); the server's view follows in the background."""
        if not self.session.is_unlocked:
            return
        joined = self.in_team_mode()
        self.team_mode.setVisible(joined)
        self.single.setVisible(not joined)
        self.where.setVisible(joined)  # outside team mode the card's text says it all
        if not joined:
            self.overview = None
            self.where.setText("")
            self.status.setText("")
            self.status.hide()
            self.update_buttons()
            return
        self.load()

    def load(self) -> None:
        """Asks the server who is on the team (off the GUI thread)."""
        from sim_desk.teamserver import team_admin

        if self.loading or not self.session.is_unlocked:
            return
        self.loading = True
        vault = self.session.vault
        self._say("Asking the team server…")
        self.update_buttons()
        run_in_background(
            self.page,
            lambda _progress: team_admin.team_overview(vault),
            on_done=self._loaded,
            on_failed=self._load_failed,
        )

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _tell(self, text: str) -> None:
        self.outcomes.append(text)
        self.outcome.setText(text)
        self.outcome.setVisible(bool(text))

    def _load_failed(self, error: BaseException) -> None:
        if self._gone():
            return
        self.loading = False
        if not isinstance(error, SimDeskError):
            from sim_desk.ui.messages import show_error

            show_error(self.page, error, title="Team server")
            return
        self._say(f"{error} The table shows what the server said last time, if anything.")
        self.update_buttons()

    def _loaded(self, overview: Any) -> None:
        if self._gone():
            return
        self.loading = False
        self.overview = overview
        self.where.setText(
            f"{overview.team_name} on {overview.server}\n"
            f"Trust CA certificate fingerprint (SHA-256): {overview.ca_fingerprint}"
        )
        self.rows = [
            Row(user, laptop) for user in overview.users for laptop in (user.devices or (None,))
        ]
        self.table.setRowCount(len(self.rows))
        for n, row in enumerate(self.rows):
            laptop = row.device
            cells = (
                row.user.display_name or "",
                row.user.username,
                row.user.role_label,
                "—"
                if laptop is None
                else f"{str(laptop.id)[:8]} (joined"
                f" {format_datetime(laptop.joined_at) or 'earlier'})",
                _last_sync(row),
                "—" if laptop is None else format_datetime(laptop.last_seen) or "never",
                _state(row),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if not row.user.active or (laptop is not None and laptop.revoked):
                    item.setForeground(Qt.GlobalColor.darkGray)
                self.table.setItem(n, c, item)
        self.table.resizeRowsToContents()
        rows = sum(self.table.rowHeight(r) for r in range(min(self.table.rowCount(), 30)))
        rows = max(rows, self.table.verticalHeader().defaultSectionSize())
        header = self.table.horizontalHeader().sizeHint().height()
        self.table.setFixedHeight(header + rows + 2 * self.table.frameWidth() + 2)
        self.expiry.setValue(overview.replica_expiry_days or NO_EXPIRY)
        self.expiry_text.setText(describe_expiry(overview.replica_expiry_days))
        synced = format_datetime(overview.synced_at) or "never"
        self._say(
            f"Signed in to the team server as {overview.username}. This laptop last synced:"
            f" {synced}. Other laptops' last syncs are as the server said at that sync."
            if overview.is_lead
            else f"Signed in to the team server as {overview.username}. Only a team lead"
            " manages the team server."
        )
        self.update_buttons()

    def selected(self) -> Row | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def update_buttons(self) -> None:
        lead = self.overview is not None and self.overview.is_lead
        # Non-leads never see the lead's actions (the server would refuse them anyway).
        self.lead_actions.setVisible(lead or self.overview is None)
        self.expiry_row.setVisible(lead)
        idle = not self.busy and self.session.is_unlocked
        row = self.selected()
        me = self.overview.this_device if self.overview is not None else None
        self.invite_button.setEnabled(idle and lead)
        self.revoke_device_button.setEnabled(
            idle
            and lead
            and row is not None
            and row.device is not None
            and not row.device.revoked
            and row.device.id != me
        )
        self.revoke_user_button.setEnabled(
            idle
            and lead
            and row is not None
            and row.user.active
            and not any(d.this_laptop for d in row.user.devices)
        )
        clinical = idle and self.session.vault.has_clinical_key
        self.rotate_button.setEnabled(lead and clinical)
        self.rotate_button.setToolTip(
            "Start a new epoch of the team's clinical key: notes written from now on use it"
            if clinical
            else "Only a clinician or clinical lead holds the clinical key to rotate it."
        )
        self.expiry_button.setEnabled(idle and lead)
        unfinished = lead and self.overview is not None and self.overview.publish_unfinished
        self.carry_on_button.setVisible(unfinished)
        self.carry_on_button.setEnabled(idle)
        self.refresh_button.setEnabled(not self.loading)
        # A laptop joins a team server as a user: the recovery key is nobody.
        as_someone = idle and self.session.vault.actor.user_id is not None
        self.publish_button.setEnabled(as_someone)
        self.publish_button.setToolTip(
            ""
            if as_someone or not idle
            else "Sign in as yourself (not with the recovery key)"
            " to publish: this laptop joins the team server as you."
        )
