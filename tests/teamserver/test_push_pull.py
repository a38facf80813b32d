"""Push and pull as laptops use them: who sees what, idempotency, ordering, refusals."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from sim_desk.teamserver import protocol
from tests.teamserver.conftest import World, person


def rows_seen(world: World, name: str) -> set[str]:
    """The rows a fresh replica of ``name``'s laptop gets (pull from 0: snapshots, then any
    changes)."""
    page = world.pull(name)
    return {c["row_id"] for c in page["snapshots"] + page["changes"]}


def without_id(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "change_id"}


def contact(person_id: uuid.UUID, note: str = "Met at the library") -> dict[str, Any]:
    return {
        "person_id": str(person_id),
        "started_at": "2026-11-02T10:00:00+00:00",
        "duration_minutes": 45,
        "mechanism": "01",
        "attendance": "5",
        "staff_present": "both",
        "shared_note": note,
    }


@pytest.fixture(scope="module")
def people(world: World) -> dict[str, uuid.UUID]:
    """One person on each pair's caseload."""
    a, b = uuid.uuid4(), uuid.uuid4()
    assert (
        world.push(
            "officer", protocol.change("people", a, person(world.pair_a, "Aisha", "9434765870"))
        )[0]["status"]
        == "accepted"
    )
    assert (
        world.push(
            "officer2",
            protocol.change(
                "people",
                b,
                person(world.pair_b, "Bartek", "9434765889", police_reference="MPS-B-1"),
            ),
        )[0]["status"]
        == "accepted"
    )
    return {"a": a, "b": b}


def test_officer_pushes_a_person_and_only_the_pair_and_the_lead_pull_it(world: World):
    pid = uuid.uuid4()
    results = world.push(
        "officer", protocol.change("people", pid, person(world.pair_a, "Ada", None))
    )
    assert results[0]["status"] == "accepted", results
    assert str(pid) in rows_seen(world, "clinician")
    assert str(pid) in rows_seen(world, "lead")
    assert str(pid) not in rows_seen(world, "officer2")
    assert str(pid) not in rows_seen(world, "clinician2")
    page = world.pull("analyst")
    shaped = [r for r in page["snapshots"] + page["changes"] if r["row_id"] == str(pid)]
    assert shaped and all("given_name" not in r["payload"] for r in shaped)


def test_clinical_ciphertext_reaches_clinical_devices_only(world: World, people):
    cid = uuid.uuid4()
    secret_blob = b"\x01" * 12 + b"ciphertext-bytes-here"
    results = world.push(
        "clinician",
        protocol.change(
            "contacts", cid, contact(people["a"]), clinical={"clinical_note": (secret_blob, 1)}
        ),
    )
    assert results[0]["status"] == "accepted", results

    def the_change(name: str) -> dict[str, Any] | None:
        page = world.pull(name)
        return next(
            (c for c in page["snapshots"] + page["changes"] if c["row_id"] == str(cid)), None
        )

    for clinical_device in ("clinician", "lead"):  # the lead is a clinical lead
        got = the_change(clinical_device)
        assert got is not None and got["clinical"]["clinical_note"]["epoch"] == 1
    officer_view = the_change("officer")
    assert officer_view is not None and "clinical" not in officer_view
    assert "clinical_note" not in officer_view["payload"]
    assert the_change("officer2") is None and the_change("clinician2") is None


def test_officers_cannot_write_clinical_text_in_either_part(world: World, people):
    blob = (b"x" * 20, 1)
    as_clinical = protocol.change(
        "contacts", uuid.uuid4(), contact(people["a"]), clinical={"clinical_note": blob}
    )
    in_payload = protocol.change(
        "contacts", uuid.uuid4(), {**contact(people["a"]), "clinical_note": "aGVsbG8="}
    )
    first, second = world.push("officer", as_clinical, in_payload)
    assert (first["status"], first["code"]) == ("refused", "not_permitted")
    assert (second["status"], second["code"]) == ("refused", "invalid")


