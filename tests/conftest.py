"""Shared fixtures: real SQLCipher vaults in temporary folders, never a mock.

Creating a vault costs several Argon2id derivations (64 MiB each), so one template vault with a
team in it is made per test session and copied for each test that needs one.
"""

from __future__ import annotations

import functools
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

import tests.fuzzing  # noqa: F401  (loads the hypothesis profile before any test module)
from sim_desk.records import people
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.codes import Role
from sim_desk.records.team import users
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import slotcrypto, unlock
from sim_desk.records.vault.files import VaultPaths

PASSPHRASES = {
    "lead": "lead passphrase one",
    "officer": "officer passphrase two",
    "clinician": "clinician passphrase three",
    "analyst": "analyst passphrase four",
    "officer2": "second officer passphrase",
    "clinician2": "second clinician passphrase",
}
#: A fixed "now" so that dates in tests never drift: Monday 2 November 2026, 10:00 UK time.
FIXED_NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@dataclass
class Team:
    paths: VaultPaths
    dirs: AppDirs
    recovery_key: str
    pair_id: uuid.UUID
    other_pair_id: uuid.UUID
    clock: Callable[[], datetime]

    def unlock(self, username: str) -> UnlockedVault:
        return unlock.unlock(
            self.paths, username, PASSPHRASES[username], dirs=self.dirs, clock=self.clock
        )


def fixed_clock() -> datetime:
    return FIXED_NOW


_derive_once = functools.lru_cache(maxsize=None)(slotcrypto.derive_passphrase_key)


@pytest.fixture(autouse=True)
def _argon2_once_per_passphrase(request: pytest.FixtureRequest, monkeypatch) -> None:
    """Argon2id (64 MiB, t=3) for the same passphrase and salt is worked out once per test run.

    It is a pure function, so this changes no result, only the half second each unlock spends
    on it. Tests about passphrases themselves (marked ``real_kdf``) run it every time.
    """
    if request.node.get_closest_marker("real_kdf") is None:
        monkeypatch.setattr(slotcrypto, "derive_passphrase_key", _derive_once)


@pytest.fixture(autouse=True)
def _isolated_app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the real user folders."""
    monkeypatch.setenv("SIM_DESK_HOME", str(tmp_path / "sim-home"))
    monkeypatch.delenv("SIM_DESK_PASSPHRASE", raising=False)


@pytest.fixture(scope="session")
def _team_template(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, str, uuid.UUID, uuid.UUID]:
    folder = tmp_path_factory.mktemp("template")
    paths = VaultPaths.at(folder / "vault" / "team.simvault")
    dirs = AppDirs(folder / "d", folder / "s", folder / "c")
    new = unlock.create_vault(
        paths,
        team_name="North Team",
        username="lead",
        display_name="Lee Lead",
        passphrase=PASSPHRASES["lead"],
        clinical_lead=True,
        clock=fixed_clock,
    )
    with unlock.unlock(paths, "lead", PASSPHRASES["lead"], dirs=dirs, clock=fixed_clock) as lead:
        ids = {}
        for name, role, shown in (
            ("officer", Role.OFFICER, "Olu Officer"),
            ("clinician", Role.CLINICIAN, "Cleo Clinician"),
            ("analyst", Role.ANALYST, "Ana Analyst"),
            ("officer2", Role.OFFICER, "Omar Officer"),
            ("clinician2", Role.CLINICIAN, "Chen Clinician"),
        ):
            ids[name] = users.add_user(
                lead, username=name, display_name=shown, role=role, passphrase=PASSPHRASES[name]
            )
        pair = people.create_pair(
            lead, name="Pair A", officer_id=ids["officer"], clinician_id=ids["clinician"]
        )
        other = people.create_pair(
            lead, name="Pair B", officer_id=ids["officer2"], clinician_id=ids["clinician2"]
        )
    return paths.database.parent, new.recovery_key, pair, other


@pytest.fixture
def team(_team_template: tuple[Path, str, uuid.UUID, uuid.UUID], tmp_path: Path) -> Team:
    """A fresh copy of a vault with a lead, two pairs and an analyst."""
    source, recovery_key, pair, other = _team_template
    target = tmp_path / "vault"
    shutil.copytree(source, target)
    return Team(
        VaultPaths.at(target / "team.simvault"),
        AppDirs.default(),
        recovery_key,
        pair,
        other,
        fixed_clock,
    )


@pytest.fixture
def lead(team: Team) -> Iterator[UnlockedVault]:
    with team.unlock("lead") as vault:
        yield vault


@pytest.fixture
def officer(team: Team) -> Iterator[UnlockedVault]:
    with team.unlock("officer") as vault:
        yield vault


@pytest.fixture
def clinician(team: Team) -> Iterator[UnlockedVault]:
    with team.unlock("clinician") as vault:
        yield vault
