"""Logged in as an officer's laptop, try every SQL it can run. Each must be refused, and refused
without saying anything about rows the officer may not see.

The officer's device credential is used directly with psycopg, as an attacker who copied it out
of an unlocked vault would. Each attempt and what it got back is recorded; with
``SIM_DESK_ATTACK_REPORT=FILE`` the table is written there (for the closing note).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import protocol
from sim_desk.teamserver.connection import new_secret
from sim_desk.teamserver.invitations import create_invitation
from sim_desk.teamserver.joining import join_team
from tests.conftest import Team, fixed_clock
from tests.teamserver.conftest import World, person

CANARY_NAME = "Canaryvelda Quistorp"
CANARY_NHS = "9434765919"
OTHER_CANARY_NAME = "Zebedaia Hollowmere"
OTHER_CANARY_NHS = "9434765927"

#: The functions devices may call. Everything else in the schema must refuse them outright.
API = {
    "hello",
    "push",
    "pull",
    "invite",
    "revoke_device",
    "revoke_user",
    "team_status",
    "snapshot_begin",
    "snapshot_rows",
    "resolve_merge_proposal",
    # leavers (schema 0005): a revoked device's two, and a lead's two
    "device_standing",
    "confirm_erased",
    "set_replica_expiry",
    "revoked_devices",
    "publish_begin",
    "publish_finish",
    "sync_done",
    # Team keys (schema 0003): an officer may call them, and gets no clinical key or wrap
    # (tests/teamserver/test_keys_officer.py tries them with an officer's credential).
    "key_state",
    "put_introductions",
    "put_wraps",
    "new_key_epoch",
    # audit chains (schema 0004): each device's own chain only; see test_audit_chain.py
    "audit_head",
    "push_audit",
    "audit_status",
    # the team's users directory (schema 0007): ids, user names, names and roles only
    "users_directory",
    # which vault a laptop syncs (schema 0009): writes the caller's own row only, and naming
    # another vault later refuses the caller itself (test_publish_once.py)
    "check_vault",
    # the start of a sync (schema 0010): the answers of device_standing, hello, audit_head's
    # seq and users_directory, and whether the caller's own chain is in step (a yes or no)
    "sync_start",
    # a first sync's rows streamed (schema 0014): snapshot_rows' rows, for the caller only
    "snapshot_stream",
}


@dataclass
class Outcome:
    sqlstate: str | None  # None: the statement ran
    message: str
    rows: list[tuple[Any, ...]]

    @property
    def refused(self) -> bool:
        return self.sqlstate is not None

    def shown(self) -> str:
        if self.sqlstate is None:
            return f"ran: {self.rows!r}"[:160]
        return f"{self.sqlstate} {self.message}"[:160]


REPORT: list[tuple[str, str]] = []


def attempt(conn: psycopg.Connection[Any], what: str, query: Any, params: Any = None) -> Outcome:
    """Runs one statement as the attacker; records and returns what happened."""
    try:
        cur = conn.execute(query, params)
        rows = cur.fetchall() if cur.description else []
        outcome = Outcome(None, "", rows)
    except psycopg.Error as exc:
        outcome = Outcome(exc.sqlstate or "?????", exc.diag.message_primary or str(exc), [])
    REPORT.append((what, outcome.shown()))
    for canary in (CANARY_NAME, CANARY_NHS, OTHER_CANARY_NAME, OTHER_CANARY_NHS):
        # Nothing learned: no error message ever quotes a person's details.
        assert canary not in outcome.message, what
    return outcome


@pytest.fixture(scope="module", autouse=True)
def _write_report() -> Iterator[None]:
    yield
    target = os.environ.get("SIM_DESK_ATTACK_REPORT")
    if target:
        lines = ["| attack (as an officer's device unless said) | what it got back |", "|---|---|"]
        lines += [f"| {what} | `{got}` |" for what, got in REPORT]
        Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def victims(world: World) -> dict[str, uuid.UUID]:
    """People on both caseloads (with canary names), and a clinical note on pair B's person."""
    mine, theirs, note = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    world.push(
        "officer", protocol.change("people", mine, person(world.pair_a, CANARY_NAME, CANARY_NHS))
    )
    world.push(
        "officer2",
        protocol.change(
            "people", theirs, person(world.pair_b, OTHER_CANARY_NAME, OTHER_CANARY_NHS)
        ),
    )
    result = world.push(
        "clinician2",
        protocol.change(
            "contacts",
            note,
            {
                "person_id": str(theirs),
                "started_at": "2026-11-02T10:00:00+00:00",
                "duration_minutes": 30,
                "mechanism": "01",
                "attendance": "5",
                "staff_present": "both",
                "shared_note": "seen",
            },
            clinical={"clinical_note": (b"\x02" * 40, 1)},
        ),
    )
    assert result[0]["status"] == "accepted"
    return {"mine": mine, "theirs": theirs, "note": note}


