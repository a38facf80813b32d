"""Audit chains across laptops (issue 20): real laptops' vaults, a real PostgreSQL team server.

Each laptop pushes its audit entries as the bytes it hashed; the server recomputes every link
and keeps each device's head, which catches a laptop put back from an older copy of its vault.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import threading
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from psycopg.types.json import Jsonb
from sqlalchemy import select

from sim_desk.records import people
from sim_desk.records.model import AuditEvent
from sim_desk.records.people import PersonDetails
from sim_desk.records.vault.audit import GENESIS
from sim_desk.records.vault.audit.links import links_after
from sim_desk.records.vault.files import VaultPaths
from sim_desk.records.vault.verify import verify_vault
from sim_desk.teamserver import protocol, starting
from sim_desk.teamserver.audit_chain import REFUSED_ACTION, AuditChainRefused, push_audit_chain
from sim_desk.teamserver.sync import sync_now
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import Laptop, laptop


@pytest.fixture
def fresh_world(new_database, _team_template, tmp_path) -> World:
    return build_world(
        new_database(), _team_template, tmp_path / "world", names=("lead", "officer", "clinician")
    )


@pytest.fixture
def laptops(fresh_world: World, tmp_path: Path) -> Callable[[str], Laptop]:
    def make(name: str) -> Laptop:
        return laptop(fresh_world, name, tmp_path)

    return make


def server_chain(world: World, name: str) -> list[tuple[int, str, bytes]]:
    with world.db.admin_connect() as admin:
        return [
            (seq, hash_, bytes(content))
            for seq, hash_, content in admin.execute(
                "SELECT seq, hash, content FROM sim.audit_entries WHERE device_id = %s"
                " ORDER BY seq",
                (world.devices[name].device_id,),
            )
        ]


def server_head(world: World, name: str) -> dict[str, Any]:
    with world.db.admin_connect() as admin:
        row = admin.execute(
            "SELECT seq, hash, refused_kind, refused_seq, refused_chain_end"
            " FROM sim.audit_heads WHERE device_id = %s",
            (world.devices[name].device_id,),
        ).fetchone()
    assert row is not None
    return dict(zip(("seq", "hash", "kind", "refused_seq", "chain_end"), row, strict=True))


def server_records(world: World) -> tuple[Any, ...]:
    """Everything the team's records are on the server, to show a refusal changed none of it."""
    with world.db.admin_connect() as admin:
        return tuple(
            admin.execute(query).fetchall()
            for query in (
                "SELECT row_id, payload, deleted FROM sim.rows ORDER BY row_id",
                "SELECT seq, change_id FROM sim.changes ORDER BY seq",
                "SELECT last_seq FROM sim.team",
            )
        )


def local_chain(machine: Laptop) -> dict[int, str]:
    with machine.open() as vault, vault.read() as session:
        return dict(session.execute(select(AuditEvent.seq, AuditEvent.hash)).all())


def refusals_recorded(machine: Laptop) -> list[dict[str, Any]]:
    with machine.open() as vault, vault.read() as session:
        return [
            dict(d)
            for d in session.execute(
                select(AuditEvent.detail).where(AuditEvent.action == REFUSED_ACTION)
            ).scalars()
        ]


def copy_vault(machine: Laptop, to: Path) -> None:
    shutil.copytree(machine.paths.database.parent, to)


def put_back(machine: Laptop, copy: Path) -> None:
    folder = machine.paths.database.parent
    shutil.rmtree(folder)
    shutil.copytree(copy, folder)


# -- the chain reaches the server, verified from its bytes ------------------------------------


def test_a_laptops_whole_chain_is_verified_on_the_server_from_the_bytes_alone(
    fresh_world: World, laptops
):
    officer = laptops("officer")
    officer.sync()
    officer.add_person("Aisha", fresh_world.pair_a)
    officer.sync()
    stored = server_chain(fresh_world, "officer")
    mine = local_chain(officer)
    # From its first entry (the vault's creation), every link recomputed here from the bytes
    # the server keeps, never from a hash a laptop sent.
    assert [seq for seq, _, _ in stored] == list(range(1, len(stored) + 1))
    prev = GENESIS
    for seq, hash_, content in stored:
        assert hashlib.sha256(prev.encode("ascii") + content).hexdigest() == hash_
        assert hash_ == mine[seq]
        prev = hash_
    head = server_head(fresh_world, "officer")
    assert (head["seq"], head["hash"], head["kind"]) == (len(stored), prev, None)
    # The second sync sent only what the first had not.
    assert len(stored) > 10 and max(mine) > len(stored)  # this sync's own entries go next time


