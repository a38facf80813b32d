"""Leaving the team from a laptop (issue 21), as `sim-desk leave` does it: a final sync, then
the replica erased; refused while changes would be lost, unless told. Real vaults, a real
PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from sim_desk import cli
from sim_desk.records.model import Person, TeamServerDevice
from sim_desk.records.team import device
from tests.conftest import PASSPHRASES
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import Laptop, LaptopClock, laptop


@pytest.fixture
def team(new_database, _team_template, tmp_path) -> World:
    return build_world(
        new_database(), _team_template, tmp_path / "world", names=("lead", "officer", "clinician")
    )


@pytest.fixture
def laptops(team: World, tmp_path: Path) -> Callable[[str], Laptop]:
    def make(name: str) -> Laptop:
        machine = laptop(team, name, tmp_path)
        machine.clock = LaptopClock(at=datetime.now(UTC))
        return machine

    return make


def people_on(machine: Laptop) -> int:
    with machine.open() as vault, vault.read() as session:
        return int(session.execute(select(func.count()).select_from(Person)).scalar_one())


def joined(machine: Laptop) -> bool:
    with machine.open() as vault:
        return device.device_credential(vault) is not None


def test_leave_from_the_command_line_sends_what_waits_then_erases(
    team: World, laptops, capsys, monkeypatch
):
    officer = laptops("officer")
    officer.sync()
    officer.add_person("Kwame", team.pair_a)  # waiting: the final sync sends it
    monkeypatch.setenv("SIM_DESK_PASSPHRASE", PASSPHRASES["officer"])
    mine = ["--vault", str(officer.paths.database), "--user", "officer"]

    assert cli.main(["leave", *mine]) == cli.EXIT_OK
    said = capsys.readouterr().out
    assert "You have left North SIM" in said and "had reached the server" in said
    assert "Tell your team lead" in said  # an officer cannot revoke their own laptop
    assert people_on(officer) == 0 and not joined(officer)
    lead = laptops("lead")
    lead.sync()
    with lead.open() as vault, vault.read() as session:
        assert "Kwame" in session.execute(select(Person.given_name)).scalars().all()
    assert cli.main(["leave", *mine]) != cli.EXIT_OK  # not in a team any more: said plainly
    assert "not in team mode" in capsys.readouterr().err


def test_leave_will_not_lose_unsent_changes_unless_told(team: World, laptops, capsys, monkeypatch):
    officer = laptops("officer")
    officer.sync()
    officer.add_person("Grace", team.pair_a)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with officer.open() as vault, vault.write() as session:  # the server out of reach
        session.execute(update(TeamServerDevice).values(port=closed))
    monkeypatch.setenv("SIM_DESK_PASSPHRASE", PASSPHRASES["officer"])
    mine = ["--vault", str(officer.paths.database), "--user", "officer"]

    assert cli.main(["leave", *mine]) == cli.EXIT_DATA
    err = capsys.readouterr().err
    assert "have not reached the team server" in err and "Nothing was erased" in err
    assert people_on(officer) == 1 and joined(officer)

    assert cli.main(["leave", "--lose-changes", *mine]) == cli.EXIT_OK
    said = capsys.readouterr().out
    assert "The final sync did not complete" in said and "were lost" in said
    assert people_on(officer) == 0 and not joined(officer)