@pytest.fixture
def officer(world: World, victims) -> Iterator[psycopg.Connection[Any]]:
    conn = world.connect("officer")
    yield conn
    conn.close()


def sim_tables(world: World) -> dict[str, str]:
    """Every table of the schema, with its first column."""
    with world.db.admin_connect() as admin:
        return {
            r[0]: r[1]
            for r in admin.execute(
                "SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a"
                " ON a.attrelid = c.oid AND a.attnum = 1"
                " WHERE c.relnamespace = 'sim'::regnamespace"
                " AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1"
            )
        }


def sim_functions(world: World) -> list[tuple[str, str]]:
    with world.db.admin_connect() as admin:
        return [
            (r[0], r[1])
            for r in admin.execute(
                "SELECT proname, oid::regprocedure::text FROM pg_proc"
                " WHERE pronamespace = 'sim'::regnamespace ORDER BY 1"
            )
        ]


# -- tables ----------------------------------------------------------------------------------


def test_every_table_refuses_every_statement(world: World, officer):
    tables = sim_tables(world)
    assert {"rows", "changes", "clinical_fields", "users", "devices", "team"} <= set(tables)
    for table, column in tables.items():
        name = sql.Identifier("sim", table)
        for verb, query in (
            ("SELECT", sql.SQL("SELECT * FROM {}").format(name)),
            ("INSERT", sql.SQL("INSERT INTO {} DEFAULT VALUES").format(name)),
            (
                "UPDATE",
                sql.SQL("UPDATE {} SET {} = {}").format(
                    name, sql.Identifier(column), sql.Identifier(column)
                ),
            ),
            ("DELETE", sql.SQL("DELETE FROM {}").format(name)),
            ("TRUNCATE", sql.SQL("TRUNCATE {}").format(name)),
            ("COPY TO", sql.SQL("COPY {} TO STDOUT").format(name)),
            ("SELECT ... FOR UPDATE", sql.SQL("SELECT 1 FROM {} FOR UPDATE").format(name)),
        ):
            got = attempt(officer, f"{verb} sim.{table}", query)
            assert got.sqlstate == "42501", (table, verb, got)
        with officer.transaction(force_rollback=True):
            got = attempt(
                officer, f"BEGIN; LOCK TABLE sim.{table}", sql.SQL("LOCK TABLE {}").format(name)
            )
        assert got.sqlstate == "42501", (table, "LOCK", got)


def test_no_function_outside_the_api_can_be_called(world: World, officer):
    for name, signature in sim_functions(world):
        if name in API:
            continue
        args = (
            ", ".join("NULL" for _ in range(signature.count(",") + 1))
            if "()" not in signature
            else ""
        )
        got = attempt(officer, f"call sim.{name}", sql.SQL(f"SELECT sim.{name}({args})"))
        assert got.sqlstate == "42501", (signature, got)


def test_joining_is_for_invitations_only(officer):
    got = attempt(
        officer,
        "sim.join_team as a device",
        "SELECT sim.join_team(%s, %s)",
        (
            "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "=:" + "A" * 43 + "=",
            b"k" * 32,
        ),
    )
    assert got.sqlstate == "42501"


# -- the API with forged arguments -------------------------------------------------------------


