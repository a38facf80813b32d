"""User settings, declared once with type, default and meaning; stored as JSON (never pickled).

Nothing personal is kept here: the last vault path and user name help the unlock dialog, and
both can be turned off. The file lives in the user config folder (platformdirs), injectable for
tests through :class:`~sim_desk.records.appdirs.AppDirs`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.fileio import write_atomic

AUTO_LOCK_CHOICES = (1, 2, 5, 10, 15, 30)


@dataclass
class Settings:
    #: Minutes without keyboard or mouse use before the app locks itself (wall clock: a laptop
    #: asleep for an hour is locked when it wakes).
    auto_lock_minutes: int = 5
    #: Seconds before a copied NHS number is cleared from the clipboard.
    clipboard_clear_seconds: int = 30
    #: Remember which vault was open last, so the app can open it again.
    remember_vault: bool = True
    last_vault: str | None = None
    #: Remember the last user name on this laptop (not the passphrase, never).
    remember_user: bool = True
    last_user: str | None = None
    #: Outcome window length in months (6, 12 or 24).
    outcome_months: int = 12

    @staticmethod
    def path(dirs: AppDirs) -> Path:
        return dirs.config / "settings.json"

    @classmethod
    def load(cls, dirs: AppDirs) -> Settings:
        """Reads settings; a missing or damaged file gives the defaults (settings are not data)."""
        try:
            raw = json.loads(cls.path(dirs).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        settings = cls()
        for f in fields(cls):
            value = raw.get(f.name, getattr(settings, f.name))
            default = getattr(settings, f.name)
            if default is None or isinstance(value, type(default)):
                setattr(settings, f.name, value)
        if settings.auto_lock_minutes not in AUTO_LOCK_CHOICES:
            settings.auto_lock_minutes = 5
        if settings.outcome_months not in (6, 12, 24):
            settings.outcome_months = 12
        return settings

    def save(self, dirs: AppDirs) -> None:
        dirs.ensure(dirs.config)
        data = asdict(self)
        if not self.remember_vault:
            data["last_vault"] = None
        if not self.remember_user:
            data["last_user"] = None
        write_atomic(self.path(dirs), json.dumps(data, indent=2).encode("utf-8"))
