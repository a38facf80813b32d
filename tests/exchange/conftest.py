"""A demo vault (40 synthetic people), and a vault built to be awkward for an export, each built
once per session and copied for each test."""

from __future__ import annotations

import random
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sim_desk import demo
from sim_desk.records import bulk, incidents, people
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.codes import ExitReason, IncidentSource, IncidentType, PersonStatus
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from tests.conftest import PASSPHRASES, fixed_clock

DEMO_SEED = 11


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIM_DESK_HOME", str(folder / "home"))
        demo.build_demo_vault(VaultPaths.at(folder / "vault" / "demo.simvault"), seed=DEMO_SEED)
    return folder / "vault"


@pytest.fixture
def demo_paths(_demo_template: Path, tmp_path: Path) -> VaultPaths:
    target = tmp_path / "demo-vault"
    shutil.copytree(_demo_template, target)
    return VaultPaths.at(target / "demo.simvault")


@pytest.fixture
def demo_unlock(demo_paths: VaultPaths) -> Callable[[str], UnlockedVault]:
    """Signs in to the copied demo vault as one of the demo users (system clock)."""

    def sign_in(username: str) -> UnlockedVault:
        return unlock.unlock(demo_paths, username, demo.DEMO_LOGINS[username][0])

    return sign_in


# -- a vault built to be awkward for an anonymised export ---------------------------------------

#: Who is in the awkward vault, and why each is there.
AWKWARD_ORDINARY = 36


@dataclass(frozen=True)
class Made:
    """One person of the awkward vault as built: what an outsider could know about them."""

    label: str
    person_id: uuid.UUID
    date_of_birth: date
    gender: str
    ethnic_category: str
    borough: str
    enrolled_on: date
    s136_before: int
    s136_after: int


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _add_person(
    lead,
    pair_id,
    rng,
    *,
    label,
    dob,
    gender,
    ethnic,
    borough,
    enrolled,
    before,
    after,
    closed=None,
    extra=(),
):
    person_id = people.create_person(
        lead,
        people.PersonDetails(
            given_name=f"Awk{label}",
            family_name="Wardname",
            date_of_birth=dob,
            ethnic_category=ethnic,
            gender=gender,
            borough=borough,
            referred_on=enrolled - timedelta(days=20),
            pair_id=pair_id,
        ),
    )
    people.change_status(lead, person_id, PersonStatus.ACTIVE, on=enrolled)
    items = []
    for n in range(before):
        day = enrolled - timedelta(days=1 + (n * 360) // max(before, 1))
        items.append((day, IncidentType.S136))
    for n in range(after):
        day = enrolled + timedelta(days=1 + (n * 200) // max(after, 1))
        items.append((day, IncidentType.S136))
    for day, kind in extra:
        items.append((day, kind))
    for _ in range(rng.randint(0, 4)):
        items.append((enrolled - timedelta(days=rng.randint(1, 360)), IncidentType.CALL_999))
    bulk.add_incidents(
        lead,
        [
            (
                person_id,
                incidents.IncidentDetails(
                    occurred_at=_at(day, 9 + i % 10),
                    incident_type=kind,
                    source=IncidentSource.POLICE
                    if kind in (IncidentType.S136, IncidentType.CALL_999)
                    else IncidentSource.NHS,
                ),
            )
            for i, (day, kind) in enumerate(items)
        ],
    )
    if closed is not None:
        on, reason = closed
        people.change_status(lead, person_id, PersonStatus.CLOSED, on=on, exit_reason=reason)
    return Made(label, person_id, dob, gender, ethnic, borough, enrolled, before, after)


@pytest.fixture(scope="session")
def _awkward_template(_team_template, tmp_path_factory):
    """36 ordinary people and the awkward ones: one very old person, one rare ethnicity, one
    outlier with 40 detentions before enrolment, twins (the same in every detail an outsider
    knows), and one death on the day the record closed."""
    source, _recovery, pair_id, _other = _team_template
    folder = tmp_path_factory.mktemp("awkward") / "vault"
    shutil.copytree(source, folder)
    paths = VaultPaths.at(folder / "team.simvault")
    dirs = AppDirs(folder.parent / "d", folder.parent / "s", folder.parent / "c")
    rng = random.Random(13)
    made = []
    with unlock.unlock(paths, "lead", PASSPHRASES["lead"], dirs=dirs, clock=fixed_clock) as lead:
        for n in range(AWKWARD_ORDINARY):
            made.append(
                _add_person(
                    lead,
                    pair_id,
                    rng,
                    label=f"ordinary{n}",
                    dob=date(1970 + rng.randint(0, 30), rng.randint(1, 12), rng.randint(1, 28)),
                    gender=rng.choice(["1", "2"]),
                    ethnic=rng.choice(["A", "A", "N", "H"]),
                    borough=rng.choice(["Lambeth", "Southwark", "Croydon"]),
                    enrolled=date(2024, 1, 10) + timedelta(days=rng.randint(0, 700)),
                    before=rng.randint(1, 6),
                    after=rng.randint(0, 3),
                )
            )
        made.append(
            _add_person(
                lead,
                pair_id,
                rng,
                label="very old",
                dob=date(1931, 5, 2),
                gender="2",
                ethnic="A",
                borough="Lambeth",
                enrolled=date(2025, 2, 3),
                before=3,
                after=1,
            )
        )
        made.append(
            _add_person(
                lead,
                pair_id,
                rng,
                label="rare ethnicity",
                dob=date(1988, 3, 9),
                gender="1",
                ethnic="R",
                borough="Croydon",
                enrolled=date(2025, 6, 2),
                before=4,
                after=2,
            )
        )
        made.append(
            _add_person(
                lead,
                pair_id,
                rng,
                label="outlier",
                dob=date(1979, 8, 30),
                gender="1",
                ethnic="A",
                borough="Southwark",
                enrolled=date(2024, 11, 4),
                before=40,
                after=12,
            )
        )
        for twin in ("twin a", "twin b"):
            made.append(
                _add_person(
                    lead,
                    pair_id,
                    rng,
                    label=twin,
                    dob=date(1995, 7, 14),
                    gender="2",
                    ethnic="N",
                    borough="Lambeth",
                    enrolled=date(2025, 9, 1),
                    before=3,
                    after=1,
                )
            )
        made.append(
            _add_person(
                lead,
                pair_id,
                rng,
                label="died",
                dob=date(1966, 1, 20),
                gender="1",
                ethnic="H",
                borough="Croydon",
                enrolled=date(2025, 1, 6),
                before=5,
                after=2,
                closed=(date(2025, 10, 3), ExitReason.DIED),
                extra=[(date(2025, 10, 3), IncidentType.DEATH)],
            )
        )
    return folder, tuple(made)


@dataclass(frozen=True)
class Awkward:
    paths: VaultPaths
    made: tuple[Made, ...]

    def unlock(self, username: str) -> UnlockedVault:
        return unlock.unlock(self.paths, username, PASSPHRASES[username], clock=fixed_clock)


@pytest.fixture
def awkward(_awkward_template, tmp_path) -> Awkward:
    """A fresh copy of the awkward vault (FIXED_NOW: 2 November 2026)."""
    source, made = _awkward_template
    target = tmp_path / "awkward"
    shutil.copytree(source, target)
    return Awkward(VaultPaths.at(target / "team.simvault"), made)