def test_lead_only_functions_refuse_an_officer(world: World, officer):
    lead_device = world.devices["lead"].device_id
    checks = [
        (
            "sim.invite as an officer",
            "SELECT sim.invite('mallory', 'team_lead', true, 24, %s)",
            ("SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "=:" + "A" * 43 + "=",),
        ),
        ("sim.revoke_device(the lead's device)", "SELECT sim.revoke_device(%s)", (lead_device,)),
        ("sim.revoke_user(the lead)", "SELECT sim.revoke_user(%s)", (world.user_ids["lead"],)),
        ("sim.set_replica_expiry(1) as an officer", "SELECT sim.set_replica_expiry(1)", None),
        ("sim.set_replica_expiry(off) as an officer", "SELECT sim.set_replica_expiry(NULL)", None),
        ("sim.revoked_devices() as an officer", "SELECT sim.revoked_devices()", None),
        (
            "sim.confirm_erased by a device that was not revoked",
            "SELECT sim.confirm_erased(0)",
            None,
        ),
    ]
    for what, query, params in checks:
        got = attempt(officer, what, query, params)
        assert got.sqlstate == "42501", (what, got)
    status = attempt(officer, "sim.team_status()", "SELECT sim.team_status()")
    assert [u["username"] for u in status.rows[0][0]["users"]] == ["officer"]
    assert {d["user"] for d in status.rows[0][0]["devices"]} == {str(world.user_ids["officer"])}


def test_pull_with_forged_arguments_shows_only_the_pairs_rows_and_no_clinical_text(
    world: World, officer, victims
):
    for after, limit in ((-1, 1000), (0, 10**9), (None, None), (-(2**62), -5)):
        got = attempt(
            officer, f"sim.pull({after}, {limit})", "SELECT sim.pull(%s, %s)", (after, limit)
        )
        assert got.sqlstate is None
        page = got.rows[0][0]
        rows = {c["row_id"] for c in page["changes"] + page["snapshots"]}
        assert str(victims["theirs"]) not in rows and str(victims["note"]) not in rows
        assert str(victims["mine"]) in rows
        assert all("clinical" not in c for c in page["changes"] + page["snapshots"])
        assert OTHER_CANARY_NAME not in str(page) and OTHER_CANARY_NHS not in str(page)


def test_the_bulk_snapshot_shows_an_officer_only_its_pairs_shared_people_and_no_clinical_text(
    world: World, officer, victims
):
    # On the officer's own pair: a person who withdrew consent, and a clinical note.
    withdrew, note = uuid.uuid4(), uuid.uuid4()
    results = world.push(
        "clinician",
        protocol.change("people", withdrew, person(world.pair_a, "Wendeline Stroud", None)),
        protocol.change(
            "consents",
            uuid.uuid4(),
            {
                "person_id": str(withdrew),
                "taking_part": True,
                "information_sharing": False,
                "recorded_on": "2026-03-01",
            },
        ),
        protocol.change(
            "contacts",
            note,
            {"person_id": str(victims["mine"]), "started_at": "2026-11-02T10:00:00+00:00"},
            clinical={"clinical_note": (b"\x03" * 40, 1)},
        ),
    )
    assert [r["status"] for r in results] == ["accepted"] * 3
    outside = attempt(
        officer, "sim.snapshot_rows() outside a transaction", "SELECT * FROM sim.snapshot_rows()"
    )
    assert outside.sqlstate == "25000"
    with officer.transaction(force_rollback=True):
        officer.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        head = attempt(officer, "sim.snapshot_begin()", "SELECT sim.snapshot_begin()")
        got = attempt(officer, "sim.snapshot_rows()", "SELECT * FROM sim.snapshot_rows()")
        with officer.cursor().copy("COPY (SELECT * FROM sim.snapshot_rows()) TO STDOUT") as copy:
            copied = b"".join(bytes(block) for block in copy)
    assert head.sqlstate is None and got.sqlstate is None
    people = {r[2] for r in got.rows}
    with world.db.admin_connect() as admin:
        shared = {
            r[0]
            for r in admin.execute(
                "SELECT person_id FROM sim.caseload WHERE pair_id = %s AND police_sharing",
                (world.pair_a,),
            )
        }
    assert people - {None} <= shared and victims["mine"] in people
    assert withdrew not in people and victims["theirs"] not in people
    assert {r[1] for r in got.rows if r[2] is None} == {world.pair_a}  # its own pair's row only
    assert all(r[6] is None for r in got.rows)  # no clinical ciphertext at all
    assert note in {r[1] for r in got.rows}
    for text in (OTHER_CANARY_NAME, OTHER_CANARY_NHS, "Wendeline"):
        assert text.encode() not in copied and text not in str(got.rows)


def test_push_with_forged_author_and_device_records_the_real_ones(world: World, officer, victims):
    forged = protocol.change(
        "contacts",
        uuid.uuid4(),
        {
            "person_id": str(victims["mine"]),
            "started_at": "2026-11-02T10:00:00+00:00",
            "duration_minutes": 30,
            "mechanism": "01",
            "attendance": "5",
            "staff_present": "both",
        },
    )
    forged |= {
        "device_id": str(world.devices["lead"].device_id),
        "author": str(world.user_ids["lead"]),
    }
    got = attempt(
        officer,
        "push claiming the lead's device and user",
        "SELECT sim.push(%s)",
        (Jsonb([forged]),),
    )
    assert got.rows[0][0]["results"][0]["status"] == "accepted"
    with world.db.admin_connect() as admin:
        row = admin.execute(
            "SELECT device_id, author FROM sim.changes WHERE change_id = %s", (forged["change_id"],)
        ).fetchone()
    assert row == (world.devices["officer"].device_id, world.user_ids["officer"])


def test_push_against_other_pairs_rows_is_refused_alike(world: World, officer, victims):
    cases = {
        "push: contact on another pair's person": protocol.change(
            "contacts", uuid.uuid4(), {"person_id": str(victims["theirs"])}
        ),
        "push: contact on a person who does not exist": protocol.change(
            "contacts", uuid.uuid4(), {"person_id": str(uuid.uuid4())}
        ),
        "push: overwrite another pair's person": protocol.change(
            "people", victims["theirs"], person(world.pair_a, "Taken", None)
        ),
        "push: delete another pair's person": protocol.change(
            "people", victims["theirs"], None, op="delete"
        ),
        "push: delete a row that does not exist": protocol.change(
            "people", uuid.uuid4(), None, op="delete"
        ),
        "push: overwrite another pair's clinical note row": protocol.change(
            "contacts", victims["note"], {"person_id": str(victims["mine"])}
        ),
        "push: a person onto another pair's caseload": protocol.change(
            "people", uuid.uuid4(), person(world.pair_b, "Planted", None)
        ),
        "push: a pair (leads only)": protocol.change(
            "pairs", world.pair_b, {"officer_id": str(world.user_ids["officer"])}
        ),
        "push: a person with no pair (leads only)": protocol.change(
            "people", uuid.uuid4(), {**person(world.pair_a, "Unpaired", None), "pair_id": None}
        ),
        "push: an s136 episode under another pair's incident": protocol.change(
            "s136_episodes", uuid.uuid4(), {"incident_id": str(victims["theirs"])}
        ),
        "push: a revision of another pair's contact": protocol.change(
            "contact_revisions", uuid.uuid4(), {"contact_id": str(victims["note"])}
        ),
        "push: clinical text from an officer": protocol.change(
            "contacts",
            uuid.uuid4(),
            {"person_id": str(victims["mine"])},
            clinical={"clinical_note": (b"x", 1)},
        ),
    }
    answers = {}
    for what, change in cases.items():
        got = attempt(officer, what, "SELECT sim.push(%s)", (Jsonb([change]),))
        answers[what] = {k: v for k, v in got.rows[0][0]["results"][0].items() if k != "change_id"}
    assert all(a == {"status": "refused", "code": "not_permitted"} for a in answers.values()), (
        answers
    )
    with world.db.admin_connect() as admin:
        theirs = admin.execute(
            "SELECT payload->>'given_name', deleted FROM sim.rows WHERE row_id = %s",
            (victims["theirs"],),
        ).fetchone()
        pair_b = admin.execute(
            "SELECT officer_id FROM sim.pairs WHERE id = %s", (world.pair_b,)
        ).fetchone()
    assert theirs == (OTHER_CANARY_NAME, False)
    assert pair_b == (world.user_ids["officer2"],)


def test_sql_in_table_names_and_payloads_is_only_ever_data(world: World, officer, victims):
    evil = "x'); DROP TABLE sim.rows; --"
    for table in (evil, 'people"; DROP TABLE sim.rows; --', "sim.rows", "../people"):
        got = attempt(
            officer,
            f"push to table {table!r}",
            "SELECT sim.push(%s)",
            (Jsonb([protocol.change(table, uuid.uuid4(), {"a": 1})]),),
        )
        assert got.rows[0][0]["results"][0]["code"] in ("unknown_table", "invalid")
    row = uuid.uuid4()
    got = attempt(
        officer,
        "push a person whose name is SQL",
        "SELECT sim.push(%s)",
        (
            Jsonb(
                [
                    protocol.change(
                        "people",
                        row,
                        person(world.pair_a, evil, None, family_name="'||pg_sleep(5)||'"),
                    )
                ]
            ),
        ),
    )
    assert got.rows[0][0]["results"][0]["status"] == "accepted"
    with world.db.admin_connect() as admin:
        stored = admin.execute(
            "SELECT payload->>'given_name' FROM sim.rows WHERE row_id = %s", (row,)
        ).fetchone()
        assert admin.execute("SELECT to_regclass('sim.rows') IS NOT NULL").fetchone() == (True,)
    assert stored == (evil,)
    for what, payload in (
        ("push: not an array", Jsonb({"change_id": "x"})),
        ("push: a string", Jsonb("'; DROP TABLE sim.rows; --")),
        ("push: NULL", None),
    ):
        got = attempt(officer, what, "SELECT sim.push(%s)", (payload,))
        assert got.sqlstate == "22023", (what, got)
    # Over the 2 MiB a change may be (schema 0008; 256 KiB before it).
    huge = protocol.change("people", uuid.uuid4(), person(world.pair_a, "H" * 2_200_000, None))
    got = attempt(officer, "push a 2.2 MB row", "SELECT sim.push(%s)", (Jsonb([huge]),))
    assert got.rows[0][0]["results"][0]["code"] == "invalid"


# -- locks, time and transactions --------------------------------------------------------------


def test_advisory_locks_are_harmless(world: World, officer, victims):
    for key in (0, 1, 42, 2**31 - 1):
        assert not attempt(
            officer, f"pg_advisory_lock({key})", "SELECT pg_advisory_lock(%s)", (key,)
        ).refused
    attempt(officer, "pg_advisory_lock(0, 0)", "SELECT pg_advisory_lock(0, 0)")
    started = time.monotonic()
    result = world.push(
        "clinician", protocol.change("contacts", uuid.uuid4(), {"person_id": str(victims["mine"])})
    )[0]
    assert result["status"] == "accepted" and time.monotonic() - started < 5  # never waited


def test_holding_the_team_lock_is_ended_by_the_next_push(world: World, victims):
    """A device that pushes inside a transaction and never commits holds the team lock, with its
    own timeouts switched off. The next push waits briefly, ends that session and goes on."""
    with world.db.admin_connect() as admin:
        admin.execute("UPDATE sim.team SET lock_wait = '300 ms', stalled_after = '1 second'")
        admin.commit()
    holder = world.db.login(
        world.devices["officer"].login_role, world.devices["officer"].secret, autocommit=False
    )
    try:
        for setting in ("statement_timeout", "idle_in_transaction_session_timeout", "lock_timeout"):
            holder.execute(sql.SQL("SET {} = 0").format(sql.Identifier(setting)))
        first = attempt(
            holder,
            "BEGIN; sim.push(...) and never commit (timeouts set to 0)",
            "SELECT sim.push(%s)",
            (
                Jsonb(
                    [protocol.change("contacts", uuid.uuid4(), {"person_id": str(victims["mine"])})]
                ),
            ),
        )
        assert first.rows[0][0]["results"][0]["status"] == "accepted"
        deadline = time.monotonic() + 30
        answers = []
        while time.monotonic() < deadline:
            with protocol.device_connection(world.devices["clinician"]) as conn:
                answer = protocol.push(
                    conn,
                    [
                        protocol.change(
                            "contacts", uuid.uuid4(), {"person_id": str(victims["mine"])}
                        )
                    ],
                )
            answers.append(answer["status"])
            if answer["status"] == "done":
                break
        assert answers[-1] == "done" and set(answers) <= {"busy", "done"}
        got = attempt(holder, "the lock holder's next statement", "SELECT 1")
        assert got.sqlstate in ("57P01", "08000", "08006", "?????"), got  # ended by the server
        REPORT.append(("clinician's push meanwhile", f"{answers}"))
    finally:
        holder.close()
        with world.db.admin_connect() as admin:
            admin.execute(
                "UPDATE sim.team SET lock_wait = '5 seconds', stalled_after = '45 seconds'"
            )
            admin.commit()


def test_a_long_statement_is_stopped_by_the_roles_statement_timeout(world: World):
    officer_role = world.devices["officer"].login_role
    with world.connect("officer") as conn:
        shown = attempt(
            conn, "SHOW statement_timeout (the role's default)", "SHOW statement_timeout"
        )
        assert shown.rows == [("30s",)]
    with world.db.admin_connect(
        autocommit=True
    ) as admin:  # shortened here only to keep the test quick
        admin.execute(
            sql.SQL("ALTER ROLE {} SET statement_timeout = '500ms'").format(
                sql.Identifier(officer_role)
            )
        )
    try:
        with world.connect("officer") as conn:
            got = attempt(conn, "SELECT pg_sleep(5) under statement_timeout", "SELECT pg_sleep(5)")
        assert got.sqlstate == "57014"
    finally:
        with world.db.admin_connect(autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} SET statement_timeout = '30s'").format(
                    sql.Identifier(officer_role)
                )
            )


