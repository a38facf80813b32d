"""The server side of the sync engine (issue 19, schema 0002): per-field last-writer-wins on the
merged row, tombstones, diffs, consent-driven visibility with removals and snapshots in pull,
the first sync in bulk (COPY), the incarnation, the protocol check and merge proposals."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from typing import Any

import psycopg
import pytest

from sim_desk.teamserver import protocol
from sim_desk.teamserver.connection import ServerAddress
from sim_desk.teamserver.errors import IncompatibleServer, ServerRefused
from sim_desk.teamserver.schema import schema_head, server_report, upgrade_server
from tests.teamserver.cluster import ADMIN_USER, server_binaries
from tests.teamserver.conftest import ServerDatabase, World, build_world, person

HOUR = 3600 * 1000 << 16


def base_hlc() -> int:
    """An hour ago: room for clocks above it that the server does not find too far ahead."""
    return protocol.hlc_now() - HOUR


def merged(world: World, row_id: uuid.UUID) -> tuple[dict[str, Any], dict[str, str], bool]:
    with world.db.admin_connect() as admin:
        row = admin.execute(
            "SELECT payload, clocks, deleted FROM sim.rows WHERE row_id = %s", (row_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def pair_of(world: World, person_id: uuid.UUID) -> uuid.UUID | None:
    with world.db.admin_connect() as admin:
        row = admin.execute(
            "SELECT pair_id FROM sim.caseload WHERE person_id = %s", (person_id,)
        ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def accepted(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert all(r["status"] == "accepted" for r in results), results
    return results


def consent(person_id: uuid.UUID, **more: Any) -> dict[str, Any]:
    return {
        "person_id": str(person_id),
        "taking_part": True,
        "information_sharing": True,
        "scope": "full",
        "lawful_basis": "consent",
        "recorded_on": "2026-01-05",
        "withdrawn_on": None,
        "notes": None,
        **more,
    }


def contact(person_id: uuid.UUID) -> dict[str, Any]:
    return {
        "person_id": str(person_id),
        "started_at": "2026-11-02T10:00:00+00:00",
        "duration_minutes": 45,
        "mechanism": "01",
        "attendance": "5",
        "staff_present": "both",
        "shared_note": "Met at the library",
    }


def new_person(
    world: World, name: str = "officer", pair: uuid.UUID | None = None, **more: Any
) -> uuid.UUID:
    """A person first written two hours ago (so the tests' clocks are all newer)."""
    pid = uuid.uuid4()
    accepted(
        world.push(
            name,
            protocol.change(
                "people",
                pid,
                person(pair or world.pair_a, "Pat", None, **more),
                hlc=base_hlc() - HOUR,
            ),
        )
    )
    return pid


def everything(world: World, name: str) -> dict[str, Any]:
    """pull(0), then on from its cursor while ``more``: what a fresh replica receives."""
    page = world.pull(name, 0)
    snapshots, changes, removed = list(page["snapshots"]), list(page["changes"]), []
    cursor = page["cursor"]
    while page["more"]:
        page = world.pull(name, cursor)
        snapshots += page["snapshots"]
        changes += page["changes"]
        removed += page["removed"]
        cursor = page["cursor"]
    return {"cursor": cursor, "snapshots": snapshots, "changes": changes, "removed": removed}


def people_in(page: dict[str, Any]) -> set[str]:
    return {s["row_id"] for s in page["snapshots"] if s["table"] == "people"}


# -- per-field last-writer-wins ----------------------------------------------------------------


@pytest.mark.parametrize("higher_first", [True, False])
def test_the_higher_clock_wins_a_field_whatever_the_push_order(world: World, higher_first: bool):
    pid = new_person(world)
    cursor = world.pull("clinician")["cursor"]
    t = base_hlc()
    high = protocol.change("people", pid, {"given_name": "High"}, hlc=t + 20)
    low = protocol.change("people", pid, {"given_name": "Low"}, hlc=t + 10)
    first, second = (high, low) if higher_first else (low, high)
    accepted(world.push("officer", first))
    accepted(world.push("clinician", second))
    payload, clocks, _ = merged(world, pid)
    assert payload["given_name"] == "High"
    assert clocks["given_name"] == protocol.change_clock(high)
    # Both changes are kept, as diffs, and pulled with their clocks.
    page = world.pull("clinician", cursor)
    mine = [c for c in page["changes"] if c["row_id"] == str(pid)]
    assert {c["clock"] for c in mine} == {protocol.change_clock(high), protocol.change_clock(low)}
    assert all(c["payload"] == {"given_name": c["payload"]["given_name"]} for c in mine)
    assert {c["device"] for c in mine} == {
        str(world.devices["officer"].device_id),
        str(world.devices["clinician"].device_id),
    }


def test_different_fields_set_on_two_laptops_are_both_kept(world: World):
    pid = new_person(world)
    t = base_hlc()
    accepted(world.push("officer", protocol.change("people", pid, {"phone": "0700"}, hlc=t + 5)))
    accepted(
        world.push("clinician", protocol.change("people", pid, {"family_name": "Kept"}, hlc=t))
    )
    payload, _, _ = merged(world, pid)
    assert payload["phone"] == "0700" and payload["family_name"] == "Kept"
    assert payload["given_name"] == "Pat" and payload["pair_id"] == str(world.pair_a)


def test_fields_that_travel_together_win_together(world: World):
    pid = new_person(world)
    t = base_hlc()
    closing = protocol.change(
        "people",
        pid,
        {"status": "closed", "closed_on": "2026-11-30", "exit_reason": "moved_away"},
        hlc=t + 50,
    )
    reopening = protocol.change(
        "people", pid, {"status": "active", "closed_on": None, "exit_reason": None}, hlc=t + 40
    )
    accepted(world.push("officer", closing))
    accepted(world.push("clinician", reopening))  # older: loses every field at once
    payload, clocks, _ = merged(world, pid)
    assert (payload["status"], payload["closed_on"], payload["exit_reason"]) == (
        "closed",
        "2026-11-30",
        "moved_away",
    )
    assert {clocks["status"], clocks["closed_on"], clocks["exit_reason"]} == {
        protocol.change_clock(closing)
    }


@pytest.mark.parametrize("withdrawal_first", [True, False])
def test_at_an_equal_hlc_a_consent_withdrawal_wins(world: World, withdrawal_first: bool):
    pid = new_person(world)
    cid = uuid.uuid4()
    t = base_hlc()
    accepted(world.push("officer", protocol.change("consents", cid, consent(pid), hlc=t)))
    # The same hlc; the other change has the higher change id, so only the rank decides.
    withdraw = protocol.change(
        "consents",
        cid,
        {"information_sharing": False},
        hlc=t + 7,
        change_id=uuid.UUID("00000000" + uuid.uuid4().hex[8:]),
    )
    keep = protocol.change(
        "consents",
        cid,
        {"information_sharing": True},
        hlc=t + 7,
        change_id=uuid.UUID("ffffffff" + uuid.uuid4().hex[8:]),
    )
    assert protocol.change_clock(withdraw) > protocol.change_clock(keep)
    order = (withdraw, keep) if withdrawal_first else (keep, withdraw)
    for change, name in zip(order, ("clinician", "lead"), strict=True):
        accepted(world.push(name, change))
    payload, _, _ = merged(world, cid)
    assert payload["information_sharing"] is False


def test_a_delete_is_a_tombstone_and_final(world: World):
    pid = new_person(world)
    row = uuid.uuid4()
    t = base_hlc()
    insert = protocol.change("contacts", row, contact(pid), hlc=t)
    accepted(world.push("officer", insert))
    accepted(world.push("officer", protocol.change("contacts", row, None, op="delete", hlc=t + 1)))
    later = protocol.change("contacts", row, {"shared_note": "edited offline"}, hlc=t + 99)
    result = accepted(world.push("clinician", later))[0]
    payload, clocks, deleted = merged(world, row)
    assert deleted and payload["shared_note"] == "Met at the library"
    assert clocks["shared_note"] == protocol.change_clock(insert) < clocks["_deleted"]
    with world.db.admin_connect() as admin:
        logged = admin.execute(
            "SELECT payload FROM sim.changes WHERE seq = %s", (result["seq"],)
        ).fetchone()
    assert logged == ({"shared_note": "edited offline"},)  # nothing lost


def test_a_diff_without_pair_id_neither_moves_nor_unassigns_a_person(world: World):
    pid = new_person(world)
    accepted(world.push("officer", protocol.change("people", pid, {"given_name": "Renamed"})))
    accepted(world.push("lead", protocol.change("people", pid, {"phone": "0711"})))
    assert pair_of(world, pid) == world.pair_a
    payload, _, _ = merged(world, pid)
    assert payload["pair_id"] == str(world.pair_a) and payload["given_name"] == "Renamed"
    assert str(pid) in people_in(world.pull("officer"))
    # A child row's diff keeps its parent too.
    row = uuid.uuid4()
    accepted(world.push("officer", protocol.change("contacts", row, contact(pid))))
    accepted(world.push("clinician", protocol.change("contacts", row, {"duration_minutes": 50})))
    with world.db.admin_connect() as admin:
        assert admin.execute(
            "SELECT person_id FROM sim.rows WHERE row_id = %s", (row,)
        ).fetchone() == (pid,)


def test_diffs_are_checked_as_strictly_as_whole_rows(world: World):
    theirs = new_person(world, "officer2", world.pair_b)
    mine = new_person(world)
    # A diff to another pair's person, and one moving my person to another pair.
    refused = world.push(
        "officer",
        protocol.change("people", theirs, {"given_name": "Taken"}),
        protocol.change("people", mine, {"pair_id": str(world.pair_b)}),
        protocol.change("people", mine, {"pair_id": None}),
        protocol.change("contacts", uuid.uuid4(), {"duration_minutes": 5}),  # no parent at all
    )
    assert [(r["status"], r.get("code")) for r in refused] == [("refused", "not_permitted")] * 4
    assert pair_of(world, mine) == world.pair_a


# -- the protocol ------------------------------------------------------------------------------


def test_another_protocol_is_refused_as_incompatible(world: World):
    pid = uuid.uuid4()
    future = {**protocol.change("people", pid, person(world.pair_a, "Fut", None)), "protocol": 3}
    old = protocol.change("people", uuid.uuid4(), person(world.pair_a, "Old", None))
    del old["protocol"]  # part 1's laptops sent none: taken as 2
    results = world.push("officer", future, old)
    assert (results[0]["status"], results[0]["code"]) == ("refused", "incompatible")
    assert results[1]["status"] == "accepted"
    assert "incompatible" in protocol.REFUSAL_CODES
    with protocol.device_connection(world.devices["officer"]) as conn:
        hello = protocol.hello(conn)
    assert hello["protocol"] == hello["min_protocol"] == protocol.PROTOCOL == 2
    assert hello["schema"] == schema_head()  # the newest revision (0002 brought protocol 2)


# -- visibility --------------------------------------------------------------------------------


def test_an_officer_loses_a_person_on_withdrawal_and_gets_them_back_when_sharing_returns(
    world: World,
):
    pid = new_person(world)
    cid = uuid.uuid4()
    accepted(world.push("officer", protocol.change("consents", cid, consent(pid))))
    start = world.pull("officer")
    assert str(pid) in people_in(start)
    # The officer records the withdrawal itself: accepted, and the person is gone from its view.
    accepted(
        world.push("officer", protocol.change("consents", cid, {"withdrawn_on": "2026-11-20"}))
    )
    page = world.pull("officer", start["cursor"])
    assert str(pid) in page["removed"]
    assert all(c.get("person_id") != str(pid) for c in page["changes"] + page["snapshots"])
    again = world.pull("officer", page["cursor"])
    assert str(pid) not in again["removed"]  # told once
    assert str(pid) not in people_in(world.pull("officer"))
    blocked = world.push("officer", protocol.change("contacts", uuid.uuid4(), contact(pid)))[0]
    assert (blocked["status"], blocked["code"]) == ("refused", "not_permitted")
    # The clinician and the lead still see the person.
    assert str(pid) in people_in(world.pull("clinician"))
    assert str(pid) in people_in(everything(world, "lead"))
    # Sharing given again (a newer consent): the officer gets the person whole.
    newer = uuid.uuid4()
    accepted(
        world.push(
            "clinician",
            protocol.change("consents", newer, consent(pid, recorded_on="2026-12-01")),
        )
    )
    back = world.pull("officer", again["cursor"])
    got = {s["row_id"]: s for s in back["snapshots"]}
    assert {str(pid), str(cid), str(newer)} <= got.keys()
    assert got[str(cid)]["payload"]["withdrawn_on"] == "2026-11-20"
    assert got[str(cid)]["clocks"]["withdrawn_on"].split(":")[1] == "1"  # a withdrawal's rank


def test_a_person_moved_by_the_lead_leaves_one_pair_and_arrives_whole_in_the_other(world: World):
    pid = new_person(world)
    accepted(world.push("officer", protocol.change("contacts", uuid.uuid4(), contact(pid))))
    cursors = {name: world.pull(name)["cursor"] for name in ("officer", "clinician", "officer2")}
    accepted(world.push("lead", protocol.change("people", pid, {"pair_id": str(world.pair_b)})))
    assert pair_of(world, pid) == world.pair_b
    for name in ("officer", "clinician"):
        assert str(pid) in world.pull(name, cursors[name])["removed"]
    arrived = world.pull("officer2", cursors["officer2"])
    rows = [s for s in arrived["snapshots"] if s["person_id"] == str(pid)]
    assert {s["table"] for s in rows} == {"people", "contacts"}
    assert rows[0]["table"] == "people"  # parents first
    people_row = rows[0]
    assert people_row["payload"]["pair_id"] == str(world.pair_b)
    assert set(people_row["clocks"]) >= set(people_row["payload"])


def test_a_pairs_new_officer_gets_the_pair_and_its_people(world: World):
    pair_c = uuid.uuid4()
    accepted(
        world.push(
            "lead",
            protocol.change(
                "pairs",
                pair_c,
                {
                    "id": str(pair_c),
                    "name": "Pair C",
                    "officer_id": str(world.user_ids["officer"]),
                    "clinician_id": str(world.user_ids["clinician2"]),
                    "active": True,
                },
            ),
        )
    )
    pid = new_person(world, "lead", pair_c)
    before = {name: world.pull(name) for name in ("officer", "officer2")}
    assert str(pid) in people_in(before["officer"]) and str(pid) not in people_in(
        before["officer2"]
    )
    accepted(
        world.push(
            "lead",
            protocol.change("pairs", pair_c, {"officer_id": str(world.user_ids["officer2"])}),
        )
    )
    gone = world.pull("officer", before["officer"]["cursor"])
    assert str(pid) in gone["removed"]
    came = world.pull("officer2", before["officer2"]["cursor"])
    snapshot_ids = {s["row_id"] for s in came["snapshots"]}
    assert {str(pid), str(pair_c)} <= snapshot_ids
    pair_row = next(s for s in came["snapshots"] if s["row_id"] == str(pair_c))
    assert pair_row["payload"]["officer_id"] == str(world.user_ids["officer2"])
    assert pair_row["payload"]["name"] == "Pair C"  # the whole row, not the diff


def test_pull_from_zero_is_a_full_snapshot_with_the_cursor_and_no_changes(world: World):
    new_person(world)
    page = world.pull("officer")
    with world.db.admin_connect() as admin:
        last = admin.execute("SELECT last_seq FROM sim.team").fetchone()
        visible = {
            str(r[0])
            for r in admin.execute(
                "SELECT r.row_id FROM sim.rows r LEFT JOIN sim.caseload c"
                " ON c.person_id = r.person_id"
                " WHERE (r.table_name = 'pairs' AND r.row_id = %s)"
                " OR (c.pair_id = %s AND c.police_sharing)",
                (world.pair_a, world.pair_a),
            )
        }
    assert last is not None and page["cursor"] == last[0]
    assert page["changes"] == [] and page["removed"] == []
    assert {s["row_id"] for s in page["snapshots"]} == visible
    assert page["merge_proposals"] == []  # leads only
    # Pulled again from its cursor: nothing new.
    after = world.pull("officer", page["cursor"])
    assert after["snapshots"] == after["changes"] == after["removed"] == []


def test_many_new_people_come_50_at_a_time(world: World):
    batch = [
        protocol.change(
            "people", uuid.uuid4(), {**person(world.pair_a, "Bulk", None), "pair_id": None}
        )
        for _ in range(55)
    ]
    accepted(world.push("lead", *batch))
    first = world.pull("lead")
    assert first["more"] and len(people_in(first)) == 50
    everyone = everything(world, "lead")
    assert {c["row_id"] for c in batch} <= people_in(everyone)
    with world.db.admin_connect() as admin:
        count = admin.execute("SELECT count(*) FROM sim.caseload").fetchone()
    assert count is not None and len(people_in(everyone)) == count[0]


def test_an_officer_never_gets_clinical_text_in_snapshots(world: World):
    pid = new_person(world)
    note = uuid.uuid4()
    accepted(
        world.push(
            "clinician",
            protocol.change(
                "contacts", note, contact(pid), clinical={"clinical_note": (b"\x07" * 30, 1)}
            ),
        )
    )
    officer_rows = [s for s in world.pull("officer")["snapshots"] if s["row_id"] == str(note)]
    clinician_rows = [s for s in world.pull("clinician")["snapshots"] if s["row_id"] == str(note)]
    assert len(officer_rows) == len(clinician_rows) == 1
    assert "clinical" not in officer_rows[0]
    assert clinician_rows[0]["clinical"]["clinical_note"]["epoch"] == 1
    with (
        protocol.device_connection(world.devices["officer"]) as conn,
        protocol.snapshot(conn) as (_head, rows),
    ):
        copied = list(rows)
    assert copied and all(r.clinical is None for r in copied)


# -- the first sync in bulk --------------------------------------------------------------------


def canonical(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


@pytest.mark.parametrize("name", ["officer", "clinician", "lead", "analyst"])
def test_the_copy_snapshot_equals_pull_from_zero(world: World, name: str):
    pid = new_person(world)
    accepted(
        world.push(
            "clinician",
            protocol.change(
                "contacts", uuid.uuid4(), contact(pid), clinical={"clinical_note": (b"\x01" * 9, 2)}
            ),
        )
    )
    pulled = everything(world, name)
    with protocol.device_connection(world.devices[name]) as conn:
        with protocol.snapshot(conn) as (head, rows):
            copied = list(rows)
        # The COPY recorded what the replica holds: pulling on from its cursor adds nothing.
        after = protocol.pull(conn, head["cursor"])
    assert head["cursor"] == pulled["cursor"] and head["protocol"] == 2
    assert after["snapshots"] == after["removed"] == []
    as_pulled = {
        canonical(
            {
                "table": r.table,
                "row_id": str(r.row_id),
                "person_id": None if r.person_id is None else str(r.person_id),
                "payload": r.payload,
                "clocks": r.clocks,
                "deleted": r.deleted,
                **({"clinical": r.clinical} if r.clinical is not None else {}),
            }
        )
        for r in copied
    }
    assert as_pulled == {canonical(s) for s in pulled["snapshots"]}
    assert len(copied) == len(pulled["snapshots"])
    if name == "analyst":  # figures, never names, free text or clinical text
        assert copied and all(
            set(r.payload) <= ANALYST_PEOPLE_FIELDS for r in copied if r.table == "people"
        )
        assert all(r.clinical is None and "shared_note" not in r.payload for r in copied)


ANALYST_PEOPLE_FIELDS = {
    "date_of_birth",
    "ethnic_category",
    "gender",
    "borough",
    "status",
    "referred_on",
    "enrolled_on",
    "closed_on",
    "exit_reason",
    "pair_id",
    "interpreter_needed",
    "created_at",
    "updated_at",
}


def test_a_snapshot_needs_one_repeatable_read_transaction(world: World):
    with world.connect("officer") as conn:
        with pytest.raises(psycopg.errors.InvalidTransactionState):
            conn.execute("SELECT sim.snapshot_begin()")
        with pytest.raises(psycopg.errors.InvalidTransactionState):
            conn.execute("SELECT * FROM sim.snapshot_rows()")


# -- incarnation -------------------------------------------------------------------------------


def test_hello_push_and_pull_agree_on_the_incarnation(world: World):
    with protocol.device_connection(world.devices["officer"]) as conn:
        hello = protocol.hello(conn)
        pushed = protocol.push(conn, [])
        pulled = protocol.pull(conn, 0)
        again = protocol.hello(conn)
    assert hello["incarnation"] == pushed["incarnation"] == pulled["incarnation"]
    assert again["incarnation"] == hello["incarnation"]


def test_a_restore_into_a_new_database_has_a_new_incarnation(world: World, tmp_path):
    """pg_dump the team's database and restore it into another on the same cluster (login roles
    are cluster-wide, so the laptops' credentials still work there)."""
    cluster = world.db.cluster
    env = {
        **os.environ,
        "PGHOST": cluster.host,
        "PGPORT": str(cluster.port),
        "PGUSER": ADMIN_USER,
        "PGPASSWORD": cluster.admin_password,  # the environment, never the command line
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": str(cluster.ca_file),
    }
    dump = tmp_path / "team.dump"
    bindir = server_binaries()
    subprocess.run(
        [str(bindir / "pg_dump"), "-Fc", "-f", str(dump), "-d", world.db.name],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    restored = f"r{uuid.uuid4().hex[:12]}"
    with cluster.admin_connect(autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{restored}"')
    subprocess.run(
        [str(bindir / "pg_restore"), "--exit-on-error", "-d", restored, str(dump)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    copy = ServerDatabase(
        cluster,
        restored,
        ServerAddress(cluster.host, cluster.port, restored, cluster.ca.ca_pem.decode()),
    )
    credential = world.devices["officer"]
    with world.connect("officer") as conn:
        before = conn.execute("SELECT sim.hello()").fetchone()[0]  # type: ignore[index]
    with copy.login(credential.login_role, credential.secret) as conn:
        after = conn.execute("SELECT sim.hello()").fetchone()[0]  # type: ignore[index]
        pulled = conn.execute("SELECT sim.pull(0, 10)").fetchone()[0]  # type: ignore[index]
    assert before["team"] == after["team"]
    assert before["incarnation"] != after["incarnation"] == pulled["incarnation"]
    with cluster.admin_connect(autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{restored}" WITH (FORCE)')


# -- merge proposals ---------------------------------------------------------------------------


def test_one_nhs_number_created_on_two_laptops_is_a_merge_proposal_for_the_lead(world: World):
    nhs = "9434765900"
    on_officer, on_clinician = uuid.uuid4(), uuid.uuid4()
    t = base_hlc()
    accepted(
        world.push(
            "officer",
            protocol.change("people", on_officer, person(world.pair_a, "Twin", nhs), hlc=t),
        )
    )
    accepted(
        world.push(
            "clinician",
            protocol.change("people", on_clinician, person(world.pair_a, "Twin", nhs), hlc=t + 1),
        )
    )
    proposals = [
        p
        for p in world.pull("lead")["merge_proposals"]
        if {p["person_id"], p["other_person_id"]} == {str(on_officer), str(on_clinician)}
    ]
    assert len(proposals) == 1 and proposals[0]["matched_on"] == "nhs_number"
    assert world.pull("officer")["merge_proposals"] == []
    proposal = uuid.UUID(proposals[0]["id"])
    with (
        protocol.device_connection(world.devices["officer"]) as conn,
        pytest.raises(ServerRefused),
    ):
        protocol.resolve_merge_proposal(conn, proposal)
    with protocol.device_connection(world.devices["lead"]) as conn:
        assert protocol.resolve_merge_proposal(conn, proposal)
        assert not protocol.resolve_merge_proposal(conn, proposal)  # once
        assert not protocol.resolve_merge_proposal(conn, uuid.uuid4())
    assert all(p["id"] != str(proposal) for p in world.pull("lead")["merge_proposals"])


# -- record tables -----------------------------------------------------------------------------


def test_the_circle_and_revision_tables_sync_under_their_parents(world: World):
    pid = new_person(world)
    partner, referral, plan, incident, count = (uuid.uuid4() for _ in range(5))
    rows = [
        ("support_partners", partner, {"person_id": str(pid), "name": "Hope Trust"}),
        ("support_partner_revisions", uuid.uuid4(), {"partner_id": str(partner), "revision": 1}),
        ("onward_referrals", referral, {"person_id": str(pid), "partner_id": str(partner)}),
        ("referral_status_changes", uuid.uuid4(), {"referral_id": str(referral)}),
        ("referral_revisions", uuid.uuid4(), {"referral_id": str(referral)}),
        ("handover_plans", plan, {"person_id": str(pid)}),
        ("handover_plan_revisions", uuid.uuid4(), {"plan_id": str(plan)}),
        ("incidents", incident, {"person_id": str(pid)}),
        ("incident_revisions", uuid.uuid4(), {"incident_id": str(incident)}),
        ("baseline_counts", count, {"person_id": str(pid)}),
        ("baseline_count_revisions", uuid.uuid4(), {"baseline_count_id": str(count)}),
    ]
    accepted(world.push("officer", *(protocol.change(t, r, p) for t, r, p in rows)))
    with world.db.admin_connect() as admin:
        people = admin.execute(
            "SELECT DISTINCT person_id FROM sim.rows WHERE row_id = ANY(%s)",
            ([r for _, r, _ in rows],),
        ).fetchall()
    assert people == [(pid,)]
    # Another pair cannot hang rows under them.
    refused = world.push(
        "officer2",
        protocol.change("referral_revisions", uuid.uuid4(), {"referral_id": str(referral)}),
    )[0]
    assert refused["code"] == "not_permitted"


# -- upgrade -----------------------------------------------------------------------------------


def test_a_laptop_refuses_to_sync_with_a_server_whose_schema_is_too_old(
    new_database, _team_template, tmp_path
):
    """Protocol 2 alone is not enough: a sync also pushes the audit chain and takes team keys,
    which a server at 0002 does not have. Refused in words before anything is sent."""
    from tests.teamserver.laptops import laptop, person_row

    old = build_world(new_database(), _team_template, tmp_path, ("lead", "officer"), "0002")
    officer = laptop(old, "officer", tmp_path / "laptops")
    ola = officer.add_person("Ola", old.pair_a)
    with old.db.admin_connect() as admin:
        before = admin.execute("SELECT count(*) FROM sim.changes").fetchone()
    with pytest.raises(IncompatibleServer, match="sim-desk server upgrade") as told:
        officer.sync()
    assert "0002" in str(told.value) and "wait on this laptop" in str(told.value)
    assert person_row(officer, ola) is not None  # kept here, to go up after the upgrade
    with old.db.admin_connect() as admin:
        assert admin.execute("SELECT count(*) FROM sim.changes").fetchone() == before


def test_server_upgrade_brings_a_0001_server_with_data_to_0002(
    new_database, _team_template, tmp_path
):
    old = build_world(
        new_database(), _team_template, tmp_path, ("lead", "officer", "clinician"), "0001"
    )
    with protocol.device_connection(old.devices["officer"]) as conn:
        assert protocol.hello(conn)["protocol"] == 1
    withdrawn, sharing, note, gone = (uuid.uuid4() for _ in range(4))
    t = base_hlc()
    accepted(
        old.push(
            "officer",
            protocol.change("people", withdrawn, person(old.pair_a, "Wyn", None), hlc=t),
            protocol.change("people", sharing, person(old.pair_a, "Sha", None), hlc=t),
            protocol.change(
                "consents", uuid.uuid4(), consent(withdrawn, withdrawn_on="2026-02-01"), hlc=t
            ),
            protocol.change("consents", uuid.uuid4(), consent(sharing), hlc=t),
            protocol.change("contacts", gone, contact(sharing), hlc=t),
            protocol.change("contacts", gone, None, op="delete", hlc=t + 1),
        )
    )
    accepted(
        old.push(
            "clinician",
            protocol.change(
                "contacts", note, contact(sharing), hlc=t, clinical={"clinical_note": (b"n", 1)}
            ),
        )
    )
    assert upgrade_server(old.db.admin) == schema_head()  # 0002, then what followed it
    report = server_report(old.db.admin)
    assert report.healthy, [f.what for f in report.findings if not f.ok]
    with old.db.admin_connect() as admin:
        unclocked = admin.execute(
            "SELECT count(*) FROM sim.rows r JOIN sim.changes c ON c.seq = r.last_change"
            " WHERE EXISTS (SELECT 1 FROM jsonb_object_keys(r.payload) k"
            "               WHERE r.clocks ->> k IS DISTINCT FROM c.clock)"
        ).fetchone()
        sharing_flags = dict(admin.execute("SELECT person_id, police_sharing FROM sim.caseload"))
        tombstone = admin.execute(
            "SELECT clocks FROM sim.rows WHERE row_id = %s", (gone,)
        ).fetchone()
        note_clocks = admin.execute(
            "SELECT clocks FROM sim.rows WHERE row_id = %s", (note,)
        ).fetchone()
        no_clock = admin.execute("SELECT count(*) FROM sim.changes WHERE clock IS NULL").fetchone()
    assert unclocked == (0,) and no_clock == (0,)
    assert sharing_flags == {withdrawn: False, sharing: True}
    assert tombstone is not None and "_deleted" in tombstone[0]
    assert note_clocks is not None and "clinical_note" in note_clocks[0]
    # Officers no longer see the person who withdrew; clinicians do, with the clinical text.
    assert people_in(old.pull("officer")) == {str(sharing)}
    clinician = old.pull("clinician")
    assert people_in(clinician) == {str(withdrawn), str(sharing)}
    assert any(s["row_id"] == str(note) and "clinical" in s for s in clinician["snapshots"])
    # The merged rows take diffs by clock from here on.
    accepted(
        old.push(
            "officer",
            protocol.change("people", sharing, {"given_name": "Older"}, hlc=t - 1),
            protocol.change("people", sharing, {"phone": "0722"}),
        )
    )
    payload, _, _ = merged(old, sharing)
    assert payload["given_name"] == "Sha" and payload["phone"] == "0722"
    with protocol.device_connection(old.devices["officer"]) as conn:
        assert protocol.hello(conn)["protocol"] == 2