def test_no_laptop_receives_another_laptops_audit_entries(fresh_world: World, laptops):
    officer, lead = laptops("officer"), laptops("lead")
    officer.sync()
    lead_before = local_chain(lead)
    lead.sync()
    officer.sync()
    lead.sync()
    after = local_chain(lead)
    # The lead's chain grew only by the lead's own entries: nothing of the officer's arrived.
    with lead.open() as vault, vault.read() as session:
        authors = set(
            session.execute(
                select(AuditEvent.user_id).where(AuditEvent.seq > max(lead_before))
            ).scalars()
        )
    assert set(lead_before.items()) <= set(after.items())
    assert authors == {fresh_world.user_ids["lead"]}
    with protocol.device_connection(fresh_world.devices["lead"]) as conn:
        pulled = protocol.pull(conn, 0, 1000)
    assert "audit" not in str(sorted(pulled))


# -- a laptop put back from an older copy -------------------------------------------------------


def test_a_laptop_put_back_from_an_older_copy_is_refused_and_the_server_keeps_its_records(
    fresh_world: World, laptops, tmp_path: Path
):
    officer = laptops("officer")
    officer.sync()
    copy_vault(officer, tmp_path / "monday")
    aisha = officer.add_person("Aisha", fresh_world.pair_a, "9434765870")
    officer.sync()  # Aisha and the audit entries after the copy reach the server
    officer.sync()
    head_before = server_head(fresh_world, "officer")
    put_back(officer, tmp_path / "monday")
    stale = officer.add_person("Stale", fresh_world.pair_a)
    records_before = server_records(fresh_world)

    with pytest.raises(AuditChainRefused) as refused:
        officer.sync()

    message = str(refused.value)
    assert "older copy" in message and "no longer syncs" in message
    assert "new device" in message and "team lead" in message
    assert refused.value.kind == "rolled_back"
    # Nothing of the server's harmed: no change, no row, no entry of the old copy taken.
    assert server_records(fresh_world) == records_before
    head = server_head(fresh_world, "officer")
    assert (head["seq"], head["hash"]) == (head_before["seq"], head_before["hash"])
    assert head["kind"] == "rolled_back" and head["refused_seq"] == head_before["seq"]
    # The laptop said so in its own audit log, once, and keeps the message for its status.
    assert [(r["kind"], r["server_seq"]) for r in refusals_recorded(officer)] == [
        ("rolled_back", head_before["seq"])
    ]
    assert officer.status().last_error == message
    assert officer.status().waiting >= 1  # the stale person waits here, not lost
    with pytest.raises(AuditChainRefused):
        officer.sync()
    assert len(refusals_recorded(officer)) == 1
    assert server_records(fresh_world) == records_before
    with officer.open() as vault:
        assert verify_vault(vault).chain.ok  # the local files alone saw nothing wrong
    del aisha, stale


def test_an_old_copy_that_grew_past_the_servers_head_is_still_refused(
    fresh_world: World, laptops, tmp_path: Path
):
    officer = laptops("officer")
    officer.sync()
    copy_vault(officer, tmp_path / "monday")
    officer.add_person("Aisha", fresh_world.pair_a)
    officer.sync()
    head_before = server_head(fresh_world, "officer")
    put_back(officer, tmp_path / "monday")
    for n in range(12):  # enough work that the old copy's chain is longer than the server's
        officer.add_person(f"Later{n}", fresh_world.pair_a)
    assert max(local_chain(officer)) > head_before["seq"]
    records_before = server_records(fresh_world)
    with pytest.raises(AuditChainRefused) as refused:
        officer.sync()
    assert f"differs from it at entry {head_before['seq']}" in str(refused.value)
    assert server_records(fresh_world) == records_before


