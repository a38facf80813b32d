"""The Team page (team leads): users and their key slots, and the pairs that hold caseloads."""

from __future__ import annotations

import itertools
import uuid

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import people
from sim_desk.records.people import PairView
from sim_desk.records.team import users
from sim_desk.records.team.users import UserView
from sim_desk.ui.messages import REFUSED, attempt, shown_in
from sim_desk.ui.passphrase import SetPassphraseDialog
from sim_desk.ui.session import UiSession
from sim_desk.ui.team_dialogs import AddUserDialog, CreatePairDialog
from sim_desk.ui.team_keys import KeysSection
from sim_desk.ui.team_server import TeamServerSection
from sim_desk.ui.widgets import heading, hint, read_only_table, scrolling_page


def _cell(text: str, data: object = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if data is not None:
        item.setData(Qt.ItemDataRole.UserRole, data)
    return item


def _button(text: str, accessible_name: str, primary: bool = False) -> QPushButton:
    button = QPushButton(text)
    button.setAccessibleName(accessible_name)
    if primary:
        button.setObjectName("primary")
    return button


def _card(title: str, *widgets: QWidget | QHBoxLayout) -> QFrame:
    card = QFrame()
    card.setObjectName("card")
    layout = QVBoxLayout(card)
    layout.setContentsMargins(14, 10, 14, 14)
    layout.addWidget(heading(title, level=2))
    for widget in widgets:
        if isinstance(widget, QHBoxLayout):
            layout.addLayout(widget)
        else:
            layout.addWidget(widget)
    return card


#: A colleague who arrived from the team server's users directory (no key slot here).
OWN_LAPTOP = "signs in on their own laptop"
OWN_LAPTOP_TIP = (
    "This colleague came from the team server's list of users. They sign in on their own"
    " laptop; they have no key slot on this one and cannot sign in here."
)


def _status(user: UserView) -> str:
    if not user.active:
        return "Removed"
    return "Active" if user.signs_in_here else f"Active — {OWN_LAPTOP}"


def elsewhere_words(name: str) -> str:
    """Why there is no passphrase reset or removal here for a colleague from the server."""
    return (
        f"{name} {OWN_LAPTOP}: they came from the team server and have no key slot on this"
        " one. Their passphrase is set on their laptop (a forgotten one is reset there with"
        " its recovery key); setting one here would let them sign in on this laptop, so it is"
        " not offered. To take them off the team, choose them in the Team server card above"
        " and Remove from team server."
    )


class TeamPage(QWidget):
    """Add, remove and reset users; create pairs. The records layer checks the role."""

    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.setObjectName("teamPage")
        self.setAccessibleName("Team")
        self.users: list[UserView] = []

        self.users_table = read_only_table(
            "Users", ("Name", "User name", "Role", "Clinical notes", "Status")
        )
        self.show_removed = QCheckBox("Show removed users")
        self.show_removed.setAccessibleName("Show removed users")
        self.add_user_button = _button("Add user…", "Add user", primary=True)
        self.reset_button = _button("Reset passphrase…", "Reset passphrase")
        self.remove_button = _button("Remove user…", "Remove user")
        user_buttons = QHBoxLayout()
        for widget in (self.add_user_button, self.reset_button, self.remove_button):
            user_buttons.addWidget(widget)
        user_buttons.addStretch(1)
        user_buttons.addWidget(self.show_removed)

        # Said when a colleague from the team server's directory is chosen: why this laptop
        # offers no passphrase reset or removal for them.
        self.elsewhere_note = hint("")
        self.elsewhere_note.setWordWrap(True)
        self.elsewhere_note.setAccessibleName("About this user")
        self.elsewhere_note.hide()

        self.pairs_table = read_only_table("Pairs", ("Pair", "Officer", "Clinician"))
        self.create_pair_button = _button("Create pair…", "Create pair", primary=True)
        pair_buttons = QHBoxLayout()
        pair_buttons.addWidget(self.create_pair_button)
        pair_buttons.addStretch(1)

        self.keys = KeysSection(session, self)
        self.server = TeamServerSection(session, self)

        self.problem = QLabel()
        self.problem.setObjectName("errorText")
        self.problem.setWordWrap(True)
        self.problem.hide()

        # In a scroll area, as Settings and Reports: with the team server's card a lead's page is
        # taller than a laptop's screen.
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(heading("Team"))
        layout.addWidget(self.problem)
        layout.addWidget(self.keys.offer)
        layout.addWidget(self.server.card, 0)
        layout.addWidget(
            _card(
                "Users",
                hint(
                    "Each user has their own key slot. Clinicians and clinical leads can read"
                    " clinician-only notes; officers and analysts cannot."
                ),
                user_buttons,
                self.users_table,
                self.elsewhere_note,
            ),
            0,
        )
        layout.addWidget(
            _card(
                "Pairs",
                hint("An officer and a clinician share a caseload."),
                pair_buttons,
                self.pairs_table,
            ),
            0,
        )
        layout.addWidget(self.keys.card, 0)
        layout.addStretch(1)
        scrolling_page(self, content)
        chain = self.server.tab_chain()
        for before, after in itertools.pairwise(chain):
            self.setTabOrder(before, after)
        self.setTabOrder(chain[-1], self.add_user_button)
        self.setTabOrder(self.add_user_button, self.reset_button)
        self.setTabOrder(self.reset_button, self.remove_button)
        self.setTabOrder(self.remove_button, self.show_removed)
        self.setTabOrder(self.show_removed, self.users_table)
        self.setTabOrder(self.users_table, self.create_pair_button)
        self.setTabOrder(self.create_pair_button, self.pairs_table)
        self.setTabOrder(self.pairs_table, self.keys.rotate_button)

        self.add_user_button.clicked.connect(self.add_user)
        self.reset_button.clicked.connect(self.reset_passphrase)
        self.remove_button.clicked.connect(self.remove_user)
        self.create_pair_button.clicked.connect(self.create_pair)
        self.show_removed.toggled.connect(lambda _on: self.refresh())
        self.users_table.itemSelectionChanged.connect(self._update_buttons)
        session.changed.connect(self._on_changed)
        self._update_buttons()

    # -- showing --------------------------------------------------------------------------
    def _on_changed(self, kind: str) -> None:
        if kind in ("user", "pair") and self.session.is_unlocked:
            self.refresh()
        elif kind == "team" and self.session.is_unlocked:
            self.server.refresh()

    def refresh(self) -> None:
        self.server.refresh()  # the server's part arrives in the background

        def read() -> tuple[list[UserView], list[PairView]]:
            vault = self.session.vault
            listed = users.list_users(vault, include_removed=self.show_removed.isChecked())
            return listed, people.list_pairs(vault)

        found = attempt(self, read, failure=shown_in(self.problem))
        if found is REFUSED:
            return
        self.users, pairs = found
        self.problem.hide()
        self.users_table.setRowCount(len(self.users))
        for row, user in enumerate(self.users):
            cells = (
                _cell(user.display_name, user.id),
                _cell(user.username),
                _cell(user.role.label),
                _cell("Can read" if user.clinical_access else "No access"),
                _cell(_status(user)),
            )
            for column, item in enumerate(cells):
                if not user.active:
                    item.setForeground(Qt.GlobalColor.darkGray)
                if not user.signs_in_here:
                    item.setToolTip(OWN_LAPTOP_TIP)
                self.users_table.setItem(row, column, item)
        self.pairs_table.setRowCount(len(pairs))
        for row, pair in enumerate(pairs):
            for column, item in enumerate(
                (_cell(pair.name, pair.id), _cell(pair.officer), _cell(pair.clinician))
            ):
                self.pairs_table.setItem(row, column, item)
        # Each table is as tall as its rows (a team is a few dozen people at most), so every
        # user shows; the page scrolls on a small screen.
        for table, most in ((self.users_table, 40), (self.pairs_table, 20)):
            table.resizeRowsToContents()
            rows = sum(table.rowHeight(r) for r in range(min(table.rowCount(), most)))
            rows = max(rows, table.verticalHeader().defaultSectionSize())
            table.setFixedHeight(
                table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth() + 2
            )
        self._update_buttons()

    def selected_user(self) -> UserView | None:
        rows = self.users_table.selectionModel().selectedRows()
        return self.users[rows[0].row()] if rows else None

    def _update_buttons(self) -> None:
        user = self.selected_user()
        me = self.session.vault.actor.user_id if self.session.is_unlocked else None
        usable = user is not None and user.active
        # A colleague from the team server's directory has no key slot here: their passphrase
        # is on their own laptop, and they leave the team by a revoke on the server (above).
        here = user is None or user.signs_in_here
        self.reset_button.setEnabled(usable and here)
        self.remove_button.setEnabled(usable and here and user is not None and user.id != me)
        if user is not None and not here:
            note = elsewhere_words(user.display_name)
            self.elsewhere_note.setText(note)
            self.users_table.setAccessibleDescription(note)
        else:
            self.users_table.setAccessibleDescription("")
        self.elsewhere_note.setVisible(user is not None and not here)
        self.keys.update_buttons()

    # -- actions --------------------------------------------------------------------------
    def add_user(self) -> None:
        dialog = AddUserDialog(self.session, parent=self)
        if dialog.exec() and dialog.user_id is not None:
            self._select(dialog.user_id)

    def reset_passphrase(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        SetPassphraseDialog(
            self.session,
            user.id,
            title=f"Reset passphrase for {user.display_name}",
            intro=(
                f"Set a new passphrase for {user.display_name}. Their old passphrase stops"
                " working at once. Tell them the new one in person, not by email or message,"
                " and ask them to change it in Settings."
            ),
            parent=self,
        ).exec()

    def remove_user(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        answer = QMessageBox.question(
            self,
            "Remove user",
            f"Remove {user.display_name} ({user.username})?\n\n"
            "Their key slot is deleted, so they can no longer unlock this vault, and their"
            " name stays on the records they wrote.\n\n"
            "A leaver who copied the vault files earlier can still open that copy with their"
            " old passphrase until the vault's keys are rotated. Rotate the keys after removing"
            " someone who is leaving.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        if attempt(self, lambda: users.remove_user(self.session.vault, user.id)) is REFUSED:
            return
        self.session.changed.emit("user")
        self.keys.offer_rotation(user.display_name)

    def create_pair(self) -> None:
        dialog = attempt(self, lambda: CreatePairDialog(self.session, parent=self))
        if dialog is REFUSED:
            return
        dialog.exec()

    def _select(self, user_id: uuid.UUID) -> None:
        for row, user in enumerate(self.users):
            if user.id == user_id:
                self.users_table.selectRow(row)
