"""The laptop side of what the sync reliability tests (tests/teamserver/
test_sync_reliability.py) found: the clock of a laptop that is behind, what a pulled change
leaves of a row's bookkeeping, and what a laptop sends again to a server restored from a
backup. Pulls are built by hand, as in test_outbox_and_merge.py."""

from __future__ import annotations

import uuid

from tests.records.sync.test_outbox_and_merge import (
    change,
    person_payload,
    pull,
    row_of,
    start_syncing,
)


def test_a_pulled_change_without_updated_at_leaves_it_as_it_was(officer, team):
    """Not the time it was applied here, which no other replica has (the column's onupdate)."""
    start_syncing(officer)
    remote = uuid.uuid4()
    pull(officer, change("people", remote, person_payload(team.pair_id), 10 << 16))
    before = row_of(officer, remote).updated_at
    pull(officer, change("people", remote, {"preferred_name": "Rem"}, 20 << 16))
    row = row_of(officer, remote)
    assert (row.preferred_name, row.updated_at) == ("Rem", before)