def test_an_old_copy_grown_to_the_servers_head_exactly_is_still_refused_before_any_change(
    fresh_world: World, laptops, tmp_path: Path
):
    """The start of a sync (schema 0010) skips the audit push only when the chain's end and its
    hash there are the server's head: an old copy whose chain has grown to the very same seq
    has another hash there, so it pushes, and is refused, before any change of it goes."""
    officer = laptops("officer")
    officer.sync()
    copy_vault(officer, tmp_path / "monday")
    officer.add_person("Aisha", fresh_world.pair_a)
    officer.sync()
    head_before = server_head(fresh_world, "officer")
    put_back(officer, tmp_path / "monday")
    records_before = server_records(fresh_world)
    with officer.open() as vault:
        people.create_person(
            vault,
            PersonDetails(
                given_name="Stale",
                family_name="Testperson",
                referred_on=date(2026, 1, 5),
                pair_id=fresh_world.pair_a,
            ),
        )
        while starting.chain_end(vault)[0] < head_before["seq"]:
            with vault.write() as session:
                vault.audit(session, "test.work_done_later")
        end, end_hash = starting.chain_end(vault)
        assert end == head_before["seq"] and end_hash != head_before["hash"]
        with pytest.raises(AuditChainRefused) as refused:
            sync_now(vault)
    assert refused.value.kind == "rolled_back"
    assert server_records(fresh_world) == records_before
    assert server_head(fresh_world, "officer")["kind"] == "rolled_back"


def test_two_copies_of_one_laptop_cannot_both_sync(fresh_world: World, laptops, tmp_path: Path):
    officer = laptops("officer")
    officer.sync()
    copy_vault(officer, tmp_path / "twin")
    twin = Laptop(
        "officer",
        VaultPaths.at(tmp_path / "twin" / officer.paths.database.name),
        officer.dirs,
    )
    officer.add_person("Aisha", fresh_world.pair_a)
    officer.sync()
    twin.add_person("Bilal", fresh_world.pair_a)
    with pytest.raises(AuditChainRefused):
        twin.sync()


def test_a_flagged_device_pushes_no_changes_even_around_the_app(
    fresh_world: World, laptops, tmp_path: Path
):
    officer = laptops("officer")
    officer.sync()
    copy_vault(officer, tmp_path / "monday")
    officer.add_person("Aisha", fresh_world.pair_a)
    officer.sync()
    put_back(officer, tmp_path / "monday")
    with pytest.raises(AuditChainRefused):
        officer.sync()
    before = server_records(fresh_world)
    person = uuid.uuid4()
    results = fresh_world.push(
        "officer",
        protocol.change(
            "people",
            person,
            {
                "id": str(person),
                "given_name": "Forced",
                "family_name": "Through",
                "pair_id": str(fresh_world.pair_a),
                "status": "active",
                "referred_on": "2026-01-05",
            },
        ),
    )
    assert [r["status"] for r in results] == ["refused"]
    assert server_records(fresh_world) == before
    # Kept for the lead's review, as any refused change is.
    with fresh_world.db.admin_connect() as admin:
        kept = admin.execute(
            "SELECT count(*) FROM sim.refused_changes WHERE device_id = %s",
            (fresh_world.devices["officer"].device_id,),
        ).fetchone()
    assert kept == (1,)


def test_the_lead_sees_each_devices_head_and_the_rollback(
    fresh_world: World, laptops, tmp_path: Path
):
    officer, clinician = laptops("officer"), laptops("clinician")
    officer.sync()
    clinician.sync()
    copy_vault(officer, tmp_path / "monday")
    officer.add_person("Aisha", fresh_world.pair_a)
    officer.sync()
    put_back(officer, tmp_path / "monday")
    with pytest.raises(AuditChainRefused):
        officer.sync()
    with protocol.device_connection(fresh_world.devices["lead"]) as conn:
        status = conn.execute("SELECT sim.audit_status()").fetchone()[0]
    by_device = {d["device"]: d for d in status["devices"]}
    officer_row = by_device[str(fresh_world.devices["officer"].device_id)]
    clinician_row = by_device[str(fresh_world.devices["clinician"].device_id)]
    assert officer_row["refused"]["kind"] == "rolled_back"
    assert clinician_row["refused"] is None and clinician_row["seq"] > 0
    assert len(clinician_row["hash"]) == 12  # a prefix to compare, not the hash itself
    # An officer sees only its own laptop's head.
    with protocol.device_connection(fresh_world.devices["clinician"]) as conn:
        own = conn.execute("SELECT sim.audit_status()").fetchone()[0]
    assert [d["device"] for d in own["devices"]] == [
        str(fresh_world.devices["clinician"].device_id)
    ]


