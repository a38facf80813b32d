"""Publishing once, with no side door (issue 20), real vaults and a real PostgreSQL: a lead
with another vault full of records who joins the team and runs a plain sync is refused before
anything is sent, and nothing in that vault changes; the server itself takes nothing from that
laptop afterwards. A copy of the published vault (a member's laptop) and a new vault made by
joining still sync."""

from __future__ import annotations

import re
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sim_desk.records import people
from sim_desk.records.model import AuditEvent, Person, SyncOutboxEntry, SyncState
from sim_desk.records.people import PersonDetails
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import protocol
from sim_desk.teamserver.errors import ServerRefused
from sim_desk.teamserver.invitations import Invitation, create_invitation
from sim_desk.teamserver.joining import join_team, join_with_new_vault
from sim_desk.teamserver.sync import sync_now
from sim_desk.teamserver.vault_check import SecondVaultRefused
from tests.teamserver.test_publish import (
    Published,
    _dirs,
    invite_and_join,
    publish_from,
    published,
    server_counts,
    vault_credential,
)

__all__ = ["published"]  # the fixture, shared with test_publish

BOSS = ("boss", "boss passphrase six")


def _other_vault_joined(p: Published, tmp_path: Path) -> VaultPaths:
    """Another single-laptop vault with records of its own, its lead joined to the team."""
    other = VaultPaths.at(tmp_path / "other" / "team.simvault")
    (tmp_path / "other").mkdir()
    unlock.create_vault(
        other,
        team_name="South",
        username=BOSS[0],
        display_name="Bo Boss",
        passphrase=BOSS[1],
        clinical_lead=True,
    )
    with _open(other, tmp_path) as vault:
        boss_id = vault.actor.user_id
        for given in ("Dee", "Eli"):
            people.create_person(
                vault,
                PersonDetails(given_name=given, family_name="Other", referred_on=date(2026, 1, 1)),
            )
    with p.db.admin.connect(autocommit=True) as admin:
        invitation = create_invitation(
            admin, p.db.address, username="boss", role="team_lead", clinical=True, user_id=boss_id
        )
    with _open(other, tmp_path) as vault:
        join_team(vault, invitation)
    return other


def _open(paths: VaultPaths, tmp_path: Path) -> Any:
    return unlock.unlock(paths, *BOSS, dirs=_dirs(tmp_path))


def _local(paths: VaultPaths, tmp_path: Path) -> dict[str, Any]:
    """What a refusal must leave as it was: the records, and no sync begun."""
    with _open(paths, tmp_path) as vault, vault.read() as session:
        return {
            "people": sorted(
                (str(p.id), p.given_name, p.updated_at)
                for p in session.execute(select(Person)).scalars()
            ),
            "sync_state": session.execute(select(func.count()).select_from(SyncState)).scalar(),
            "outbox": session.execute(select(func.count()).select_from(SyncOutboxEntry)).scalar(),
        }


def _refused_again_and_again(p: Published, other: VaultPaths, tmp_path: Path) -> None:
    local_before, server_before = _local(other, tmp_path), server_counts(p.db)
    assert local_before["people"] and local_before["sync_state"] == 0
    for _attempt in range(2):
        with _open(other, tmp_path) as vault, pytest.raises(SecondVaultRefused) as refused:
            sync_now(vault)
        words = str(refused.value)
        assert re.search(r"holds \d+ records that are not on the team server", words)
        assert "Nothing was sent" in words and "nothing in this vault was changed" in words
        assert "Join my team" in words and "sim-desk join FILE --vault NEW-FILE" in words
        assert _local(other, tmp_path) == local_before
        assert server_counts(p.db) == server_before
    with p.db.admin_connect() as admin:
        device = admin.execute(
            "SELECT d.id FROM sim.devices d JOIN sim.users u ON u.id = d.user_id"
            " WHERE u.username = 'boss'"
        ).fetchone()
        assert device is not None
        audit = admin.execute(
            "SELECT count(*) FROM sim.audit_entries WHERE device_id = %s", device
        ).fetchone()
    assert audit == (0,), "not even its audit chain was sent"
    # The server's own word, whatever a laptop tries: a push from it takes nothing.
    with _open(other, tmp_path) as vault:
        with vault.read() as session:
            person = session.execute(select(Person.id)).scalars().first()
        assert person is not None
        change = protocol.change("people", person, {"given_name": "Dee", "pair_id": str(p.pair_a)})
        with (
            protocol.device_connection(vault_credential(vault)) as conn,
            pytest.raises(ServerRefused),
        ):
            protocol.push(conn, [change])
    assert server_counts(p.db) == server_before


