"""The longest note a laptop takes, in any script, reaches the team (schema 0008).

A note may be 100,000 characters (records.validation.MAX_NOTE_CHARS). In characters of four
bytes (CJK Extension B, emoji), and as clinician-only ciphertext in base64, that is far over the
256 KiB a change could be on a server before 0008, which refused it as 'invalid' for good.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sim_desk.records import contacts, sync
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.model import Contact, Person, SyncOutboxEntry
from sim_desk.records.sync import refused as refused_changes
from sim_desk.records.sync import review
from sim_desk.records.validation import MAX_NOTE_CHARS
from sim_desk.teamserver import protocol
from sim_desk.teamserver.schema import schema_head, server_report, upgrade_server
from tests.teamserver.conftest import World, build_world, person
from tests.teamserver.laptops import Laptop, laptop

#: The server's limit on one change (0008_change_size.sql), and the arithmetic's bound on the
#: largest change a laptop can send (its head).
CHANGE_LIMIT = 2_097_152
LARGEST_CHANGE = 946_184
OLD_LIMIT = 262_144


def four_byte_text(length: int, offset: int = 0) -> str:
    """``length`` characters of four bytes each in UTF-8: CJK Extension B ideographs and emoji
    in turn, all different over a long stretch (a character lost or swapped shows)."""
    chars = []
    for i in range(offset, offset + length):
        if i % 2:
            chars.append(chr(0x1F600 + (i // 2) % 0x50))  # emoji
        else:
            chars.append(chr(0x20000 + (i // 2) % 0xA6D0))  # CJK Unified Ideographs Ext. B
    text = "".join(chars)
    assert len(text.encode("utf-8")) == 4 * length
    return text


LONGEST_SHARED = four_byte_text(MAX_NOTE_CHARS)
LONGEST_CLINICAL = four_byte_text(MAX_NOTE_CHARS, offset=7)
WHEN = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)


def server_size(world: World, change: dict[str, Any]) -> int:
    """What the server counts of a change: ``octet_length(change::text)``."""
    with world.db.admin_connect() as admin:
        row = admin.execute(
            "SELECT octet_length(%s::jsonb::text)",
            (json.dumps(change, ensure_ascii=False),),
        ).fetchone()
    assert row is not None
    return int(row[0])


def pending(machine: Laptop) -> list[dict[str, Any]]:
    with machine.open() as vault:
        return sync.pending_changes(vault)


def clinical_held(machine: Laptop, contact: uuid.UUID) -> bytes | None:
    with machine.open() as vault, vault.read() as session:
        return session.execute(
            select(Contact.clinical_note).where(Contact.id == contact)
        ).scalar_one()


@pytest.fixture(scope="module")
def laptops(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Laptop]:
    folder = tmp_path_factory.mktemp("laptops")
    machines = {name: laptop(world, name, folder) for name in ("clinician", "officer", "lead")}
    for machine in machines.values():
        machine.sync()
    return machines


def test_the_longest_notes_in_four_byte_characters_reach_the_pair_and_the_lead(
    world: World, laptops: dict[str, Laptop]
):
    """A clinician's contact with both notes at their limit in four-byte characters, then the
    same contact amended (its earlier version: the largest change a laptop can send)."""
    clinician, officer, lead = laptops["clinician"], laptops["officer"], laptops["lead"]
    name = four_byte_text(200, offset=3)  # a name at its limit, in any script
    mei = clinician.add_person(name, world.pair_a)
    with clinician.open() as vault:
        contact = contacts.log_contact(
            vault,
            mei,
            ContactDetails(
                started_at=WHEN,
                place=four_byte_text(200, offset=1),
                shared_note=LONGEST_SHARED,
                clinical_note=LONGEST_CLINICAL,
            ),
        )
    sizes = {c["table"]: server_size(world, c) for c in pending(clinician)}
    assert OLD_LIMIT < sizes["contacts"] <= LARGEST_CHANGE - 8_000  # no reason for the change
    report = clinician.sync()
    assert (report.pushed, report.refused) == (3, 0)  # person, status history, contact

    later_shared = four_byte_text(MAX_NOTE_CHARS, offset=11)
    later_clinical = four_byte_text(MAX_NOTE_CHARS, offset=13)
    with clinician.open() as vault:
        details = contacts.contact_details(vault, contact)
        contacts.amend_contact(
            vault,
            contact,
            dataclasses.replace(
                details,
                place=four_byte_text(200),
                shared_note=later_shared,
                clinical_note=later_clinical,
            ),
            reason=four_byte_text(2_000, offset=5),
        )
    sizes = {c["table"]: server_size(world, c) for c in pending(clinician)}
    # The arithmetic in 0008_change_size.sql holds, and the limit leaves room over it.
    assert OLD_LIMIT < sizes["contact_revisions"] <= LARGEST_CHANGE
    assert sizes["contacts"] <= LARGEST_CHANGE and 2 * LARGEST_CHANGE < CHANGE_LIMIT
    report = clinician.sync()
    assert (report.pushed, report.refused) == (2, 0)  # the contact and its earlier version

    officer.sync()
    with officer.open() as vault:
        [seen] = contacts.list_contacts(vault, mei)
        history = contacts.contact_history(vault, contact)
    assert seen.shared_note == later_shared
    assert [r.fields.get("shared_note") for r in history if r.fields] == [LONGEST_SHARED]
    assert clinical_held(officer, contact) is None  # never the clinical ciphertext

    lead.sync()
    with lead.open() as vault:
        assert contacts.read_clinical_note(vault, contact) == later_clinical
        assert contacts.list_contacts(vault, mei)[0].shared_note == later_shared
    with lead.open() as vault, vault.read() as session:
        assert session.execute(select(Person.given_name).where(Person.id == mei)).scalar() == name


def test_a_change_over_the_limit_is_still_refused_as_invalid(world: World):
    """Only what no laptop can legitimately send: a note of 600,000 four-byte characters."""
    pid, too_long, beside = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    world.push("officer", protocol.change("people", pid, person(world.pair_a, "Ola", None)))
    huge = protocol.change("contacts", too_long, _contact(pid, four_byte_text(600_000)))
    fine = protocol.change("contacts", beside, _contact(pid, LONGEST_SHARED))
    assert server_size(world, huge) > CHANGE_LIMIT
    results = world.push("officer", huge, fine)
    assert [(r["status"], r.get("code")) for r in results] == [
        ("refused", "invalid"),
        ("accepted", None),
    ]
    with world.db.admin_connect() as admin:
        kept = admin.execute(
            "SELECT count(*) FROM sim.refused_changes WHERE change_id = %s", (too_long,)
        ).fetchone()
        stored = admin.execute(
            "SELECT payload ->> 'shared_note' FROM sim.rows WHERE row_id = %s", (beside,)
        ).fetchone()
    assert kept == (0,)  # larger than the server keeps for review
    assert stored == (LONGEST_SHARED,)


def _contact(person_id: uuid.UUID, note: str) -> dict[str, Any]:
    return {
        "person_id": str(person_id),
        "started_at": "2026-11-02T10:00:00+00:00",
        "duration_minutes": 45,
        "mechanism": "01",
        "attendance": "5",
        "staff_present": "both",
        "shared_note": note,
    }


def test_many_long_notes_go_up_in_requests_the_server_takes(
    world: World, laptops: dict[str, Laptop]
):
    """Fifty longest notes are 20 MB: more than the server takes in one push (16 MB)."""
    officer, clinician = laptops["officer"], laptops["clinician"]
    ana = officer.add_person("Ana", world.pair_a)
    notes = [four_byte_text(MAX_NOTE_CHARS, offset=n) for n in range(50)]
    with officer.open() as vault:
        for note in notes:
            contacts.log_contact(vault, ana, ContactDetails(started_at=WHEN, shared_note=note))
    waiting = pending(officer)
    batches = list(protocol.push_batches(waiting))
    assert len(batches) > 2
    assert all(
        len(("[" + ",".join(b) + "]").encode("utf-8")) <= protocol.MAX_PUSH_BYTES for b in batches
    )
    report = officer.sync()
    assert (report.pushed, report.refused) == (52, 0)  # the person, its status, 50 contacts
    clinician.sync()
    with clinician.open() as vault:
        held = {c.shared_note for c in contacts.list_contacts(vault, ana)}
    assert held == set(notes)


def test_push_batches_keep_every_change_in_order_and_send_an_oversized_one_alone():
    small = [protocol.change("people", uuid.uuid4(), {"given_name": "Li"}) for _ in range(3)]
    big = protocol.change("contacts", uuid.uuid4(), {"shared_note": "x" * protocol.MAX_PUSH_BYTES})
    many = [protocol.change("people", uuid.uuid4(), {}) for _ in range(protocol.MAX_PUSH + 1)]
    batches = list(protocol.push_batches([*small, big, *small, *many]))
    sent = [json.loads(text)["change_id"] for batch in batches for text in batch]
    assert sent == [c["change_id"] for c in [*small, big, *small, *many]]
    assert [len(b) for b in batches] == [3, 1, protocol.MAX_PUSH, 4]
    assert json.loads(batches[1][0]) == big


# -- a server upgraded from 0006 -----------------------------------------------------------------


@pytest.fixture
def old_world(new_database, _team_template, tmp_path: Path) -> World:
    return build_world(
        new_database(), _team_template, tmp_path / "world", ("lead", "officer", "clinician"), "0006"
    )


def test_a_note_a_0006_server_refused_is_taken_once_it_is_upgraded(
    old_world: World, tmp_path: Path
):
    """Refused at 0006, in words that say what to do. The laptop does not send a refused
    change again by itself; Send again, as the words say, sends the very change, which 0008
    takes; and so is the note edited again."""
    make: Callable[[str], Laptop] = lambda name: laptop(old_world, name, tmp_path / "laptops")  # noqa: E731
    clinician, lead = make("clinician"), make("lead")
    clinician.sync()
    lead.sync()
    zhu = clinician.add_person("Zhu", old_world.pair_a)
    contact = clinician.log_contact(zhu, "Met at the library", clinical="Short for now")
    assert clinician.sync().refused == 0
    with clinician.open() as vault:
        details = contacts.contact_details(vault, contact)
        contacts.amend_contact(
            vault, contact, dataclasses.replace(details, clinical_note=LONGEST_CLINICAL)
        )
    report = clinician.sync()
    # The note amended alone is one change (no revision of the contact), and it is refused.
    assert (report.pushed, report.refused) == (0, 1)
    with clinician.open() as vault:
        [refused] = review.refused_changes(vault)
        with vault.read() as session:
            entry = session.execute(
                select(SyncOutboxEntry).where(SyncOutboxEntry.state == "refused")
            ).scalar_one()
            sent_before = sync._as_change(entry)
    assert "sim-desk server upgrade" in refused.why and "choose Send again" in refused.why

    newest = schema_head()
    assert newest is not None and newest >= "0008"  # a later schema keeps 0008's limit
    assert upgrade_server(old_world.db.admin) == newest
    report_after = server_report(old_world.db.admin)
    assert report_after.healthy, [f.what for f in report_after.findings if not f.ok]
    assert clinician.sync().pushed == 0  # a refused change is not sent again by itself
    with clinician.open() as vault:
        assert refused_changes.send_again(vault, [refused.id]) == 1  # Send again
    again = clinician.sync()
    assert (again.pushed, again.refused) == (1, 0)
    with old_world.db.admin_connect() as admin:  # the very change, with its own id
        found = admin.execute(
            "SELECT count(*) FROM sim.changes WHERE change_id = %s", (sent_before["change_id"],)
        ).fetchone()
    assert found == (1,)
    lead.sync()
    with lead.open() as vault:
        assert contacts.read_clinical_note(vault, contact) == LONGEST_CLINICAL

    edited = LONGEST_CLINICAL[:-1] + "."
    with clinician.open() as vault:
        details = contacts.contact_details(vault, contact)
        contacts.amend_contact(vault, contact, dataclasses.replace(details, clinical_note=edited))
    assert clinician.sync().refused == 0
    lead.sync()
    with lead.open() as vault:
        assert contacts.read_clinical_note(vault, contact) == edited
