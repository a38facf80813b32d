"""A pull page can never grow too large for PostgreSQL (schema 0008).

A change may be up to 2 MiB, and a person's rows together far more. sim.pull answers one jsonb
value (at most 268,435,455 bytes), so a page stops at a byte budget as well as at its count of
changes: 32 MiB by default, and a laptop may ask for less, which these tests do so as to show
many pages without pushing hundreds of megabytes.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sim_desk.records import contacts, sync, visits
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.validation import MAX_NOTE_CHARS
from sim_desk.teamserver import protocol
from tests.teamserver.conftest import World, person
from tests.teamserver.laptops import Laptop, laptop
from tests.teamserver.test_change_size import four_byte_text

MIB = 1024 * 1024
#: The server's own budget, and the most a device may ask for.
SERVER_BUDGET = 32 * MIB
WHEN = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)


def rows_size(page: dict[str, Any]) -> int:
    """The bytes of a page's snapshot rows and changes, as the server's JSON text has them."""
    return len(json.dumps(page["snapshots"] + page["changes"], ensure_ascii=False).encode("utf-8"))


def within_budget(page: dict[str, Any], budget: int) -> bool:
    """Under the budget, or a single row (one larger than the budget still goes, alone)."""
    return rows_size(page) <= budget or len(page["snapshots"]) + len(page["changes"]) == 1


def contact_payload(person_id: uuid.UUID, note: str) -> dict[str, Any]:
    return {
        "person_id": str(person_id),
        "started_at": "2026-11-02T10:00:00+00:00",
        "duration_minutes": 45,
        "mechanism": "01",
        "attendance": "5",
        "staff_present": "both",
        "shared_note": note,
    }


def long_notes(world: World, person_id: uuid.UUID, count: int, chars: int) -> list[str]:
    """``count`` contacts about ``person_id``, each with its own note of ``chars`` four-byte
    characters, pushed by the officer's device; their change ids."""
    built = [
        protocol.change(
            "contacts", uuid.uuid4(), contact_payload(person_id, four_byte_text(chars, offset=n))
        )
        for n in range(count)
    ]
    results = world.push("officer", *built)
    assert [r["status"] for r in results] == ["accepted"] * count
    return [c["change_id"] for c in built]


def pull_all(
    world: World, name: str, after: int, budget: int | None, max_changes: int = 1000
) -> list[dict[str, Any]]:
    """Every page from ``after`` on, as a laptop asks for them (each in a transaction of its
    own, committed), up to the first that says no more."""
    pages: list[dict[str, Any]] = []
    with protocol.device_connection(world.devices[name]) as conn:
        while True:
            with conn.transaction():
                page = protocol.pull(conn, after, max_changes, budget)
            pages.append(page)
            after = int(page["cursor"])
            if not page["more"]:
                return pages
            assert len(pages) < 200, "pull did not come to an end"


def new_person(world: World, given: str) -> uuid.UUID:
    pid = uuid.uuid4()
    made = protocol.change("people", pid, person(world.pair_a, given, None))
    [answer] = world.push("officer", made)
    assert answer["status"] == "accepted"
    return pid


def test_many_long_changes_come_in_pages_under_the_budget_each_change_once(world: World):
    """Twelve changes of 400 KB for a person the clinician holds, in pages of 1 MiB: each page
    under it, the cursor moving on from the last change sent, every change there once."""
    ana = new_person(world, "Ana")
    [start] = pull_all(world, "clinician", 0, None)  # the replica: everyone, as snapshots
    sent = long_notes(world, ana, 12, MAX_NOTE_CHARS)

    pages = pull_all(world, "clinician", start["cursor"], MIB)

    assert len(pages) >= 6  # two notes of 400 KB to a page at most
    assert all(within_budget(p, MIB) for p in pages), [rows_size(p) for p in pages]
    received = [c["change_id"] for p in pages for c in p["changes"]]
    assert Counter(received) == Counter(sent)  # each change once, nothing else
    seqs = [c["seq"] for p in pages for c in p["changes"]]
    assert seqs == sorted(seqs)
    for page in pages[:-1]:  # each page's cursor is its last change: the next goes on from it
        assert page["more"] and page["cursor"] == page["changes"][-1]["seq"]
    assert pages[-1]["cursor"] >= seqs[-1]


def test_a_budget_below_one_row_sends_one_row_and_none_is_the_servers_own(world: World):
    """Whatever a device asks for, every page moves on: at least one change goes."""
    ed = new_person(world, "Ed")
    [start] = pull_all(world, "clinician", 0, None)
    sent = long_notes(world, ed, 3, 1_000)
    with protocol.device_connection(world.devices["clinician"]) as conn:
        for budget in (-5, 0, 1):
            with conn.transaction(force_rollback=True):  # the same page for each budget
                page = protocol.pull(conn, start["cursor"], 1000, budget)
            assert [c["change_id"] for c in page["changes"]] == sent[:1] and page["more"]
        page = conn.execute("SELECT sim.pull(%s, 1000, NULL)", (start["cursor"],)).fetchone()
    assert page is not None
    assert [c["change_id"] for c in page[0]["changes"]] == sent and not page[0]["more"]