def test_prepared_transactions_cannot_keep_a_lock_past_the_session(world: World, victims):
    conn = world.db.login(
        world.devices["officer"].login_role, world.devices["officer"].secret, autocommit=False
    )
    try:
        conn.execute(
            "SELECT sim.push(%s)",
            (
                Jsonb(
                    [protocol.change("contacts", uuid.uuid4(), {"person_id": str(victims["mine"])})]
                ),
            ),
        )
        got = attempt(
            conn, "PREPARE TRANSACTION after a push", "PREPARE TRANSACTION 'keep-the-lock'"
        )
        assert got.refused
    finally:
        conn.close()


def test_a_device_has_at_most_four_connections(world: World):
    world.wait_until_sessions_end("officer")
    conns = [world.connect("officer") for _ in range(4)]
    try:
        with pytest.raises(psycopg.OperationalError) as refused:
            world.connect("officer")
        REPORT.append(
            ("a fifth connection at once", str(refused.value).strip().splitlines()[-1][:140])
        )
        assert "too many connections" in str(refused.value)
    finally:
        for conn in conns:
            conn.close()
        world.wait_until_sessions_end("officer")


# -- objects, roles and catalogues -------------------------------------------------------------


def test_no_object_can_be_created(officer):
    for what, statement in (
        ("CREATE TABLE sim.x", "CREATE TABLE sim.x (a int)"),
        ("CREATE TABLE public.x", "CREATE TABLE public.x (a int)"),
        ("CREATE TEMP TABLE", "CREATE TEMP TABLE x (a int)"),
        (
            "CREATE FUNCTION sim.caller_device() (shadowing)",
            "CREATE FUNCTION sim.caller_device() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'",
        ),
        (
            "CREATE FUNCTION public.f",
            "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        ),
        ("CREATE SCHEMA", "CREATE SCHEMA evil"),
        ("CREATE ROLE", "CREATE ROLE evil LOGIN PASSWORD 'x'"),
        ("CREATE EXTENSION dblink", "CREATE EXTENSION dblink"),
    ):
        got = attempt(officer, what, statement)
        assert got.refused, (what, got)
        assert got.sqlstate in ("42501", "0A000", "58P01"), (what, got)


def test_no_other_role_can_be_taken_on(world: World, officer):
    roles = world.roles
    targets = [
        roles.owner,
        roles.resolver,
        roles.rolemgr,
        roles.dedup,
        roles.invitee,
        world.devices["lead"].login_role,
        world.devices["officer2"].login_role,
        "simadmin",
    ]
    for target in targets:
        got = attempt(
            officer, f"SET ROLE {target}", sql.SQL("SET ROLE {}").format(sql.Identifier(target))
        )
        assert got.sqlstate == "42501", (target, got)
        got = attempt(
            officer,
            f"SET SESSION AUTHORIZATION {target}",
            sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(target)),
        )
        assert got.sqlstate == "42501", (target, got)
    # The device's own group: allowed (it is a member), and it gains nothing.
    assert not attempt(
        officer,
        f"SET ROLE {roles.device}",
        sql.SQL("SET ROLE {}").format(sql.Identifier(roles.device)),
    ).refused
    assert (
        attempt(officer, "SELECT sim.rows as the device group", "SELECT * FROM sim.rows").sqlstate
        == "42501"
    )
    attempt(officer, "RESET ROLE", "RESET ROLE")
    me = sql.Identifier(world.devices["officer"].login_role)
    for what, statement in (
        ("ALTER ROLE self CREATEROLE", sql.SQL("ALTER ROLE {} CREATEROLE").format(me)),
        ("ALTER ROLE self BYPASSRLS", sql.SQL("ALTER ROLE {} BYPASSRLS").format(me)),
        (
            "ALTER ROLE self CONNECTION LIMIT -1",
            sql.SQL("ALTER ROLE {} CONNECTION LIMIT -1").format(me),
        ),
        (
            f"GRANT {roles.owner} TO self",
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(roles.owner), me),
        ),
        (
            "ALTER ROLE lead's device PASSWORD",
            sql.SQL("ALTER ROLE {} PASSWORD 'x'").format(
                sql.Identifier(world.devices["lead"].login_role)
            ),
        ),
    ):
        got = attempt(officer, what, statement)
        assert got.sqlstate == "42501", (what, got)


