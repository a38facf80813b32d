"""The laptop side of what the sync reliability tests (tests/teamserver/
test_sync_reliability.py) found: the clock of a laptop that is behind, what a pulled change
leaves of a row's bookkeeping, and what a laptop sends again to a server restored from a
backup. Pulls are built by hand, as in test_outbox_and_merge.py."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, timedelta

from sim_desk.records import contacts, people, sync
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.people import PersonDetails
from sim_desk.records.sync import clock
from tests.conftest import FIXED_NOW
from tests.records.sync.test_outbox_and_merge import (
    AT,
    DEVICE,
    change,
    person_payload,
    pull,
    queued,
    row_of,
    start_syncing,
)


def test_a_laptop_behind_orders_its_next_change_after_what_it_pulled(officer, team):
    """This laptop's clock is an hour behind the change it pulls; what it writes after is
    still later (the hybrid logical clock moves past every time it has seen)."""
    start_syncing(officer)
    remote = uuid.uuid4()
    an_hour_ahead = clock.physical(FIXED_NOW + timedelta(hours=1))
    pull(officer, change("people", remote, person_payload(team.pair_id), an_hour_ahead))
    details = people.view_person(officer, remote).details
    people.update_person(officer, remote, dataclasses.replace(details, preferred_name="Later"))
    assert queued(officer)[-1]["hlc"] > an_hour_ahead


def test_a_pulled_change_without_updated_at_leaves_it_as_it_was(officer, team):
    """Not the time it was applied here, which no other replica has (the column's onupdate)."""
    start_syncing(officer)
    remote = uuid.uuid4()
    pull(officer, change("people", remote, person_payload(team.pair_id), 10 << 16))
    before = row_of(officer, remote).updated_at
    pull(officer, change("people", remote, {"preferred_name": "Rem"}, 20 << 16))
    row = row_of(officer, remote)
    assert (row.preferred_name, row.updated_at) == ("Rem", before)


def _synced_and_seen_back(vault) -> None:
    pending = queued(vault)
    results = [
        {"change_id": c["change_id"], "status": "accepted", "seq": i + 1}
        for i, c in enumerate(pending)
    ]
    sync.record_push(vault, results, now=AT)
    sync.apply_pull(vault, {"cursor": len(pending), "changes": []}, now=AT)
    assert queued(vault) == [] and sync.status(vault).sent_not_seen_back == 0


def test_a_restored_server_is_sent_again_this_laptops_own_changes_before_what_waits(officer, team):
    start_syncing(officer)
    mine = people.create_person(
        officer,
        PersonDetails("Ada", "Lovelace", referred_on=date(2026, 1, 5), pair_id=team.pair_id),
    )
    _synced_and_seen_back(officer)
    theirs = uuid.uuid4()  # another laptop's person, pulled here
    pull(officer, change("people", theirs, person_payload(team.pair_id), 10 << 16), cursor=5)
    waiting = contacts.log_contact(officer, mine, ContactDetails(started_at=AT, shared_note="hi"))
    # The server comes back from a backup that holds none of it.
    begun = sync.begin(officer, DEVICE, "incarnation-2")
    assert begun.restored
    sync.apply_pull(officer, {"snapshots": [], "cursor": 0, "incarnation": "incarnation-2"}, now=AT)
    again = queued(officer)
    # Its own person (and the status row made with it) first, parents first, then what waited;
    # not the other laptop's person, which that laptop sends again itself.
    assert [(c["table"], c["row_id"]) for c in again] == [
        ("people", str(mine)),
        ("person_status_changes", again[1]["row_id"]),
        ("contacts", str(waiting)),
    ]
    assert all("clinical" not in c for c in again)  # an officer's laptop holds no clinical text
    assert str(theirs) not in {c["row_id"] for c in again}
