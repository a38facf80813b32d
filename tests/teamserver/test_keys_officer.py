"""What an officer's device gets of clinical notes (issue 20), read straight off the wire of the
real PostgreSQL: nothing, not even a field naming one; and a change from an officer that does
not carry a note leaves the clinician's note as it was, on the server and on the clinician's
laptop ("missing" means "unchanged", never "emptied")."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from sim_desk.records import contacts
from sim_desk.records.clinical_epochs import MAGIC
from sim_desk.records.errors import PermissionDenied
from sim_desk.records.model import AuditEvent, Contact, ContactRevision, SyncRow
from sim_desk.records.sync import review
from sim_desk.records.sync.outbox import NEVER_RECEIVED, note_epoch
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.audit import Action
from sim_desk.teamserver import protocol
from tests.teamserver.conftest import ServerDatabase, World, build_world
from tests.teamserver.laptops import Laptop, laptop

CANARY = "Canary-officer-never-Marchpane-3390"


def _amend(
    vault: UnlockedVault, contact: uuid.UUID, reason: str | None = None, **changes: Any
) -> None:
    """The contact amended as its form does: its details as they are, with ``changes``."""
    details = contacts.contact_details(vault, contact)
    contacts.amend_contact(vault, contact, dataclasses.replace(details, **changes), reason=reason)


@dataclass
class OfficerWorld:
    world: World
    laptops: dict[str, Laptop]
    contact: uuid.UUID
    ciphertext: bytes


@pytest.fixture(scope="module")
def ow(
    new_database: Callable[[], ServerDatabase],
    _team_template: tuple[Path, str, uuid.UUID, uuid.UUID],
    tmp_path_factory: pytest.TempPathFactory,
) -> OfficerWorld:
    folder = tmp_path_factory.mktemp("officer")
    world = build_world(new_database(), _team_template, folder)
    machines = {n: laptop(world, n, folder) for n in ("lead", "officer", "clinician")}
    for machine in machines.values():
        machine.sync()
    person = machines["officer"].add_person("Osei", world.pair_a, "9434765870")
    machines["officer"].sync()
    machines["clinician"].sync()
    contact = machines["clinician"].log_contact(person, "shared words", clinical=CANARY)
    machines["clinician"].sync()
    machines["officer"].sync()
    with machines["clinician"].open() as vault, vault.read() as session:
        blob = session.execute(
            select(Contact.clinical_note).where(Contact.id == contact)
        ).scalar_one()
    assert blob is not None
    return OfficerWorld(world, machines, contact, blob)


def _clinical_anywhere(doc: Any, *, clocks: bool = False) -> list[str]:
    """Every key in a JSON document that carries clinical text (``clocks``: also the fields'
    clocks, which say only that a note was set, and when)."""
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "clocks" and not clocks:
                continue
            if key in ("clinical", "clinical_note", "ciphertext"):
                found.append(key)
            found += _clinical_anywhere(value, clocks=clocks)
    elif isinstance(doc, list):
        for item in doc:
            found += _clinical_anywhere(item, clocks=clocks)
    return found


def _wire(ow: OfficerWorld, name: str) -> tuple[dict[str, Any], list[protocol.SnapshotRow]]:
    with protocol.device_connection(ow.world.devices[name]) as conn:
        pulled = protocol.pull(conn, 0, 1000)
    with (
        protocol.device_connection(ow.world.devices[name]) as conn,
        protocol.snapshot(conn) as (_head, rows),
    ):
        snapshot = list(rows)
    return pulled, snapshot


def test_an_officers_pull_and_snapshot_carry_no_clinical_field_at_all(ow: OfficerWorld) -> None:
    encodings = [
        ow.ciphertext.hex(),
        base64.b64encode(ow.ciphertext).decode(),
        base64.b64encode(ow.ciphertext[12:40]).decode()[:24],
    ]
    # The clinician's own device does receive it: the checks below can see it when it is there.
    pulled, snapshot = _wire(ow, "clinician")
    text = json.dumps(pulled, default=str)
    assert _clinical_anywhere(pulled) and any(e in text for e in encodings[:2])
    assert any(r.row_id == ow.contact and r.clinical for r in snapshot)

    pulled, snapshot = _wire(ow, "officer")
    assert any(s.get("row_id") == str(ow.contact) for s in pulled.get("snapshots", [])) or any(
        r.row_id == ow.contact for r in snapshot
    ), "the officer sees the contact itself (its shared part)"
    assert _clinical_anywhere(pulled) == []
    text = json.dumps(pulled, default=str)
    for row in snapshot:
        assert row.clinical is None
        assert _clinical_anywhere(row.payload) == []
        text += json.dumps(row.payload, default=str)
    assert CANARY not in text
    for encoded in encodings:
        assert encoded not in text


def test_an_officers_pull_does_not_even_say_when_a_note_was_written(ow: OfficerWorld) -> None:
    # The clinician's device gets the note's clock: the checks below would see it.
    pulled, snapshot = _wire(ow, "clinician")
    assert _clinical_anywhere(pulled, clocks=True)
    assert any("clinical_note" in (row.clocks or {}) for row in snapshot)

    pulled, snapshot = _wire(ow, "officer")
    assert _clinical_anywhere(pulled, clocks=True) == []
    for row in snapshot:
        assert "clinical_note" not in (row.clocks or {})
    # Nor does the officer's laptop hold one (what it keeps of each row's clocks and hashes).
    officer = ow.laptops["officer"]
    officer.sync()
    with officer.open() as vault, vault.read() as session:
        shadow = session.get(SyncRow, ow.contact)
        assert shadow is not None and "clinical_note" not in shadow.clocks
        assert shadow.hashes.get("clinical_note", NEVER_RECEIVED) == NEVER_RECEIVED


def test_an_officers_change_without_the_note_leaves_it_unchanged(ow: OfficerWorld) -> None:
    def on_server() -> tuple[Any, ...] | None:
        with ow.world.db.admin_connect(autocommit=True) as admin:
            return admin.execute(
                "SELECT ciphertext, key_epoch FROM sim.clinical_fields WHERE row_id = %s",
                (ow.contact,),
            ).fetchone()

    before = on_server()
    assert before is not None and bytes(before[0]) == ow.ciphertext
    # Straight onto the wire: only the shared note, no clinical part at all.
    ow.world.push(
        "officer",
        protocol.change("contacts", ow.contact, {"shared_note": "officer's later words"}),
    )
    # And from the officer's laptop, whose replica has no note: an ordinary edit.
    officer = ow.laptops["officer"]
    officer.sync()
    with officer.open() as vault:
        with vault.read() as session:
            mine = session.get(Contact, ow.contact)
            assert mine is not None and mine.clinical_note is None  # the officer has none
        _amend(vault, ow.contact, reason="place added", place="Station")
    officer.sync()
    after = on_server()
    assert after is not None and bytes(after[0]) == ow.ciphertext and after[1] == before[1]
    clinician = ow.laptops["clinician"]
    clinician.sync()
    with clinician.open() as vault:
        assert contacts.read_clinical_note(vault, ow.contact) == CANARY
        with vault.read() as session:
            row = session.get(Contact, ow.contact)
            assert row is not None
            assert row.clinical_note == ow.ciphertext
            assert row.place == "Station" and row.shared_note == "officer's later words"


def test_an_officer_can_neither_start_a_clinical_epoch_nor_wrap_a_clinical_key(
    ow: OfficerWorld,
) -> None:
    officer = ow.world.devices["officer"].device_id
    with ow.world.connect("officer") as conn:
        state = conn.execute("SELECT sim.key_state()").fetchone()
        assert state is not None
        assert [w for w in state[0]["wraps"] if w["kind"] == "clinical"] == []
        item = {
            "kind": "clinical",
            "epoch": 1,
            "device": str(officer),
            "wrapped": base64.b64encode(b"x" * 92).decode(),
        }
        for query, params in (
            ("SELECT sim.new_key_epoch('clinical', 99, %s)", (json.dumps([item]),)),
            ("SELECT sim.put_wraps(%s)", (json.dumps([item]),)),
        ):
            try:
                conn.execute(query, params)
            except psycopg.Error as refused:  # refused outright, or taken as nothing (below)
                assert refused.sqlstate == "42501", (query, refused.sqlstate)
    with ow.world.db.admin_connect(autocommit=True) as admin:
        got = admin.execute(
            "SELECT (SELECT count(*) FROM sim.key_wraps WHERE device_id = %s OR epoch = 99),"
            " (SELECT count(*) FROM sim.team_keys WHERE epoch = 99)",
            (officer,),
        ).fetchone()
    assert got == (0, 0)


def test_a_note_written_later_reaches_an_officer_as_nothing_at_all(ow: OfficerWorld) -> None:
    """After the first sync too: a clinician's new or amended note, or a change that sets
    only the note, tells an officer's device neither that it happened nor when."""
    clinician = ow.laptops["clinician"]
    with clinician.open() as vault, vault.read() as session:
        person = session.execute(
            select(Contact.person_id).where(Contact.id == ow.contact)
        ).scalar_one()
    after = ow.world.pull("officer")["cursor"]
    clinician_after = ow.world.pull("clinician")["cursor"]
    contact = clinician.log_contact(person, "later shared words", clinical="first words")
    clinician.sync()
    with clinician.open() as vault:
        _amend(vault, contact, reason="r", clinical_note="second words")
    clinician.sync()
    with clinician.open() as vault, vault.read() as session:
        blob = session.execute(
            select(Contact.clinical_note).where(Contact.id == contact)
        ).scalar_one()
    note_only = protocol.change(
        "contacts", contact, {}, clinical={"clinical_note": (blob, note_epoch(blob))}
    )
    assert ow.world.push("clinician", note_only)[0]["status"] == "accepted"

    # The clinician's device gets all of it: the checks below would see it.
    theirs = ow.world.pull("clinician", clinician_after)["changes"]
    assert any(c["change_id"] == note_only["change_id"] for c in theirs)
    assert any("clinical_note" in (c.get("base") or {}) for c in theirs)

    mine = ow.world.pull("officer", after)["changes"]
    assert any(c["row_id"] == str(contact) for c in mine), "the contact itself arrives"
    assert _clinical_anywhere(mine, clocks=True) == []
    assert all(c["change_id"] != note_only["change_id"] for c in mine)
    assert all(c["op"] == "delete" or c["payload"] for c in mine)