def test_a_count_cut_and_a_byte_cut_both_leave_nothing_out(world: World):
    """Small changes cut by count, long ones by bytes, in one run of pages."""
    bo = new_person(world, "Bo")
    [start] = pull_all(world, "clinician2", 0, None)
    moved = protocol.change("people", bo, {"pair_id": str(world.pair_b)})  # now pair B's
    world.push("lead", moved)
    short = [
        protocol.change("contacts", uuid.uuid4(), contact_payload(bo, f"Short note {n}"))
        for n in range(7)
    ]
    assert {r["status"] for r in world.push("lead", *short)} == {"accepted"}
    long = long_notes_by(world, "lead", bo, 5)

    pages = pull_all(world, "clinician2", start["cursor"], MIB, max_changes=3)

    received = [c["change_id"] for p in pages for c in p["changes"]]
    expected = [moved["change_id"], *(c["change_id"] for c in short), *long]
    assert Counter(received) == Counter(expected)
    assert len(pages) >= 5 and all(within_budget(p, MIB) and len(p["changes"]) <= 3 for p in pages)


def long_notes_by(world: World, name: str, person_id: uuid.UUID, count: int) -> list[str]:
    built = [
        protocol.change(
            "contacts",
            uuid.uuid4(),
            contact_payload(person_id, four_byte_text(MAX_NOTE_CHARS, offset=100 + n)),
        )
        for n in range(count)
    ]
    assert {r["status"] for r in world.push(name, *built)} == {"accepted"}
    return [c["change_id"] for c in built]


def test_a_newly_visible_persons_rows_span_pages_and_changes_wait_for_them(world: World):
    """A person new to the clinician, with ten long notes (four clinician-only): their
    snapshot goes over several pages, marked on the server; no change goes (and the cursor
    stays) until it is whole, and a note changed half-way arrives afterwards as a change."""
    [start] = pull_all(world, "clinician", 0, None)
    cy = new_person(world, "Cy")
    long_notes(world, cy, 6, MAX_NOTE_CHARS)
    # Clinician-only notes of the largest size too (400,037 bytes of ciphertext each).
    clinical = [
        protocol.change(
            "contacts",
            uuid.uuid4(),
            contact_payload(cy, "Seen at home"),
            clinical={"clinical_note": (os.urandom(400_037), 1)},
        )
        for _ in range(4)
    ]
    assert {r["status"] for r in world.push("clinician", *clinical)} == {"accepted"}
    with world.db.admin_connect() as admin:
        on_server = {
            str(r[0])
            for r in admin.execute("SELECT row_id FROM sim.rows WHERE person_id = %s", (cy,))
        }
    first: list[dict[str, Any]] = []
    after = start["cursor"]
    with protocol.device_connection(world.devices["clinician"]) as conn:
        for _ in range(2):  # two pages of the snapshot, then a change made meanwhile
            with conn.transaction():
                page = protocol.pull(conn, after, 1000, MIB)
            first.append(page)
            after = page["cursor"]
    some_contact = next(
        s["row_id"] for p in first for s in p["snapshots"] if s["table"] == "contacts"
    )
    edit = protocol.change("contacts", uuid.UUID(some_contact), {"shared_note": "Rewritten"})
    world.push("officer", edit)

    pages = first + pull_all(world, "clinician", after, MIB)

    snapshot_rows = [s["row_id"] for p in pages for s in p["snapshots"]]
    assert Counter(snapshot_rows) == Counter(on_server)  # every row once, over several pages
    spanned = [p for p in pages if any(s["person_id"] == str(cy) for s in p["snapshots"])]
    assert len(spanned) >= 4
    ciphertexts = [
        s["clinical"]["clinical_note"]["ciphertext"]
        for p in pages
        for s in p["snapshots"]
        if "clinical" in s
    ]
    assert len(ciphertexts) == 4 and all(len(c) == 533_384 for c in ciphertexts)
    assert all(within_budget(p, MIB) for p in pages)
    for page in spanned[:-1]:  # half a person held: no changes, the cursor where it was
        assert page["changes"] == [] and page["cursor"] == start["cursor"] and page["more"]
    later = [c for p in pages for c in p["changes"]]
    assert edit["change_id"] in [c["change_id"] for c in later]
    with world.db.admin_connect() as admin:
        marks = admin.execute(
            "SELECT count(*) FROM sim.device_people WHERE snapshot_row IS NOT NULL"
        ).fetchone()
    assert marks == (0,)  # every snapshot finished