def test_the_catalogues_give_nothing_away(world: World, officer):
    for what, query in (
        ("SELECT pg_authid", "SELECT rolname, rolpassword FROM pg_authid"),
        ("SELECT pg_shadow", "SELECT * FROM pg_shadow"),
        ("pg_read_file", "SELECT pg_read_file('postgresql.conf')"),
        ("COPY FROM PROGRAM", "COPY (SELECT 1) TO PROGRAM 'id'"),
        ("lo_import", "SELECT lo_import('/etc/passwd')"),
    ):
        got = attempt(officer, what, query)
        assert got.sqlstate == "42501", (what, got)
    passwords = attempt(
        officer, "pg_roles.rolpassword", "SELECT DISTINCT rolpassword FROM pg_roles"
    )
    assert passwords.rows == [("********",)]
    stats = attempt(
        officer, "pg_stats for sim tables", "SELECT count(*) FROM pg_stats WHERE schemaname = 'sim'"
    )
    assert stats.rows == [(0,)]
    with world.connect("clinician") as other:
        other_pid = other.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        other.execute("SELECT sim.hello()")
        seen = attempt(
            officer,
            "pg_stat_activity: another device's query",
            "SELECT query FROM pg_stat_activity WHERE pid = %s",
            (other_pid,),
        )
        assert seen.rows == [("<insufficient privilege>",)]
        for verb in ("pg_terminate_backend", "pg_cancel_backend"):
            got = attempt(
                officer, f"{verb}(another device)", sql.SQL(f"SELECT {verb}(%s)"), (other_pid,)
            )
            assert got.sqlstate == "42501"


