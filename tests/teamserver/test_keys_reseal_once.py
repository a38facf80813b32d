"""A clinical laptop whose vault key is not the team's epoch 1 re-seals its own notes once
(issue 20), against the real PostgreSQL: the first sync after the team's key came looks at
every contact and earlier version; later syncs do not look at all (a mark in the vault, set in
the same transaction). A note sealed under the vault's own key after that (a sign-in that read
the keyring before the key came) clears the mark, and the next sync re-seals it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event, select

from sim_desk.records import contacts
from sim_desk.records.clinical_epochs import frame_epoch
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.model import Contact, VaultMeta
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver.sync import sync_now
from tests.conftest import FIXED_NOW
from tests.teamserver.laptops import Laptop
from tests.teamserver.test_keys import KeyWorld, _clinical_note, _note_on_pair_b
from tests.teamserver.test_keys import kw as _kw_fixture

kw = _kw_fixture


@contextmanager
def _looks_for_own_notes(vault: UnlockedVault) -> Iterator[list[str]]:
    """The statements that look for notes still under the vault's own key (the unframed ones:
    records/team/own_notes.py), as the vault's own engine runs them."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "substr(" in statement and "clinical_note" in statement:
            seen.append(statement)

    event.listen(vault.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(vault.engine, "before_cursor_execute", before)


def _sync_counting_looks(machine: Laptop) -> int:
    """Syncs ``machine``; returns how many statements looked for notes under its own key."""
    with machine.open() as vault, _looks_for_own_notes(vault) as seen:
        sync_now(vault)
    return len(seen)


def _marked(machine: Laptop) -> bool:
    with machine.open() as vault, vault.read() as session:
        return bool(session.execute(select(VaultMeta.own_notes_resealed)).scalar_one())


def _blob(machine: Laptop, contact: Any) -> bytes:
    with machine.open() as vault, vault.read() as session:
        blob = session.execute(
            select(Contact.clinical_note).where(Contact.id == contact)
        ).scalar_one()
    assert isinstance(blob, bytes)
    return blob


def test_own_notes_are_resealed_once_and_a_late_one_still_is(kw: KeyWorld) -> None:
    lead, c2 = kw.laptops["lead"], kw.laptops["clinician2"]
    lead.sync()  # the team's epoch 1 (the lead's vault key), wrapped to clinician2's device
    person, early = _note_on_pair_b(c2, kw.pair_b, "written before the key came")
    assert frame_epoch(_blob(c2, early)) == 0  # under clinician2's own vault key
    # A sign-in that reads the keyring now, before this laptop has the team's key, and keeps it.
    stale = c2.open()
    try:
        assert stale.clinical_keyring().current is None

        looks = _sync_counting_looks(c2)  # takes the key, re-seals, marks
        assert looks > 0 and _marked(c2)
        assert frame_epoch(_blob(c2, early)) == 1
        looks = _sync_counting_looks(c2)
        assert looks == 0, "a sync after the look is done does not look again"

        late = contacts.log_contact(
            stale,
            person,
            ContactDetails(
                started_at=datetime(2026, 10, 2, 10, 0, tzinfo=FIXED_NOW.tzinfo),
                shared_note="later words",
                clinical_note="written late, under the old keyring",
            ),
        )
    finally:
        stale.lock()
    assert frame_epoch(_blob(c2, late)) == 0 and not _marked(c2)

    looks = _sync_counting_looks(c2)
    assert looks > 0 and _marked(c2)
    assert frame_epoch(_blob(c2, late)) == 1
    c2.sync()  # the re-sealed note goes up
    lead.sync()
    assert _clinical_note(lead, late) == "written late, under the old keyring"
    assert _clinical_note(lead, early) == "written before the key came"
    looks = _sync_counting_looks(c2)
    assert looks == 0
