"""Snapshot rows go in bulk where they can (a first sync brings a million of them): the replica
they leave is the one the row-by-row path leaves, row for row and clock for clock.

The snapshot is built from records made through the use cases on another copy of the vault,
as a server would send them (each field with its clock, clinical text apart), and then made
awkward: two people with one NHS number in the same batch (the database refuses the batch),
a person whose NHS number is already another person's here, a tombstone, a field this version
does not know, a value that does not fit, rows whose person is not in the snapshot, and rows
this laptop already holds.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import traceback
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, event, select, text, type_coerce, update
from sqlalchemy.engine import Engine

from sim_desk.records import contacts, people, sync, visits
from sim_desk.records.codes import PersonStatus
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.model import Contact, SyncOutboxEntry, SyncRow
from sim_desk.records.people import ConsentDetails, PersonDetails
from sim_desk.records.sync import bulk, clock, received
from sim_desk.records.sync.tables import BY_NAME, CLINICAL_FIELDS, REPLICATED, encoded_row
from sim_desk.records.vault.files import VaultPaths
from sim_desk.records.visits import PlanDetails
from tests.conftest import Team

AT = datetime(2026, 10, 20, 14, 0, tzinfo=UTC)
DEVICE = uuid.UUID("00000000-0000-4000-8000-00000000d002")
NHS = ("9434765870", "9434765919", "9434765927")


def copy_of(team: Team, folder: Path) -> Team:
    shutil.copytree(team.paths.database.parent, folder)
    return dataclasses.replace(team, paths=VaultPaths.at(folder / team.paths.database.name))


def snapshot_of(source: Team, user: str) -> list[dict[str, Any]]:
    """Every replicated row of ``source`` as a server's snapshot carries it."""
    rows: list[dict[str, Any]] = []
    with source.unlock(user) as vault, vault.read() as session:
        for n, spec in enumerate(REPLICATED):
            clinical_names = CLINICAL_FIELDS.get(spec.name, frozenset())
            for values in session.execute(select(spec.table)).mappings():
                encoded = encoded_row(spec.name, values)
                stamp = clock.clock_string((1000 + n) << 16, uuid.uuid4())
                person = None
                if spec.name == "people":
                    person = values["id"]
                elif spec.parent_key == "person_id":
                    person = values["person_id"]
                clinical = {
                    name: {"ciphertext": encoded[name], "epoch": 0}
                    for name in clinical_names
                    if encoded[name] is not None
                }
                rows.append(
                    {
                        "table": spec.name,
                        "row_id": str(values["id"]),
                        "person_id": None if person is None else str(person),
                        "payload": {k: v for k, v in encoded.items() if k not in clinical_names},
                        "clocks": dict.fromkeys(encoded, stamp),
                        "deleted": False,
                        "clinical": clinical or None,
                    }
                )
    return rows


def made_awkward(rows: list[dict[str, Any]], pair: uuid.UUID) -> list[dict[str, Any]]:
    people_rows = [r for r in rows if r["table"] == "people"]
    # Two people with one NHS number, side by side: the batch is refused, then goes one by one.
    people_rows[2]["payload"]["nhs_number"] = people_rows[1]["payload"]["nhs_number"]
    # A person whose NHS number is already another person's on the receiving laptop.
    people_rows[3]["payload"]["nhs_number"] = NHS[2]
    # A tombstone, a field from a newer version, a value that does not fit.
    people_rows[4]["deleted"] = True
    people_rows[4]["clocks"]["_deleted"] = people_rows[4]["clocks"]["given_name"]
    people_rows[5]["payload"]["favourite_colour"] = "teal"
    people_rows[5]["clocks"]["favourite_colour"] = people_rows[5]["clocks"]["given_name"]
    people_rows[6]["payload"]["referred_on"] = "the fifth of January"
    # A person not sent at all: their rows point nowhere here.
    gone = people_rows[7]
    rows.remove(gone)
    # A field the server sent without its clock.
    del people_rows[0]["clocks"]["preferred_name"]
    assert all(r["payload"]["pair_id"] == str(pair) for r in people_rows)
    return rows