def _size_as_sent(ow: OfficerWorld, change: dict[str, Any]) -> int:
    """A change's size as the server counts it for a page (sim.pull): 512 for its envelope,
    and the JSON text of the payload and base this device is sent."""
    with ow.world.db.admin_connect(autocommit=True) as admin:
        row = admin.execute(
            "SELECT 512 + coalesce(octet_length(%s::jsonb::text), 0)"
            " + coalesce(octet_length(%s::jsonb::text), 0)",
            (
                json.dumps(change["payload"]) if change.get("payload") is not None else None,
                json.dumps(change["base"]) if change.get("base") is not None else None,
            ),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_an_officer_cannot_measure_a_note_by_the_size_of_a_page(ow: OfficerWorld) -> None:
    """The caller chooses a page's byte budget. Were a change sized with what an officer is not
    sent (the note's clock in its base), a budget of exactly what it is sent would cut it."""
    clinician = ow.laptops["clinician"]
    after = ow.world.pull("officer")["cursor"]
    clinician_after = ow.world.pull("clinician")["cursor"]
    with clinician.open() as vault:
        _amend(
            vault,
            ow.contact,
            reason="place and note",
            place="Clinic",
            clinical_note="amended words",
        )
    clinician.sync()
    theirs = ow.world.pull("clinician", clinician_after)["changes"]
    assert any(
        c["row_id"] == str(ow.contact) and "clinical_note" in (c.get("base") or {}) for c in theirs
    ), "the change's base holds the note's clock on the server"

    mine = ow.world.pull("officer", after)["changes"]
    assert any(c["row_id"] == str(ow.contact) for c in mine)
    budget = sum(_size_as_sent(ow, c) for c in mine)
    with protocol.device_connection(ow.world.devices["officer"]) as conn:
        exact = protocol.pull(conn, after, len(mine), max_bytes=budget)
        short = protocol.pull(conn, after, len(mine), max_bytes=budget - 1)
    assert [c["seq"] for c in exact["changes"]] == [c["seq"] for c in mine]
    assert len(short["changes"]) == len(mine) - 1  # the budget is counted to the byte


def test_the_latest_note_still_wins_around_an_officers_edits(ow: OfficerWorld) -> None:
    """Last writer wins for the note between clinical laptops, whatever officers edit in
    between without its clock: the clinician's newest note is the one the lead reads."""
    officer, clinician, lead = ow.laptops["officer"], ow.laptops["clinician"], ow.laptops["lead"]
    for machine in (clinician, officer):
        machine.sync()
    with clinician.open() as vault:
        _amend(vault, ow.contact, reason="a", clinical_note="older words")
    with officer.open() as vault:  # offline meanwhile: a shared edit, no note
        _amend(vault, ow.contact, reason="b", place="Home visit")
    with clinician.open() as vault:
        _amend(vault, ow.contact, reason="c", clinical_note="newest words")
    clinician.sync()
    officer.sync()
    clinician.sync()
    lead.sync()
    for machine in (clinician, lead):
        with machine.open() as vault:
            assert contacts.read_clinical_note(vault, ow.contact) == "newest words"
            assert contacts.contact_details(vault, ow.contact).place == "Home visit"
    with officer.open() as vault, vault.read() as session:
        mine = session.get(Contact, ow.contact)
        assert mine is not None and mine.clinical_note is None and mine.place == "Home visit"


def _officers_view(laptop: Laptop, contact: uuid.UUID) -> tuple[Any, ...]:
    """A contact as an officer's laptop holds it: its row and its revisions, every column."""
    with laptop.open() as vault, vault.read() as session:
        row = session.execute(select(Contact.__table__).where(Contact.id == contact)).one()
        revisions = session.execute(
            select(ContactRevision.__table__).where(ContactRevision.contact_id == contact)
        ).all()
    return tuple(row), sorted(tuple(r) for r in revisions)


def test_a_clinicians_amendment_of_the_note_alone_reaches_an_officer_as_nothing(
    ow: OfficerWorld,
) -> None:
    """Made in the app (contacts.amend_contact), not put on the wire by hand: the contact's
    revision, updated_at and revisions stay as they were, so the officer's pull does not name
    the contact at all, while the lead's laptop gets the new note and the one it replaced."""
    officer, clinician, lead = ow.laptops["officer"], ow.laptops["clinician"], ow.laptops["lead"]
    for machine in (clinician, officer, lead):
        machine.sync()
    before = _officers_view(officer, ow.contact)
    after = ow.world.pull("officer")["cursor"]
    with clinician.open() as vault:
        replaced = contacts.read_clinical_note(vault, ow.contact)
        _amend(
            vault, ow.contact, reason="clearer words", clinical_note="Replaced, by the note alone"
        )
    clinician.sync()

    mine = ow.world.pull("officer", after)
    assert mine["cursor"] > after, "the officer's cursor moves past the change"
    assert [c for c in mine["changes"] if c["table"].startswith("contact")] == []
    officer.sync()
    assert _officers_view(officer, ow.contact) == before

    lead.sync()
    with lead.open() as vault:
        assert contacts.read_clinical_note(vault, ow.contact) == "Replaced, by the note alone"
        *_, earlier = [h for h in contacts.contact_history(vault, ow.contact) if h.earlier_note]
        assert earlier.reason == "clearer words"
        assert earlier.earlier_note is not None
        assert contacts.read_earlier_note(vault, ow.contact, earlier.earlier_note) == replaced


def test_two_clinicians_amending_the_note_alone_at_once_lose_no_words_and_show_no_ciphertext(
    ow: OfficerWorld,
) -> None:
    """Two clinical laptops amend one contact's note offline. The later clock wins on every
    laptop; the other laptop lists its own note as replaced, in words (never its ciphertext),
    reads it (audited) and can put it back as an amendment of its own, which then wins."""
    clinician, lead = ow.laptops["clinician"], ow.laptops["lead"]
    for machine in (clinician, lead):
        machine.sync()
    for machine, words in ((lead, "The lead's words"), (clinician, "The clinician's words")):
        with machine.open() as vault:
            _amend(vault, ow.contact, clinical_note=words)
    for machine in (lead, clinician, lead):
        machine.sync()
    with clinician.open() as vault:
        winner = contacts.read_clinical_note(vault, ow.contact)
    loser = lead if winner == "The clinician's words" else clinician
    lost = "The lead's words" if loser is lead else "The clinician's words"
    with loser.open() as vault:
        assert contacts.read_clinical_note(vault, ow.contact) == winner
        changes = review.changes_from_elsewhere(vault)
        [change] = [c for c in changes if any(v.clinical for v in c.values)]
        [value] = change.values
        assert (value.words, value.mine, value.now, value.clinical) == (
            "clinician-only note",
            "(a clinician-only note)",
            "(a clinician-only note)",
            True,
        )
        # a framed note's ciphertext starts b"SIMK\x01", "U0lNSwE" in base64
        shown = repr(change)
        assert MAGIC.decode()[:4] not in shown and base64.b64encode(MAGIC).decode()[:6] not in shown
        assert review.read_overwritten_note(vault, change.id) == lost
        with vault.read() as session:
            entry = session.execute(
                select(
                    AuditEvent.action,
                    AuditEvent.entity_type,
                    AuditEvent.entity_id,
                    AuditEvent.detail,
                )
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            ).one()
        # ids only, never the words
        assert tuple(entry) == (
            Action.VIEW,
            "clinical_note",
            ow.contact,
            {"overwritten": str(change.id)},
        )
        assert review.restore_my_values(vault, change.id) == ["clinical_note"]
        assert contacts.read_clinical_note(vault, ow.contact) == lost
    for machine in (loser, clinician if loser is lead else lead):
        machine.sync()
        with machine.open() as vault:
            assert contacts.read_clinical_note(vault, ow.contact) == lost
    with ow.laptops["officer"].open() as vault, pytest.raises(PermissionDenied):
        review.read_overwritten_note(vault, uuid.uuid4())