def test_a_second_vault_full_of_records_cannot_sync_its_way_into_a_published_team(
    published: Published, tmp_path: Path
) -> None:
    publish_from(published.lead)
    other = _other_vault_joined(published, tmp_path)
    _refused_again_and_again(published, other, tmp_path)


def test_a_second_vault_cannot_follow_the_first_in_without_a_publish(
    published: Published, tmp_path: Path
) -> None:
    """Nobody published: the lead's vault came in by a plain first sync (allowed: it was the
    first), and another vault cannot follow it in the same way."""
    published.lead.sync()
    assert server_counts(published.db).get("people", 0) > 0
    other = _other_vault_joined(published, tmp_path)
    _refused_again_and_again(published, other, tmp_path)


def test_a_copy_of_the_published_vault_and_a_new_vault_still_sync(
    published: Published, tmp_path: Path
) -> None:
    p = published
    publish_from(p.lead)
    # A member's laptop made from a copy of the lead's vault, with a person entered on it
    # before its first sync: the same vault, so its records come in.
    officer = invite_and_join(p, "officer", "officer", False)
    mine = officer.add_person("Gwen", p.pair_a)
    officer.sync()
    with p.db.admin_connect() as admin:
        arrived = admin.execute("SELECT count(*) FROM sim.rows WHERE row_id = %s", (mine,))
        assert arrived.fetchone() == (1,)
    # A new vault made by joining holds nothing of its own: it syncs, and its new records go.
    with p.lead.open() as vault, protocol.device_connection(vault_credential(vault)) as conn:
        made = create_invitation(
            conn,
            protocol.address_of(vault_credential(vault)),
            username="clinician",
            role="clinician",
            clinical=True,
            user_id=p.ids["clinician"],
        )
    paths = VaultPaths.at(tmp_path / "fresh" / "team.simvault")
    member = join_with_new_vault(paths, Invitation.from_json(made.to_json()), "a fresh passphrase")
    with member.vault as vault:
        report = sync_now(vault)
        assert report.problems == []
        person = people.create_person(
            vault,
            PersonDetails(
                given_name="Hal", family_name="New", referred_on=date(2026, 2, 1), pair_id=p.pair_a
            ),
        )
        sync_now(vault)
        with vault.read() as session:
            assert session.execute(select(AuditEvent).limit(1)).first() is not None
    with p.db.admin_connect() as admin:
        arrived = admin.execute("SELECT count(*) FROM sim.rows WHERE row_id = %s", (person,))
        assert arrived.fetchone() == (1,)
        refused = admin.execute("SELECT count(*) FROM sim.device_vaults WHERE refused")
        assert refused.fetchone() == (0,)


def test_a_laptop_cannot_say_another_vault_later(published: Published) -> None:
    """A device's vault is fixed when it joins: naming another (to slip past) is refused."""
    p = published
    publish_from(p.lead)
    officer = invite_and_join(p, "officer", "officer", False)
    with officer.open() as vault, protocol.device_connection(vault_credential(vault)) as conn:
        row = conn.execute("SELECT sim.check_vault(%s, 5)", (uuid.uuid4(),)).fetchone()
    assert row is not None and row[0]["status"] == "refused"