@pytest.fixture
def source_rows(team: Team, tmp_path: Path) -> list[dict[str, Any]]:
    source = copy_of(team, tmp_path / "source")
    with source.unlock("clinician") as vault:
        made = [
            people.create_person(
                vault,
                PersonDetails(
                    f"Person{n}",
                    "Testperson",
                    referred_on=date(2026, 1, 5),
                    nhs_number=NHS[n] if n < 2 else None,
                    pair_id=team.pair_id,
                ),
            )
            for n in range(9)
        ]
        for n, person in enumerate(made):
            people.record_consent(
                vault,
                person,
                ConsentDetails(
                    taking_part=True, information_sharing=n % 2 == 0, recorded_on=date(2026, 1, 6)
                ),
            )
            people.change_status(vault, person, PersonStatus.ACTIVE, on=date(2026, 2, 1))
            visits.plan_visits(
                vault, person, PlanDetails("weekly", AT.replace(month=3), end_on=date(2026, 5, 1))
            )
            for k in range(3):
                contacts.log_contact(
                    vault,
                    person,
                    ContactDetails(
                        started_at=AT.replace(day=1 + k),
                        shared_note=f"Met {k}",
                        clinical_note="Low mood, safe" if k == 1 else None,
                    ),
                )
        planned = visits.list_planned_visits(vault, made[0], include_past=True)[0]
        contacts.log_contact(
            vault, made[0], ContactDetails(started_at=AT, planned_visit_id=planned.id)
        )
    return snapshot_of(source, "clinician")