def test_a_retried_change_is_answered_again_and_stored_once(world: World, people):
    change = protocol.change("contacts", uuid.uuid4(), contact(people["a"]))
    first = world.push("officer", change)[0]
    again = world.push("officer", change)[0]
    assert first["status"] == "accepted"
    assert again == {**first, "status": "duplicate"}
    with world.db.admin_connect() as admin:
        count = admin.execute(
            "SELECT count(*) FROM sim.changes WHERE change_id = %s", (change["change_id"],)
        ).fetchone()
    assert count == (1,)


def test_another_devices_change_replayed_is_refused_and_changes_nothing(world: World, people):
    change = protocol.change("contacts", uuid.uuid4(), contact(people["a"]))
    world.push("officer", change)
    replay = world.push("clinician", change)[0]  # same pair: it may see the change, not own it
    assert (replay["status"], replay["code"]) == ("refused", "not_permitted")
    replay = world.push("officer2", change)[0]  # another pair
    assert (replay["status"], replay["code"]) == ("refused", "not_permitted")


def test_refusals_do_not_tell_whether_a_person_exists_on_another_caseload(world: World, people):
    nobody = uuid.uuid4()
    # A contact for another pair's person, and for a person who does not exist.
    elsewhere = world.push(
        "officer", protocol.change("contacts", uuid.uuid4(), contact(people["b"]))
    )
    missing = world.push("officer", protocol.change("contacts", uuid.uuid4(), contact(nobody)))
    assert (
        without_id(elsewhere[0])
        == without_id(missing[0])
        == {"status": "refused", "code": "not_permitted"}
    )
    # Deleting another pair's person, and deleting no one.
    elsewhere = world.push("officer", protocol.change("people", people["b"], None, op="delete"))
    missing = world.push("officer", protocol.change("people", nobody, None, op="delete"))
    assert without_id(elsewhere[0]) == without_id(missing[0])
    # Taking another pair's person over (an upsert of their row into this pair).
    taken = world.push(
        "officer", protocol.change("people", people["b"], person(world.pair_a, "X", None))
    )
    assert without_id(taken[0]) == {"status": "refused", "code": "not_permitted"}
    assert str(people["b"]) not in rows_seen(world, "officer")


def test_the_same_nhs_number_on_another_caseload_is_accepted_and_shown_to_the_lead(
    world: World, people
):
    # NHS numbers are unique: refusing this one would tell the officer that someone on another
    # caseload has it. It is accepted like any other, and the lead gets a merge proposal.
    twin, fresh = uuid.uuid4(), uuid.uuid4()
    twin_result = world.push(
        "officer", protocol.change("people", twin, person(world.pair_a, "Bart", "9434765889"))
    )
    fresh_result = world.push(
        "officer", protocol.change("people", fresh, person(world.pair_a, "Fresh", "9434765897"))
    )
    assert twin_result[0]["status"] == fresh_result[0]["status"] == "accepted"
    assert without_id(twin_result[0]).keys() == without_id(fresh_result[0]).keys()
    with world.db.admin_connect() as admin:
        proposals = admin.execute(
            "SELECT person_id, other_person_id, matched_on FROM sim.merge_proposals"
        ).fetchall()
    assert (twin, people["b"], "nhs_number") in proposals
    assert not any(fresh in p for p in proposals)


def test_a_contact_cannot_move_to_another_pairs_person(world: World, people):
    cid = uuid.uuid4()
    assert (
        world.push("officer", protocol.change("contacts", cid, contact(people["a"])))[0]["status"]
        == "accepted"
    )
    moved = world.push("officer", protocol.change("contacts", cid, contact(people["b"])))[0]
    assert (moved["status"], moved["code"]) == ("refused", "not_permitted")
    with world.db.admin_connect() as admin:
        row = admin.execute("SELECT person_id FROM sim.rows WHERE row_id = %s", (cid,)).fetchone()
    assert row == (people["a"],)


def test_only_a_lead_moves_a_person_to_another_pair(world: World):
    pid = uuid.uuid4()
    world.push("officer", protocol.change("people", pid, person(world.pair_a, "Mover", None)))
    by_officer = world.push(
        "officer", protocol.change("people", pid, person(world.pair_b, "Mover", None))
    )[0]
    assert (by_officer["status"], by_officer["code"]) == ("refused", "not_permitted")
    by_lead = world.push(
        "lead", protocol.change("people", pid, person(world.pair_b, "Mover", None))
    )[0]
    assert by_lead["status"] == "accepted"
    # Pair A no longer sees the person (not even the history); pair B does.
    assert str(pid) not in rows_seen(world, "officer")
    assert str(pid) in rows_seen(world, "officer2")
    after = world.push("officer", protocol.change("contacts", uuid.uuid4(), contact(pid)))[0]
    assert after["code"] == "not_permitted"


