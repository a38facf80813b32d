"""The Team page and colleagues from the team server's users directory (issue 21): they sign in
on their own laptops, so the page says so and offers no passphrase reset or removal for them
(a passphrase set here would let them sign in on this laptop, which holds the whole team)."""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtWidgets import QLabel, QPushButton, QTableWidget

from sim_desk.records import sync
from sim_desk.records.errors import ValidationError
from sim_desk.records.team import users
from sim_desk.records.team.directory import DirectoryUser, bring_users_up_to_date
from sim_desk.records.vault.files import read_slot_file
from tests.ui.helpers import find
from tests.ui.test_team_settings import NEW_PASSPHRASE, column, team_page


def test_a_colleague_from_the_directory_is_marked_and_offered_no_passphrase_or_removal(
    qtbot, team, lead_session
):
    vault = lead_session.vault
    sync.begin(vault, uuid.uuid4(), "incarnation-1")  # this vault syncs with a team server
    sam = uuid.uuid4()
    added = bring_users_up_to_date(
        vault, [DirectoryUser(sam, "sam", "Sam Sharma", "officer", clinical=False, active=True)]
    )
    assert added.added == 1
    page = team_page(qtbot, lead_session)
    table = find(page, QTableWidget, "Users")
    reset = find(page, QPushButton, "Reset passphrase")
    remove = find(page, QPushButton, "Remove user")
    note = find(page, QLabel, "About this user")
    names, statuses = column(table), column(table, 4)
    sam_row, officer_row = names.index("Sam Sharma"), names.index("Olu Officer")
    assert statuses[sam_row] == "Active — signs in on their own laptop"
    assert statuses[officer_row] == "Active"
    assert "cannot sign in here" in table.item(sam_row, 0).toolTip()

    table.selectRow(sam_row)
    assert not reset.isEnabled() and not remove.isEnabled()
    assert not note.isHidden()
    said = note.text()
    assert said.startswith("Sam Sharma signs in on their own laptop")
    assert "would let them sign in on this laptop" in said and "Remove from team server" in said
    assert table.accessibleDescription() == said  # heard with the table, by keyboard

    table.selectRow(officer_row)  # a user with a key slot here: as before
    assert reset.isEnabled() and remove.isEnabled() and note.isHidden()

    # The records refuse it too, whatever asks: no key slot is made for them here.
    with pytest.raises(ValidationError, match="signs in on their own laptop"):
        users.set_passphrase(vault, sam, NEW_PASSPHRASE)
    assert "sam" not in read_slot_file(team.paths).usernames
    assert [u.signs_in_here for u in users.list_users(vault) if u.id == sam] == [False]