def test_search_path_of_the_caller_does_not_reach_the_functions(officer):
    attempt(officer, "SET search_path = pg_temp, public", "SET search_path = pg_temp, public")
    got = attempt(officer, "sim.hello() with that search_path", "SELECT sim.hello()")
    assert got.sqlstate is None and got.rows[0][0]["user"]["username"] == "officer"


# -- invitations, revoked and forged devices ---------------------------------------------------


def test_an_invitation_login_can_only_join_once(world: World, tmp_path):
    with protocol.device_connection(world.devices["lead"]) as conn:
        invitation = create_invitation(conn, world.db.address, username="newcomer", role="officer")
    from sim_desk.teamserver.connection import invitation_login_password

    with world.db.login(
        invitation.login_role, invitation_login_password(invitation.secret)
    ) as guest:
        for what, query in (
            ("invitation login: SELECT sim.rows", "SELECT * FROM sim.rows"),
            ("invitation login: sim.pull", "SELECT sim.pull(0, 10)"),
            ("invitation login: sim.push", "SELECT sim.push('[]')"),
            ("invitation login: sim.hello", "SELECT sim.hello()"),
        ):
            assert attempt(guest, what, query).sqlstate == "42501", what
        got = attempt(
            guest,
            "join_team with a plaintext password as the verifier",
            "SELECT sim.join_team(%s, %s)",
            ("hunter2-plaintext", b"k" * 32),
        )
        assert got.sqlstate == "22023"
        got = attempt(
            guest,
            "join_team with an md5 hash as the verifier",
            "SELECT sim.join_team(%s, %s)",
            ("md5" + "0" * 32, b"k" * 32),
        )
        assert got.sqlstate == "22023"
        verifier = protocol_verifier(guest)
        assert not attempt(
            guest, "join_team (first time)", "SELECT sim.join_team(%s, %s)", (verifier, b"k" * 32)
        ).refused
        got = attempt(
            guest,
            "join_team again with the same invitation",
            "SELECT sim.join_team(%s, %s)",
            (protocol_verifier(guest), b"j" * 32),
        )
        assert got.sqlstate == "42501"
    with pytest.raises(psycopg.OperationalError) as refused:
        world.db.login(invitation.login_role, invitation_login_password(invitation.secret))
    REPORT.append(
        ("log in again with a used invitation", str(refused.value).strip().splitlines()[-1][:140])
    )