# -- entries changed, forged or sent around the app ----------------------------------------------


def test_an_audit_entry_changed_on_the_laptop_is_refused_by_the_server(fresh_world: World, laptops):
    officer = laptops("officer")
    officer.sync()
    officer.add_person("Aisha", fresh_world.pair_a)
    pushed = server_head(fresh_world, "officer")["seq"]
    with officer.open() as vault:
        key = vault.record_key
    conn = sqlcipher3.connect(str(officer.paths.database))
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.execute("UPDATE audit_events SET action = 'record.view' WHERE seq = ?", (pushed + 2,))
    conn.commit()
    conn.close()
    records_before = server_records(fresh_world)
    with pytest.raises(AuditChainRefused) as refused:
        officer.sync()
    assert refused.value.kind == "tampered"
    assert f"entry {pushed + 2} was changed" in str(refused.value)
    head = server_head(fresh_world, "officer")
    # The entry before it verified and was kept; nothing from it on.
    assert head["seq"] == pushed + 1 and head["kind"] == "tampered"
    assert server_records(fresh_world) == records_before


def entry(seq: int, content: dict[str, Any], prev: str) -> dict[str, Any]:
    raw = _canonical(content)
    return {
        "seq": seq,
        "content": base64.b64encode(raw).decode(),
        "hash": hashlib.sha256(prev.encode() + raw).hexdigest(),
    }


def _canonical(content: dict[str, Any]) -> bytes:
    import json

    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def content_for(seq: int, **changes: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": "2026-10-01T10:00:00.000000+00:00",
        "user_id": None,
        "action": "record.view",
        "entity_type": "person",
        "entity_id": str(uuid.uuid4()),
        "detail": {},
        **changes,
    }


def push_raw(
    world: World, name: str, make: Callable[[int, str], tuple[Any, ...]]
) -> dict[str, Any]:
    """sim.audit_head then sim.push_audit in one transaction, as ``name``'s device, with the
    arguments ``make(server_seq, server_hash)`` builds (a test may know the hash: an attacker
    with the laptop's files does)."""
    with world.connect(name) as conn, conn.transaction():
        seq = conn.execute("SELECT sim.audit_head()").fetchone()[0]["seq"]
        with world.db.admin_connect() as admin:
            row = admin.execute(
                "SELECT hash FROM sim.audit_heads WHERE device_id = %s",
                (world.devices[name].device_id,),
            ).fetchone()
        assert row is not None
        after_seq, after_hash, end, entries = make(seq, row[0])
        return dict(
            conn.execute(
                "SELECT sim.push_audit(%s, %s, %s, %s)",
                (after_seq, after_hash, end, Jsonb(entries)),
            ).fetchone()[0]
        )


def test_forged_pushes_are_refused(fresh_world: World, laptops):
    laptops("clinician").sync()
    # A hash that does not recompute from the bytes: refused, flagged.
    answer = push_raw(
        fresh_world,
        "clinician",
        lambda seq, h: (
            seq,
            h,
            seq + 1,
            [{**entry(seq + 1, content_for(seq + 1), h), "hash": "a" * 64}],
        ),
    )
    assert (answer["status"], answer["code"]) == ("refused", "tampered")
    assert server_head(fresh_world, "clinician")["kind"] == "tampered"
    # Flagged for good: even a push that would verify is refused now.
    answer = push_raw(
        fresh_world,
        "clinician",
        lambda seq, h: (seq, h, seq + 1, [entry(seq + 1, content_for(seq + 1), h)]),
    )
    assert answer["code"] == "tampered"


def test_free_text_and_malformed_entries_are_refused_without_a_flag(fresh_world: World, laptops):
    laptops("officer").sync()
    head = server_head(fresh_world, "officer")
    for bad in (
        content_for(0, detail={"note": "Aisha said she was frightened"}),
        content_for(0, detail={"names": ["ok", "Aisha Khan"]}),
        content_for(0, action="Viewed Aisha's record"),
        content_for(0, user_id="aisha"),
        {**content_for(0), "extra": 1},
        content_for(1),  # a seq inside that is not the entry's place
    ):
        answer = push_raw(
            fresh_world,
            "officer",
            lambda seq, h, bad=bad: (
                seq,
                h,
                seq + 1,
                [entry(seq + 1, {**bad, "seq": bad["seq"] or seq + 1}, h)],
            ),
        )
        assert (answer["status"], answer["code"]) == ("refused", "invalid"), bad
    not_json = push_raw(
        fresh_world,
        "officer",
        lambda seq, h: (
            seq,
            h,
            seq + 1,
            [{"seq": seq + 1, "content": base64.b64encode(b"\xff{").decode(), "hash": "b" * 64}],
        ),
    )
    assert not_json["code"] == "invalid"
    after = server_head(fresh_world, "officer")
    assert (after["seq"], after["kind"]) == (head["seq"], None)
    with fresh_world.db.admin_connect() as admin:
        texts = admin.execute(
            "SELECT count(*) FROM sim.audit_entries WHERE content::text ILIKE '%aisha%'"
        ).fetchone()
    assert texts == (0,)


def test_a_gap_in_the_chain_is_refused(fresh_world: World, laptops):
    laptops("officer").sync()
    answer = push_raw(
        fresh_world,
        "officer",
        lambda seq, h: (seq, h, seq + 2, [entry(seq + 2, content_for(seq + 2), h)]),
    )
    assert answer["code"] == "tampered"


def test_a_push_that_does_not_prove_the_head_is_a_rollback(fresh_world: World, laptops):
    laptops("officer").sync()
    answer = push_raw(fresh_world, "officer", lambda seq, h: (seq, "c" * 64, seq, []))
    assert answer["code"] == "rolled_back"
    assert server_head(fresh_world, "officer")["kind"] == "rolled_back"


def test_a_push_not_from_the_head_is_an_error_not_a_flag(fresh_world: World, laptops):
    laptops("officer").sync()
    with fresh_world.connect("officer") as conn:
        with pytest.raises(Exception) as failed:
            conn.execute("SELECT sim.push_audit(0, %s, 0, %s)", (GENESIS, Jsonb([])))
        assert getattr(failed.value, "sqlstate", None) == "22023"
    assert server_head(fresh_world, "officer")["kind"] is None


def test_each_device_pushes_only_its_own_chain(fresh_world: World, laptops):
    laptops("officer").sync()
    clinician = fresh_world.devices["clinician"]
    with fresh_world.connect("officer") as conn:
        conn.execute("SELECT sim.audit_head()")  # whatever it sends goes to its own device
    with fresh_world.db.admin_connect() as admin:
        devices = {
            r[0]
            for r in admin.execute("SELECT DISTINCT device_id FROM sim.audit_entries").fetchall()
        }
    assert devices == {fresh_world.devices["officer"].device_id}
    assert clinician.device_id not in devices


# -- safe to retry, safe to run twice ---------------------------------------------------------


def test_two_syncs_of_one_laptop_at_once_do_not_flag_it(fresh_world: World, laptops):
    officer = laptops("officer")
    officer.sync()
    for n in range(5):
        officer.add_person(f"P{n}", fresh_world.pair_a)
    failures: list[BaseException] = []

    def push() -> None:
        try:
            with (
                officer.open() as vault,
                protocol.device_connection(fresh_world.devices["officer"]) as conn,
            ):
                push_audit_chain(vault, conn)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=push) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert server_head(fresh_world, "officer")["kind"] is None
    officer.sync()
    assert server_head(fresh_world, "officer")["kind"] is None


