"""A demo vault (40 synthetic people) built once per session and copied for each test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from sim_desk import demo
from sim_desk.records import access
from sim_desk.records.unlocked import UnlockedVault
from sim_desk.records.vault import VaultPaths

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

    def unlock(username: str) -> UnlockedVault:
        return access.unlock(demo_paths, username, demo.DEMO_LOGINS[username][0])

    return unlock