def protocol_verifier(conn: psycopg.Connection[Any]) -> str:
    from sim_desk.teamserver.connection import scram_verifier

    return scram_verifier(conn, new_secret())


@pytest.fixture
def spare_officer_device(world: World, _team_template, tmp_path) -> Any:
    """A second laptop of the officer's (another vault copy), to revoke without harming others."""
    source = _team_template[0]
    shutil.copytree(source, tmp_path / "vault")
    team = Team(
        VaultPaths.at(tmp_path / "vault" / "team.simvault"),
        AppDirs(tmp_path / "d", tmp_path / "s", tmp_path / "c"),
        "",
        world.pair_a,
        world.pair_b,
        fixed_clock,
    )
    with protocol.device_connection(world.devices["lead"]) as conn:
        invitation = create_invitation(
            conn,
            world.db.address,
            username="officer",
            role="officer",
            user_id=world.user_ids["officer"],
        )
    with team.unlock("officer") as vault:
        return join_team(vault, invitation).credential


def test_a_revoked_device_is_cut_off_at_once(world: World, victims, spare_officer_device):
    """Its sessions end; its login (the copied credential) may still connect, but only to be
    told "revoked: erase" and to confirm the erasure, which disables it for good."""
    device = spare_officer_device
    session = world.db.login(device.login_role, device.secret)
    assert not attempt(
        session, "spare device: sim.hello() before revocation", "SELECT sim.hello()"
    ).refused
    with protocol.device_connection(world.devices["lead"]) as conn:
        assert protocol.revoke_device(conn, device.device_id)
    got = attempt(
        session,
        "revoked device's open session: sim.push",
        "SELECT sim.push(%s)",
        (Jsonb([protocol.change("contacts", uuid.uuid4(), {"person_id": str(victims["mine"])})]),),
    )
    assert got.refused and got.sqlstate in ("57P01", "08000", "08006", "?????")
    session.close()
    with world.db.login(device.login_role, device.secret) as again:
        refused_everything_but_standing(again, victims, "revoked, logged in again")
        told = attempt(again, "revoked: sim.device_standing()", "SELECT sim.device_standing()")
        assert told.rows[0][0]["standing"] == "revoked"
        assert set(told.rows[0][0]) == {"standing", "device", "server_time"}  # nothing more
        told = attempt(
            again, "revoked: sim.sync_start(...)", "SELECT sim.sync_start(0, %s)", ("0" * 64,)
        )
        assert told.rows[0][0]["standing"] == "revoked"
        assert set(told.rows[0][0]) == {"standing", "device", "server_time"}  # nothing more
        assert not attempt(
            again, "revoked: sim.confirm_erased(0)", "SELECT sim.confirm_erased(0)"
        ).refused
    with pytest.raises(psycopg.OperationalError) as refused:
        world.db.login(device.login_role, device.secret)
    REPORT.append(
        (
            "revoked device logs in again after confirming its erasure",
            str(refused.value).strip().splitlines()[-1][:140],
        )
    )
    assert "not permitted to log in" in str(refused.value)