def test_refused_changes_never_block_the_changes_behind_them(world: World, people):
    results = world.push(
        "officer",
        protocol.change("contacts", uuid.uuid4(), contact(people["b"])),
        {"nonsense": True},
        protocol.change("contacts", uuid.uuid4(), contact(people["a"])),
    )
    assert [r["status"] for r in results] == ["refused", "refused", "accepted"]
    assert results[1]["code"] == "invalid"


def test_clocks_far_ahead_of_the_server_are_refused(world: World, people):
    far = protocol.hlc_now() + (10 * 60 * 1000 << 16)
    result = world.push(
        "officer", protocol.change("contacts", uuid.uuid4(), contact(people["a"]), hlc=far)
    )[0]
    assert (result["status"], result["code"]) == ("refused", "clock_ahead")


@pytest.mark.parametrize(
    "table", ["users", "audit_events", "vault_meta", "pg_authid", "people; DROP TABLE sim.rows", ""]
)
def test_tables_outside_the_list_are_refused(world: World, table: str):
    result = world.push("lead", protocol.change(table, uuid.uuid4(), {"x": 1}))[0]
    assert result["status"] == "refused"
    assert result["code"] in ("unknown_table", "invalid")


def test_analysts_push_nothing_and_pull_no_names_nor_free_text(world: World, people):
    result = world.push(
        "analyst", protocol.change("people", uuid.uuid4(), person(world.pair_a, "Q", None))
    )[0]
    assert result["code"] == "not_permitted"
    page = world.pull("analyst")
    assert {s["row_id"] for s in page["snapshots"]} >= {str(people["a"]), str(people["b"])}
    text = repr(page)
    for field in ("given_name", "family_name", "nhs_number", "police_reference", "shared_note"):
        assert f"'{field}'" not in text, field


def test_pull_moves_the_cursor_past_changes_it_may_not_see(world: World, people):
    world.push("officer2", protocol.change("contacts", uuid.uuid4(), contact(people["b"])))
    page = world.pull("officer")
    with world.db.admin_connect() as admin:
        last = admin.execute("SELECT last_seq FROM sim.team").fetchone()
    assert last is not None and page["cursor"] == last[0]
    assert world.pull("officer", page["cursor"])["changes"] == []


def test_a_batch_over_the_limit_is_refused_whole(world: World, people):
    too_many = [protocol.change("contacts", uuid.uuid4(), contact(people["a"])) for _ in range(501)]
    with pytest.raises(ValueError):
        world.push("officer", *too_many)
    with pytest.raises(psycopg.errors.InvalidParameterValue), world.connect("officer") as conn:
        conn.execute("SELECT sim.push(%s)", (Jsonb(too_many),))


def test_changes_are_numbered_in_commit_order_without_gaps(world: World, people):
    """Two laptops pushing at once: every accepted change gets the next number, in the order the
    pushes committed, so a pull by cursor never skips a change that commits late."""
    results: dict[str, list[dict[str, Any]]] = {"officer": [], "clinician": []}

    def pusher(name: str) -> None:
        for _ in range(15):
            batch = [
                protocol.change("contacts", uuid.uuid4(), contact(people["a"])) for _ in range(4)
            ]
            results[name] += world.push(name, *batch)

    threads = [threading.Thread(target=pusher, args=(name,)) for name in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    seqs = sorted(r["seq"] for rs in results.values() for r in rs)
    assert len(seqs) == 120 and all(
        r["status"] == "accepted" for rs in results.values() for r in rs
    )
    with world.db.admin_connect() as admin:
        stored = [row[0] for row in admin.execute("SELECT seq FROM sim.changes ORDER BY seq")]
    assert stored == list(range(1, len(stored) + 1))  # no gaps, ever
    assert set(seqs) <= set(stored)
