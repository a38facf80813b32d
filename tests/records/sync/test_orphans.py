"""Rows a pull leaves pointing nowhere are found from what it wrote and deleted (``orphans``),
and held exactly as the whole-replica check (``PRAGMA foreign_key_check``) holds them.

The pulls: a snapshot in which one person never came (their rows point nowhere), then changes
that delete rows other rows point at by a key that is not their parent's (a visit plan its
planned visits name, and so, a round later, the contact that names one of those visits), and
a person taken off this laptop.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from sim_desk.records import sync
from sim_desk.records.sync import applying, orphans
from sim_desk.records.sync.tables import REPLICATED
from tests.conftest import Team
from tests.records.sync.test_bulk_snapshot import (  # noqa: F401 - source_rows: a fixture
    AT,
    DEVICE,
    copy_of,
    made_awkward,
    replica,
    source_rows,
)


def deleting(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A pull that deletes the visit plan a contact's planned visit came from, and takes a
    person off this laptop."""
    contact = next(
        r for r in rows if r["table"] == "contacts" and r["payload"].get("planned_visit_id")
    )
    visit = next(r for r in rows if r["row_id"] == contact["payload"]["planned_visit_id"])
    plan = next(r for r in rows if r["row_id"] == visit["payload"]["plan_id"])
    people = [r for r in rows if r["table"] == "people" and not r["deleted"]]
    taken_off = next(p for p in people if p["row_id"] != plan["person_id"])
    return {
        "cursor": 20,
        "changes": [
            {
                "seq": 20,
                "change_id": str(uuid.uuid4()),
                "table": "visit_plans",
                "row_id": plan["row_id"],
                "person_id": plan["person_id"],
                "op": "delete",
                "hlc": 1 << 52,
            }
        ],
        "removed": [taken_off["row_id"]],
    }


def pulled(target: Team, answers: list[dict[str, Any]]) -> list[tuple[int, int]]:
    with target.unlock("clinician") as vault:
        sync.begin(vault, DEVICE, "incarnation-1")
        results = [sync.apply_pull(vault, answer, now=AT) for answer in answers]
        with vault.read() as session:
            assert session.execute(text("PRAGMA foreign_key_check")).all() == []
    return [(r.rows, r.held) for r in results]


@pytest.fixture
def answers(team: Team, source_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:  # noqa: F811
    snapshot = made_awkward(json.loads(json.dumps(source_rows)), team.pair_id)
    return [{"snapshots": snapshot, "cursor": 10}, deleting(snapshot)]


def whole_replica_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    real = orphans.orphans
    monkeypatch.setattr(
        applying,
        "orphans",
        lambda session, written, deleted, thorough=False: real(
            session, written, deleted, thorough=True
        ),
    )


def test_the_rows_a_pull_touched_show_every_orphan_the_whole_replica_shows(
    team: Team, tmp_path: Path, answers: list[dict[str, Any]], monkeypatch
):
    found: list[list[tuple[str, int]]] = []
    real = orphans.orphans

    def noted(session, written, deleted, thorough=False):
        result = real(session, written, deleted, thorough=thorough)
        assert result == real(session, written, deleted, thorough=True)  # the same rows
        found.append(result)
        return result

    monkeypatch.setattr(applying, "orphans", noted)
    targeted, whole = copy_of(team, tmp_path / "targeted"), copy_of(team, tmp_path / "whole")
    results = pulled(targeted, answers)
    whole_replica_checked(monkeypatch)
    assert results == pulled(whole, answers)
    assert replica(targeted) == replica(whole)
    tables = {name for rows in found for name, _rowid in rows}
    # The missing person's rows (written), the planned visits of the deleted plan (deleted,
    # not by their parent key), and in the round after, the contact naming one of them.
    assert {"contacts", "consents", "planned_visits"} <= tables
    assert len([rows for rows in found if rows]) >= 3


def test_an_orphan_missed_is_refused_by_the_commit_and_the_pull_goes_in_again_whole(
    team: Team, tmp_path: Path, answers: list[dict[str, Any]], monkeypatch
):
    real = orphans.orphans
    calls: list[bool] = []

    def blind(session, written, deleted, thorough=False):
        calls.append(thorough)
        return real(session, written, deleted, thorough=True) if thorough else []

    monkeypatch.setattr(applying, "orphans", blind)
    missed = copy_of(team, tmp_path / "missed")
    results = pulled(missed, answers)
    assert True in calls and False in calls
    monkeypatch.undo()
    whole_replica_checked(monkeypatch)
    whole = copy_of(team, tmp_path / "whole")
    assert results == pulled(whole, answers)
    assert replica(missed) == replica(whole)


def test_a_commit_refused_for_another_reason_is_not_tried_again(team: Team, monkeypatch):
    attempts: list[bool] = []

    def refused(vault, answer, now, *, thorough):
        attempts.append(thorough)
        raise IntegrityError("COMMIT", {}, Exception("UNIQUE constraint failed: people.nhs"))

    monkeypatch.setattr(sync, "_apply_pull", refused)
    with team.unlock("clinician") as vault, pytest.raises(IntegrityError):
        sync.apply_pull(vault, {"cursor": 1}, now=AT)
    assert attempts == [False]


def test_every_key_between_replicated_rows_points_at_an_id():
    # orphans looks for a deleted row's children by its id: a key by another value would be
    # caught only by the commit's check, and the pull applied twice.
    targets = {fk.column.name for spec in REPLICATED for fk in spec.table.foreign_keys}
    assert targets == {"id"}