def refused_everything_but_standing(
    conn: psycopg.Connection[Any], victims: dict[str, uuid.UUID], who: str
) -> None:
    """Every function that reads or writes, and every table, refuses ``conn``."""
    change = Jsonb([protocol.change("contacts", uuid.uuid4(), {"person_id": str(victims["mine"])})])
    for what, query, params in (
        ("sim.hello", "SELECT sim.hello()", None),
        ("sim.pull", "SELECT sim.pull(0, 10)", None),
        ("sim.push", "SELECT sim.push(%s)", (change,)),
        ("sim.team_status", "SELECT sim.team_status()", None),
        ("sim.set_replica_expiry", "SELECT sim.set_replica_expiry(NULL)", None),
        ("sim.revoked_devices", "SELECT sim.revoked_devices()", None),
        ("sim.resolve_merge_proposal", "SELECT sim.resolve_merge_proposal(%s)", (uuid.uuid4(),)),
        ("sim.revoke_device", "SELECT sim.revoke_device(%s)", (uuid.uuid4(),)),
        ("SELECT sim.rows", "SELECT * FROM sim.rows", None),
        ("SELECT sim.changes", "SELECT * FROM sim.changes", None),
        ("SELECT sim.devices", "SELECT * FROM sim.devices", None),
    ):
        got = attempt(conn, f"{who}: {what}", query, params)
        assert got.sqlstate == "42501", (what, got)
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        got = attempt(conn, f"{who}: sim.snapshot_begin", "SELECT sim.snapshot_begin()")
        assert got.sqlstate == "42501", got
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        got = attempt(conn, f"{who}: sim.snapshot_rows", "SELECT * FROM sim.snapshot_rows()")
        assert got.sqlstate == "42501", got
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        got = attempt(
            conn,
            f"{who}: sim.snapshot_stream",
            "SELECT sim.snapshot_stream(%s::text[])",
            (["people", "contacts"],),
        )
        assert got.sqlstate == "42501", got


def test_every_function_refuses_a_revoked_device_whose_session_survived(
    world: World, victims, spare_officer_device
):
    """Should ending its sessions ever fail, the device is still refused by every function."""
    device = spare_officer_device
    session = world.db.login(device.login_role, device.secret)
    try:
        with world.db.admin_connect() as admin:  # revoked in the table only: its login still works
            admin.execute(
                "UPDATE sim.devices SET revoked_at = now() WHERE id = %s", (device.device_id,)
            )
            admin.commit()
        for what, query, params in (
            ("revoked (session kept): sim.hello", "SELECT sim.hello()", None),
            ("revoked (session kept): sim.pull", "SELECT sim.pull(0, 10)", None),
            (
                "revoked (session kept): sim.push",
                "SELECT sim.push(%s)",
                (
                    Jsonb(
                        [
                            protocol.change(
                                "contacts", uuid.uuid4(), {"person_id": str(victims["mine"])}
                            )
                        ]
                    ),
                ),
            ),
            ("revoked (session kept): sim.team_status", "SELECT sim.team_status()", None),
        ):
            got = attempt(session, what, query, params)
            assert got.sqlstate == "42501", (what, got)
    finally:
        session.close()


def test_pushes_from_many_sessions_of_one_device_cannot_jump_the_queue(world: World, victims):
    """Two sessions of the same device pushing at once are numbered one after the other."""
    seqs: list[int] = []

    def push_some() -> None:
        for _ in range(10):
            results = world.push(
                "officer",
                protocol.change("contacts", uuid.uuid4(), {"person_id": str(victims["mine"])}),
            )
            seqs.append(results[0]["seq"])

    threads = [threading.Thread(target=push_some) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(seqs) == len(set(seqs)) == 20