@pytest.fixture
def snapshot(team: Team, source_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return made_awkward(json.loads(json.dumps(source_rows)), team.pair_id)


def replica(target: Team) -> dict[str, Any]:
    """Every replicated row, every sync_rows entry (held NULL told from JSON null), every note."""
    with target.unlock("clinician") as vault, vault.read() as session:
        state: dict[str, Any] = {
            spec.name: [
                tuple(row) for row in session.execute(select(spec.table).order_by(spec.table.c.id))
            ]
            for spec in REPLICATED
        }
        state["ids"] = sorted(
            row_id
            for spec in REPLICATED
            for row_id in session.execute(select(spec.table.c.id)).scalars()
        )
        state["sync_rows"] = [
            (*row[:3], *(json.loads(v) if v is not None else None for v in row[3:6]), *row[6:])
            for row in session.execute(
                text(
                    "SELECT id, table_name, person_id, clocks, hashes, mine, deleted, held,"
                    " held IS NULL, in_snapshot FROM sync_rows ORDER BY id"
                )
            )
        ]
        # A row in bulk gets its hashes when first changed here: made now, they must be the
        # hashes the row-by-row path made as the row came. (A row no longer here, taken out
        # below a deleted parent or held, is never changed here: its hashes do not count.)
        for n, entry in enumerate(state["sync_rows"]):
            shadow = session.get(SyncRow, uuid.UUID(entry[0]))
            table = BY_NAME[entry[1]].table if entry[1] in BY_NAME else None
            found = (
                session.execute(select(table).where(table.c.id == shadow.id)).mappings().first()
                if table is not None
                else None
            )
            if found is None:
                state["sync_rows"][n] = (*entry[:4], "not here", *entry[5:])
            elif entry[4] is None:
                made = received.hashes_of(entry[1], found, shadow.clocks)
                state["sync_rows"][n] = (*entry[:4], made, *entry[5:])
        state["changed_elsewhere"] = sorted(
            (r.table_name, str(r.row_id), str(r.person_id), r.kind, json.dumps(r.overwritten))
            for r in session.execute(text("SELECT * FROM sync_changed_elsewhere"))
        )
        state["status"] = dataclasses.astuple(sync.status(vault))
    return state


def apply(
    target: Team, rows: list[dict[str, Any]], *, cursor: int | None = None, shared: bool = True
) -> tuple:
    with target.unlock("clinician") as vault:
        sync.attach(vault)
        if sync.cursor(vault) == 0 and cursor is None:
            sync.begin(vault, DEVICE, "incarnation-1")
        # In pages, as a first sync applies them; the last page moves the cursor. The pages
        # share what the snapshot learns as it goes in (which tables began empty, the ids put
        # in), as a first sync's pages do.
        applied = []
        run = bulk.SnapshotRun()
        for start in range(0, len(rows), 60):
            page = rows[start : start + 60]
            last = start + 60 >= len(rows)
            answer: dict[str, Any] = {"snapshots": page, "more": not last}
            if shared:
                answer[bulk.SNAPSHOT_RUN] = run
            if last:
                answer["cursor"] = cursor or 7
            result = sync.apply_pull(vault, answer, now=AT)
            applied.append(
                (result.rows, result.held, result.changed_elsewhere, sorted(result.touched_people))
            )
        return tuple(applied)


def applied_both_ways(
    team: Team, tmp_path: Path, monkeypatch, user: str, rows: list[dict[str, Any]]
) -> list[tuple[Team, Any]]:
    """``rows`` applied as one first pull to two copies of ``team``: in bulk where they can
    go, then every row one by one. Each copy with what its pull applied."""
    done = []
    for way in ("bulk", "one-by-one"):
        target = copy_of(team, tmp_path / way)
        if way == "one-by-one":
            monkeypatch.setattr(
                bulk, "_prepare", lambda applier, table, rows, run: [None] * len(rows)
            )
        with target.unlock(user) as vault:
            sync.begin(vault, DEVICE, "incarnation-1")
            done.append((target, sync.apply_pull(vault, {"snapshots": rows, "cursor": 3}, now=AT)))
    return done


def test_rows_in_bulk_leave_the_replica_rows_one_by_one_leave(
    team: Team, tmp_path: Path, snapshot: list[dict[str, Any]], monkeypatch
):
    first = copy_of(team, tmp_path / "bulk")
    with first.unlock("clinician") as vault:  # the NHS number already here
        people.create_person(
            vault, PersonDetails("Local", "Person", referred_on=date(2026, 1, 5), nhs_number=NHS[2])
        )
    targets = {"bulk": first, "one by one": copy_of(first, tmp_path / "one-by-one")}
    inserted: list[int] = []
    real_insert = bulk._insert

    def counting(applier, table, pending, run):
        inserted.append(len(pending))
        return real_insert(applier, table, pending, run)

    one_by_one_people: list[str] = []
    real_from_snapshot = bulk.from_snapshot

    def noting(row):
        if row["table"] == "people":
            one_by_one_people.append(str(row["row_id"]))
        return real_from_snapshot(row)

    monkeypatch.setattr(bulk, "_insert", counting)
    monkeypatch.setattr(bulk, "from_snapshot", noting)
    in_bulk = apply(targets["bulk"], snapshot)
    people_one_by_one = sorted(one_by_one_people)
    monkeypatch.setattr(bulk, "_prepare", lambda applier, table, rows, run: [None] * len(rows))
    one_by_one = apply(targets["one by one"], snapshot)
    monkeypatch.undo()

    assert sum(inserted) > len(snapshot) // 2  # most went in bulk
    # Only the people the database refuses (two with one NHS number, one whose number is
    # here already) and those that cannot go in bulk (a tombstone, an unknown field, a value
    # that does not fit) went one by one: not the rest of the batch the database refused.
    people_rows = [r for r in snapshot if r["table"] == "people"]
    assert people_one_by_one == sorted(str(r["row_id"]) for r in people_rows[2:7])
    assert in_bulk == one_by_one
    bulk_replica, row_replica = replica(targets["bulk"]), replica(targets["one by one"])
    assert bulk_replica == row_replica
    # The awkward rows were kept as the row-by-row path keeps them.
    held = {row[1] for row in bulk_replica["sync_rows"] if not row[8]}
    assert {"people", "contacts", "consents"} <= held
    # Nothing dropped: every row that came is here, or held for a later pull, or a tombstone.
    here = set(bulk_replica["ids"])
    kept = {uuid.UUID(row[0]) for row in bulk_replica["sync_rows"] if not row[8] or row[6]}
    assert {uuid.UUID(r["row_id"]) for r in snapshot} <= here | kept
    assert len(bulk_replica["people"]) == len(row_replica["people"]) >= 6

    # The same snapshot again (a first sync started over), one field newer on one row: every
    # row is here already, so all go one by one, to the same end.
    again = json.loads(json.dumps(snapshot))
    person = next(r for r in again if r["table"] == "people" and not r["deleted"])
    person["payload"]["preferred_name"] = "Newer"
    person["clocks"]["preferred_name"] = clock.clock_string(5000 << 16, uuid.uuid4())
    assert apply(targets["bulk"], again, cursor=9) == apply(targets["one by one"], again, cursor=9)
    assert replica(targets["bulk"]) == replica(targets["one by one"])


def test_an_analysts_rows_in_bulk_get_the_blanks_one_by_one_gives_them(
    team: Team, tmp_path: Path, snapshot: list[dict[str, Any]], monkeypatch
):
    # What an analyst's laptop receives: no names (and so nothing clashes on them either).
    rows = [
        {**r, "payload": {k: v for k, v in r["payload"].items() if k != "given_name"}}
        if r["table"] == "people"
        else r
        for r in snapshot
    ]
    states = []
    for target, _applied in applied_both_ways(team, tmp_path, monkeypatch, "analyst", rows):
        with target.unlock("analyst") as vault, vault.read() as session:
            states.append(
                [tuple(r) for r in session.execute(text("SELECT * FROM people ORDER BY id"))]
            )
    assert states[0] == states[1]
    assert any(row for row in states[0])


def test_a_pull_that_went_all_in_bulk_needs_no_foreign_key_check_and_others_run_it(
    team: Team, tmp_path: Path, source_rows: list[dict[str, Any]], monkeypatch
):
    from sim_desk.records.sync import applying

    checks: list[str] = []
    real = applying.Applier.hold_orphans

    def spy(self):
        checks.append("run" if self.one_by_one else "not needed")
        return real(self)

    monkeypatch.setattr(applying.Applier, "hold_orphans", spy)
    clean = [r for r in source_rows if r["table"] in ("pairs", "people", "consents")]
    clean = [r for r in clean if r["table"] != "pairs"]  # (the pairs are here already)
    target = copy_of(team, tmp_path / "target")
    with target.unlock("clinician") as vault:
        sync.begin(vault, DEVICE, "incarnation-1")
        first = sync.apply_pull(vault, {"snapshots": clean, "more": True}, now=AT)
        again = sync.apply_pull(vault, {"snapshots": clean[:3], "cursor": 4}, now=AT)
        with vault.read() as session:
            assert session.execute(text("PRAGMA foreign_key_check")).all() == []
    assert (first.rows, again.rows) == (len(clean), 0)
    assert checks == ["not needed", "run"]


def test_a_snapshot_into_an_empty_replica_looks_up_nothing_it_put_in_itself(
    team: Team, tmp_path: Path, snapshot: list[dict[str, Any]]
):
    """A first sync into an empty replica: the rows of tables that began empty are not looked
    for, nor are parents put in by an earlier page; the replica is the one the lookups give."""
    emptied = copy_of(team, tmp_path / "emptied")  # its pairs and users, nobody yet
    targets = {"run": emptied, "looked up": copy_of(emptied, tmp_path / "looked-up")}
    lookups: list[str] = []

    def looked_up(conn, cursor, statement, parameters, context, executemany):
        in_bulk = any(frame.filename == bulk.__file__ for frame in traceback.extract_stack())
        if in_bulk and statement.startswith("SELECT") and " IN (" in statement:
            lookups.append(statement)  # (not the row-by-row path's own)

    event.listen(Engine, "before_cursor_execute", looked_up)
    try:
        with_run = apply(targets["run"], snapshot)
        run_lookups = list(lookups)
        lookups.clear()
        page_by_page = apply(targets["looked up"], snapshot, shared=False)
    finally:
        event.remove(Engine, "before_cursor_execute", looked_up)

    assert with_run == page_by_page
    assert replica(targets["run"]) == replica(targets["looked up"])
    # Looked for here: only the pairs (here before the snapshot began), and parents that
    # took the row-by-row path (the awkward rows).
    assert len([s for s in run_lookups if "FROM sync_rows" in s.replace('"', "")]) == 1
    assert len(run_lookups) < len(lookups)


def test_a_whole_number_beyond_64_bits_is_held_not_a_stopped_pull(
    team: Team, tmp_path: Path, source_rows: list[dict[str, Any]], monkeypatch
):
    """SQLite refuses such a number as it is inserted (OverflowError, not a clash): a server
    or laptop sending one stopped every pull of it. It is held as a value that does not fit,
    in bulk and one by one alike, and the other rows go in."""
    rows = json.loads(json.dumps(source_rows))
    contact = next(r for r in rows if r["table"] == "contacts")
    contact["payload"]["duration_minutes"] = 1 << 70
    states = []
    for target, applied in applied_both_ways(team, tmp_path, monkeypatch, "clinician", rows):
        state = replica(target)
        held = [r for r in state["sync_rows"] if r[0] == uuid.UUID(contact["row_id"]).hex]
        assert held and not held[0][8], target  # held (not NULL)
        assert applied.rows >= len(rows) - 1
        states.append(state)
    assert states[0] == states[1]


def test_field_clocks_are_stored_once_per_clock_and_old_vaults_read_as_before(team: Team):

    same = clock.clock_string(1000 << 16, uuid.uuid4())
    other = clock.clock_string(2000 << 16, uuid.uuid4())
    clocks = {"given_name": same, "family_name": same, "status": other, "_deleted": same}
    row_id, old_id = uuid.uuid4(), uuid.uuid4()
    with team.unlock("clinician") as vault:
        with vault.write() as session:
            for key in (row_id, old_id):
                session.add(SyncRow(id=key, table_name="people", clocks=clocks, hashes={}, mine=[]))
        with vault.write() as session:  # as a vault written before the compact form has it
            session.connection().exec_driver_sql(
                "UPDATE sync_rows SET clocks = ? WHERE id = ?", (json.dumps(clocks), old_id.hex)
            )
        with vault.read() as session:
            stored = session.execute(
                text("SELECT clocks FROM sync_rows WHERE id = :id"), {"id": row_id.hex}
            ).scalar_one()
            assert json.loads(stored) == [
                [same, "given_name", "family_name", "_deleted"],
                [other, "status"],
            ]
            assert session.get(SyncRow, row_id).clocks == clocks
            assert session.get(SyncRow, old_id).clocks == clocks


def _bulk_rows_without_hashes(vault: Any, table: str) -> list[uuid.UUID]:
    with vault.read() as session:
        return list(
            session.execute(
                select(SyncRow.id).where(
                    SyncRow.table_name == table,
                    type_coerce(SyncRow.hashes, String) == received.NOT_MADE,
                )
            ).scalars()
        )


def _queued(vault: Any, row_id: uuid.UUID) -> list[set[str]]:
    with vault.read() as session:
        entries = session.execute(
            select(SyncOutboxEntry).where(SyncOutboxEntry.row_id == row_id)
        ).scalars()
        return [set(entry.payload or {}) | set(entry.clinical or {}) for entry in entries]


def test_a_row_in_bulk_sends_only_what_changed_here_however_it_changes(
    team: Team, tmp_path: Path, source_rows: list[dict[str, Any]]
):
    """A row that went in bulk has no hashes until it first changes here: they are made from
    its values just before, so the outbox sends only the fields that changed, whether a use
    case changed it (the ORM), an UPDATE statement did, or a pull changed another field first."""
    target = copy_of(team, tmp_path / "target")
    apply(target, source_rows)
    with target.unlock("clinician") as vault:
        sync.attach(vault)
        people_waiting = _bulk_rows_without_hashes(vault, "people")
        visits_waiting = _bulk_rows_without_hashes(vault, "planned_visits")
        contacts_waiting = _bulk_rows_without_hashes(vault, "contacts")
        assert len(people_waiting) == 9 and visits_waiting and contacts_waiting

        # A use case (the ORM): the person's preferred name only.
        person = people_waiting[0]
        details = people.view_person(vault, person).details
        people.update_person(vault, person, dataclasses.replace(details, preferred_name="Ash"))
        assert _queued(vault, person) == [{"preferred_name", "updated_at"}]

        # An UPDATE statement (as the bulk builders write): one visit's status.
        visit = visits_waiting[0]
        table = BY_NAME["planned_visits"].table
        with vault.write() as session:
            session.execute(update(table).where(table.c.id == visit).values(status="missed"))
        # (the fields that belong with the status go with it, as they always do)
        assert _queued(vault, visit) == [
            {"status", "status_reason", "rescheduled_to_id", "updated_at"}
        ]

        # A pull changes a contact's place first; then a local change of its note.
        contact = contacts_waiting[0]
        stamp = clock.clock_string(9000 << 16, uuid.uuid4())
        sync.apply_pull(
            vault,
            {
                "changes": [
                    {
                        "change_id": str(uuid.uuid4()),
                        "clock": stamp,
                        "table": "contacts",
                        "row_id": str(contact),
                        "op": "upsert",
                        "payload": {"place": "Library"},
                    }
                ],
                "cursor": 11,
            },
            now=AT,
        )
        with vault.read() as session:
            shadow = session.get(SyncRow, contact)
            assert shadow is not None and shadow.hashes is not None  # made as received
            assert set(shadow.hashes) == set(shadow.clocks) - {"_deleted"}
        with vault.write() as session:
            row = session.get(Contact, contact)
            assert row is not None and row.place == "Library"
            row.shared_note = "Talked about the garden"
        assert _queued(vault, contact) == [{"shared_note", "updated_at"}]

        # Rows nobody touched keep no hashes.
        assert set(_bulk_rows_without_hashes(vault, "people")) == set(people_waiting[1:])
