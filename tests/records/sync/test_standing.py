"""A replica's standing without a server: expiry at unlock, the clock set back or far ahead,
and erasing a vault that never synced (tests/teamserver/test_leavers.py does it end to end)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from sim_desk.cli.common import exit_code_for
from sim_desk.records import sync
from sim_desk.records.errors import PermissionDenied
from sim_desk.records.sync import standing
from sim_desk.records.vault import unlock
from sim_desk.teamserver.leavers import revoked_message
from tests.conftest import FIXED_NOW, PASSPHRASES


def open_at(team, moment: datetime, *, for_sync: bool = False):
    return unlock.unlock(
        team.paths,
        "officer",
        PASSPHRASES["officer"],
        dirs=team.dirs,
        clock=lambda: moment,
        for_sync=for_sync,
    )


def synced(team, *, at: datetime, days: int | None) -> None:
    with open_at(team, at) as vault:
        sync.begin(vault, uuid.uuid4(), "incarnation-1")
        standing.record_check_in(vault, server_time=at, expiry_days=days)


def test_a_replica_past_its_expiry_opens_for_a_sync_only(team):
    synced(team, at=FIXED_NOW, days=7)
    with open_at(team, FIXED_NOW + timedelta(days=7)) as vault:  # on the day: still open
        assert not standing.freshness(vault).expired
    later = FIXED_NOW + timedelta(days=8)
    with pytest.raises(standing.ReplicaExpired) as refused:
        open_at(team, later)
    assert isinstance(refused.value, PermissionDenied)
    assert exit_code_for(refused.value) == exit_code_for(PermissionDenied("x"))
    assert "8 days" in str(refused.value) and "allows 7" in str(refused.value)
    with open_at(team, later, for_sync=True) as vault:
        assert standing.freshness(vault).expired
        standing.record_check_in(vault, server_time=later, expiry_days=7)  # the sync
    with open_at(team, later) as vault:
        assert not standing.freshness(vault).expired


def test_setting_the_clock_back_does_not_reopen_an_expired_replica(team):
    synced(team, at=FIXED_NOW, days=3)
    with pytest.raises(standing.ReplicaExpired):
        open_at(team, FIXED_NOW + timedelta(days=5))
    for back in (timedelta(days=1), timedelta(days=-30)):
        with pytest.raises(standing.ReplicaExpired):
            open_at(team, FIXED_NOW + back)


def test_a_clock_once_far_ahead_is_put_right_by_the_next_sync(team):
    synced(team, at=FIXED_NOW, days=3)
    with pytest.raises(standing.ReplicaExpired):
        open_at(team, datetime(2099, 1, 1, tzinfo=FIXED_NOW.tzinfo))
    with open_at(team, FIXED_NOW, for_sync=True) as vault:
        standing.record_check_in(vault, server_time=FIXED_NOW, expiry_days=3)
    with open_at(team, FIXED_NOW + timedelta(hours=1)) as vault:
        assert not standing.freshness(vault).expired


def test_no_expiry_means_no_refusal(team):
    synced(team, at=FIXED_NOW, days=None)
    with open_at(team, FIXED_NOW + timedelta(days=1000)) as vault:
        assert standing.freshness(vault) == standing.Freshness(None, None, None)


def test_erasing_a_vault_that_never_synced_counts_every_record_as_lost(team):
    with open_at(team, FIXED_NOW) as vault:
        erased = standing.erase_replica(vault, uuid.uuid4())
        again = standing.erase_replica(vault, uuid.uuid4())
    assert erased.never_synced_records == erased.records > 0 and erased.unsent_changes == 0
    assert again == standing.Erased(0, 0, 0, 0)
    message = revoked_message("North SIM", erased)
    assert f"{erased.records} change(s) made on this laptop had not reached the server" in message
    assert "nothing was lost" in revoked_message("North SIM", again)


def test_erasing_a_replica_makes_the_next_team_look_for_own_notes_again(team):
    """Notes written after an erasure are sealed under the vault's own key (the team's keys
    went with the replica): a later team's first sync must look for them again."""
    from sqlalchemy import select, update

    from sim_desk.records.model import VaultMeta

    with open_at(team, FIXED_NOW) as vault:
        with vault.write() as session:
            session.execute(update(VaultMeta).values(own_notes_resealed=True))
        standing.erase_replica(vault, uuid.uuid4())
        with vault.read() as session:
            assert not session.execute(select(VaultMeta.own_notes_resealed)).scalar_one()