def test_the_server_keeps_a_page_to_32_mib_whatever_a_device_asks(world: World):
    """Twenty changes of nearly 2 MiB (38 MB) asked for in one page of a gigabyte."""
    di = new_person(world, "Di")
    [start] = pull_all(world, "clinician", 0, None)
    sent = long_notes(world, di, 20, 475_000)  # 1.9 MB each: under the 2 MiB a change may be

    pages = pull_all(world, "clinician", start["cursor"], 10**9)

    assert len(pages) == 2
    assert all(within_budget(p, SERVER_BUDGET) for p in pages)
    received = [c["change_id"] for p in pages for c in p["changes"]]
    assert Counter(received) == Counter(sent)


# -- a laptop -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def laptops(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Laptop]:
    folder = tmp_path_factory.mktemp("laptops")
    machines = {name: laptop(world, name, folder) for name in ("officer", "lead")}
    for machine in machines.values():
        machine.sync()
    return machines


def test_a_leads_laptop_after_a_busy_day_of_long_notes_catches_up_in_pages(
    world: World, laptops: dict[str, Laptop], monkeypatch: pytest.MonkeyPatch
):
    """Long notes about a person the lead holds and a new person with long notes of their own:
    the lead's laptop takes them in many pages, and holds every note exactly as written."""
    officer, lead = laptops["officer"], laptops["lead"]
    eve = officer.add_person("Eve", world.pair_a)
    officer.sync()
    lead.sync()  # the lead holds Eve
    notes = {n: four_byte_text(MAX_NOTE_CHARS, offset=200 + n) for n in range(14)}
    written: dict[uuid.UUID, str] = {}
    fay = officer.add_person("Fay", world.pair_a)  # new to the lead: a snapshot
    with officer.open() as vault:
        for n, note in notes.items():
            about = eve if n < 9 else fay
            written[contacts.log_contact(vault, about, details(note))] = note
    officer.sync()

    pages: list[dict[str, Any]] = []
    real_pull: Callable[..., dict[str, Any]] = protocol.pull

    def keep_pages(*args: Any, **kwargs: Any) -> dict[str, Any]:
        page = real_pull(*args, **kwargs)
        pages.append(page)
        return page

    monkeypatch.setattr(protocol, "PULL_PAGE_BYTES", MIB)
    monkeypatch.setattr(protocol, "pull", keep_pages)
    report = lead.sync()

    assert report.pages >= len(pages) >= 7 and report.held == 0
    assert all(within_budget(p, MIB) for p in pages)
    seen = Counter(c["change_id"] for p in pages for c in p["changes"])
    assert max(seen.values()) == 1  # no change sent twice
    with lead.open() as vault:
        held = {
            c.id: c.shared_note for who in (eve, fay) for c in contacts.list_contacts(vault, who)
        }
    assert held == written
    with lead.open() as vault:
        cursor_after = sync.cursor(vault)
    with world.db.admin_connect() as admin:
        last = admin.execute("SELECT last_seq FROM sim.team").fetchone()
    assert last is not None and cursor_after == last[0]


def details(note: str) -> ContactDetails:
    return ContactDetails(started_at=WHEN, shared_note=note)


def test_contacts_and_the_visits_they_record_arrive_whole_when_a_person_spans_pages(
    world: World, laptops: dict[str, Laptop], monkeypatch: pytest.MonkeyPatch
):
    """A contact may point to a planned visit in the same depth below the person, which the
    cut can put in a later page: the contact waits on the laptop and goes in with its visit,
    and nothing is left held at the end."""
    officer, lead = laptops["officer"], laptops["lead"]
    gus = officer.add_person("Gus", world.pair_a)
    with officer.open() as vault:
        first = datetime(2026, 9, 1, 10, tzinfo=UTC)
        visits.plan_visits(vault, gus, visits.PlanDetails("weekly", first, occurrences=6))
        planned = [v.id for v in visits.list_planned_visits(vault, gus)]
        made = {
            contacts.log_contact(
                vault,
                gus,
                ContactDetails(
                    started_at=first + timedelta(days=7 * n),
                    shared_note=four_byte_text(MAX_NOTE_CHARS // 2, offset=300 + n),
                    planned_visit_id=visit,
                ),
            ): visit
            for n, visit in enumerate(planned)
        }
    officer.sync()

    monkeypatch.setattr(protocol, "PULL_PAGE_BYTES", MIB // 2)
    report = lead.sync()

    assert report.pages >= 4
    with lead.open() as vault:
        linked = {c.id: c.planned_visit_id for c in contacts.list_contacts(vault, gus)}
        done = {v.id: v.status for v in visits.list_planned_visits(vault, gus)}
    assert linked == made
    assert set(done) == set(planned) and {str(s) for s in done.values()} == {"done"}
    assert lead.status().held == 0
