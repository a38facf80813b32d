"""A first sync's snapshot sorted by the server once (schema 0012) is the snapshot it was.

sim.snapshot_rows(table_order) must send a device exactly the rows, shaped exactly as, and in
exactly the order that the laptop used to get by sorting sim.snapshot_rows() around it: for a
lead, an officer (no clinical text, no note clocks) and an analyst (figures only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from sim_desk.teamserver import protocol
from sim_desk.teamserver.sync import TABLE_ORDER
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import laptop


@pytest.fixture(scope="module")
def team(new_database, _team_template, tmp_path_factory) -> World:
    world = build_world(new_database(), _team_template, tmp_path_factory.mktemp("world"))
    lead = laptop(world, "lead", tmp_path_factory.mktemp("lead"))
    for n, pair in enumerate([world.pair_a, world.pair_b, world.pair_a]):
        person = lead.add_person(f"Person{n}", pair)
        for k in range(3):
            lead.log_contact(person, f"Walk {k}", clinical=f"Note {k}" if k else None)
    lead.sync()
    return world


def _rows(world: World, name: str, query: sql.Composable) -> list[tuple[Any, ...]]:
    with protocol.device_connection(world.devices[name]) as conn:
        conn.autocommit = True
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute("SELECT sim.snapshot_begin()")
            return conn.execute(query).fetchall()


@pytest.mark.parametrize("name", ["lead", "officer", "clinician", "analyst"])
def test_the_server_sorted_snapshot_is_the_laptop_sorted_one(team: World, name: str) -> None:
    order = sql.Literal(list(TABLE_ORDER))
    before = _rows(
        team,
        name,
        sql.SQL(
            "SELECT s.* FROM sim.snapshot_rows() s"
            " ORDER BY array_position({order}::text[], s.table_name) NULLS LAST,"
            " s.person_id, s.row_id"
        ).format(order=order),
    )
    now = _rows(
        team, name, sql.SQL("SELECT * FROM sim.snapshot_rows({order}::text[])").format(order=order)
    )
    assert len(before) > 10
    assert now == before


def test_a_table_order_that_is_not_one_is_refused(team: World) -> None:
    import psycopg

    with pytest.raises(psycopg.errors.InvalidParameterValue):
        _rows(team, "lead", sql.SQL("SELECT * FROM sim.snapshot_rows(NULL::text[])"))


def test_a_lead_s_first_sync_reads_the_server_sorted_snapshot(team: World, tmp_path: Path) -> None:
    lead = laptop(team, "lead", tmp_path)
    report = lead.sync()
    assert report.first_sync and report.pulled_rows > 10 and report.held == 0