def test_a_server_restored_from_an_older_backup_is_not_a_rollback(fresh_world: World, laptops):
    """The laptop is ahead of the server, never behind: it simply sends again what the server
    lost (here: the server's copy of its chain cut back, as a restore would)."""
    officer = laptops("officer")
    officer.sync()
    officer.add_person("Aisha", fresh_world.pair_a)
    officer.sync()
    device = fresh_world.devices["officer"].device_id
    with fresh_world.db.admin_connect() as admin:
        admin.execute("DELETE FROM sim.audit_entries WHERE device_id = %s AND seq > 5", (device,))
        admin.execute(
            "UPDATE sim.audit_heads SET seq = 5, hash = e.hash FROM sim.audit_entries e"
            " WHERE e.device_id = %s AND e.seq = 5 AND sim.audit_heads.device_id = e.device_id",
            (device,),
        )
        admin.commit()
    officer.sync()
    head = server_head(fresh_world, "officer")
    assert head["kind"] is None and head["seq"] > 5
    assert len(server_chain(fresh_world, "officer")) == head["seq"]


def test_the_entries_before_a_changed_one_are_kept_and_none_after_it(fresh_world: World, laptops):
    laptops("officer").sync()

    def batch(seq: int, h: str) -> tuple[Any, ...]:
        links, prev = [], h
        for n in range(1, 6):
            link = entry(seq + n, content_for(seq + n), prev)
            links.append(link)
            prev = link["hash"]
        # Entry 3 changed after it was hashed; 4 and 5 link to its original hash.
        links[2]["content"] = base64.b64encode(
            _canonical(content_for(seq + 3, action="record.update"))
        ).decode()
        return seq, h, seq + 5, links

    before = server_head(fresh_world, "officer")["seq"]
    answer = push_raw(fresh_world, "officer", batch)
    assert (answer["code"], answer["accepted"], answer["seq"]) == ("tampered", 2, before + 2)
    assert [s for s, _, _ in server_chain(fresh_world, "officer")][-1] == before + 2
    head = server_head(fresh_world, "officer")
    assert (head["kind"], head["refused_seq"]) == ("tampered", before + 3)


def test_a_push_cut_off_before_it_committed_leaves_the_head_where_it_was(
    fresh_world: World, laptops
):
    officer = laptops("officer")
    officer.sync()
    officer.add_person("Aisha", fresh_world.pair_a)
    before = server_head(fresh_world, "officer")
    conn = fresh_world.connect("officer")
    conn.execute("BEGIN")
    seq = conn.execute("SELECT sim.audit_head()").fetchone()[0]["seq"]
    with officer.open() as vault, vault.read() as session:
        chain = links_after(session, seq, 100)
    conn.execute(
        "SELECT sim.push_audit(%s, %s, %s, %s)",
        (
            seq,
            chain.hash_at_start,
            chain.end,
            Jsonb(
                [
                    {"seq": x.seq, "content": base64.b64encode(x.content).decode(), "hash": x.hash}
                    for x in chain.links
                ]
            ),
        ),
    )
    conn.close()  # the laptop dies before the commit
    assert server_head(fresh_world, "officer") == before
    officer.sync()
    after = server_head(fresh_world, "officer")
    assert after["kind"] is None and after["seq"] > before["seq"]


def test_a_revoked_device_whose_session_survived_can_push_no_audit(fresh_world: World, laptops):
    laptops("officer").sync()
    session = fresh_world.connect("officer")
    try:
        with fresh_world.db.admin_connect() as admin:
            admin.execute(
                "UPDATE sim.devices SET revoked_at = now() WHERE id = %s",
                (fresh_world.devices["officer"].device_id,),
            )
            admin.commit()
        for query, params in (
            ("SELECT sim.audit_head()", None),
            ("SELECT sim.push_audit(0, %s, 0, %s)", (GENESIS, Jsonb([]))),
            ("SELECT sim.audit_status()", None),
        ):
            with pytest.raises(Exception) as refused:
                session.execute(query, params)
            assert getattr(refused.value, "sqlstate", None) == "42501", query
    finally:
        session.close()
