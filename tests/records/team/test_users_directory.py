"""The team server's users directory applied to a vault's users table (issue 21): what it adds,
what it never touches, and how it reports a clash. The server side is in
tests/teamserver/test_join_fresh.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from sim_desk.records.errors import AuthenticationFailed
from sim_desk.records.model import AuditEvent, User
from sim_desk.records.team import users
from sim_desk.records.team.directory import DirectoryUser, bring_users_up_to_date
from sim_desk.records.vault import unlock
from tests.conftest import PASSPHRASES


def _ids(vault) -> dict[str, uuid.UUID]:
    return {u.username: u.id for u in users.list_users(vault, include_removed=True)}


def test_a_colleague_from_the_directory_is_named_but_cannot_sign_in(team):
    newcomer = uuid.uuid4()
    with team.unlock("officer") as vault:
        update = bring_users_up_to_date(
            vault,
            [DirectoryUser(newcomer, "nia", "Nia New", "clinician", True, True)],
        )
        shown = {u.username: u.display_name for u in users.list_users(vault)}
        with vault.read() as session:
            added = session.execute(
                select(AuditEvent.action).where(AuditEvent.entity_id == newcomer)
            ).scalars()
            actions = list(added)
    assert (update.added, update.problems) == (1, [])
    assert shown["nia"] == "Nia New"
    assert actions == ["user.added"]
    with pytest.raises(AuthenticationFailed):
        unlock.unlock(team.paths, "nia", PASSPHRASES["lead"], dirs=team.dirs)


def test_a_user_name_here_under_another_id_is_a_problem_never_overwritten(team):
    with team.unlock("lead") as vault:
        before = _ids(vault)
        update = bring_users_up_to_date(
            vault,
            [DirectoryUser(uuid.uuid4(), "officer", "Someone Else", "officer", False, True)],
        )
        after = _ids(vault)
    assert update.added == 0 and len(update.problems) == 1
    assert "officer" in update.problems[0] and "Nothing was overwritten" in update.problems[0]
    assert after == before


def test_who_can_sign_in_here_keeps_their_role_and_a_nameless_entry_keeps_the_name(team):
    with team.unlock("lead") as vault:
        ids = _ids(vault)
        update = bring_users_up_to_date(
            vault,
            [
                # The server disagrees about a user with a key slot here: the slot decides.
                DirectoryUser(ids["analyst"], "analyst", None, "clinician", True, True),
            ],
        )
        with vault.read() as session:
            analyst = session.execute(
                select(User.role, User.clinical_access, User.display_name).where(
                    User.id == ids["analyst"]
                )
            ).one()
    assert update.changed == 0
    assert tuple(analyst) == ("analyst", False, "Ana Analyst")


def test_removed_on_the_server_is_marked_removed_here_but_never_the_signed_in_user(team):
    gone = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    with team.unlock("officer") as vault:
        ids = _ids(vault)
        update = bring_users_up_to_date(
            vault,
            [
                DirectoryUser(ids["officer2"], "officer2", None, "officer", False, False, gone),
                DirectoryUser(ids["officer"], "officer", None, "officer", False, False, gone),
            ],
        )
        with vault.read() as session:
            rows = {
                u.username: (u.active, u.removed_at)
                for u in session.execute(select(User)).scalars()
            }
    assert update.removed == 1
    assert rows["officer2"] == (False, gone)  # kept, marked removed: history names them
    assert rows["officer"][0] is True  # the leavers step of sync deals with this laptop


def test_a_directory_with_nothing_new_changes_nothing(team):
    entry = DirectoryUser(uuid.uuid4(), "nia", "Nia New", "clinician", True, True)

    def audited(vault) -> int:
        with vault.read() as session:
            return len(session.execute(select(AuditEvent.seq)).all())

    with team.unlock("officer") as vault:
        assert bring_users_up_to_date(vault, [entry]).added == 1
        before = audited(vault)
        again = bring_users_up_to_date(vault, [entry])
        after = audited(vault)
    assert (again.changed, again.problems) == (0, [])
    assert after == before
