"""Where SIM Desk keeps things on this computer (platformdirs), injectable for tests.

``SIM_DESK_HOME`` moves everything under one folder (tests, portable installs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "sim-desk"


@dataclass(frozen=True)
class AppDirs:
    data: Path  # vaults
    state: Path  # failed-unlock notes awaiting the audit log, window state
    config: Path  # settings (JSON)

    @classmethod
    def default(cls) -> AppDirs:
        home = os.environ.get("SIM_DESK_HOME")
        if home:
            root = Path(home).expanduser()
            return cls(root / "data", root / "state", root / "config")
        return cls(
            Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        )

    @property
    def default_vault(self) -> Path:
        return self.data / "team.simvault"

    @property
    def demo_vault(self) -> Path:
        return self.data / "demo.simvault"

    def ensure(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder
