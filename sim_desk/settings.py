"""User settings, declared once with type, default and meaning; stored as JSON (never pickled).

Each setting is a :class:`Setting` in :data:`SETTINGS` (as Electrum's ``ConfigVar``): its key in
the file, its type, its default, the values it may take, and what it is for. Reading the file
checks every value against its declaration; a value of the wrong type or out of range falls back
to the default, and a file that cannot be read at all gives every default. Either way the app
starts, and :attr:`Settings.problems` says in words what was set aside, for the app to show once.

Nothing personal is kept here: the last vault path and user name help the unlock dialog, and
both can be turned off. The file lives in the user config folder (platformdirs), injectable for
tests through :class:`~sim_desk.records.appdirs.AppDirs`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.vault.fileio import write_atomic

AUTO_LOCK_CHOICES = (1, 2, 5, 10, 15, 30)
OUTCOME_MONTHS_CHOICES = (6, 12, 24)


@dataclass(frozen=True)
class Setting:
    """One setting's declaration."""

    key: str
    kind: type
    default: Any
    description: str
    choices: tuple[Any, ...] | None = None
    optional: bool = False  # may be None (unset)
    max_length: int | None = None  # for text
    bounds: tuple[int, int] | None = None  # for numbers: lowest and highest allowed

    def check(self, value: Any) -> bool:
        """Whether ``value`` (as read from JSON) is one this setting may hold."""
        if value is None:
            return self.optional
        # bool is a subclass of int in Python; JSON's true must not pass as a number of minutes.
        if type(value) is not self.kind:
            return False
        if self.choices is not None and value not in self.choices:
            return False
        # The kind is checked above; isinstance says so to mypy, for whom a type is any type.
        if self.bounds is not None and not (
            isinstance(value, int) and self.bounds[0] <= value <= self.bounds[1]
        ):
            return False
        return self.max_length is None or (isinstance(value, str) and len(value) <= self.max_length)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "auto_lock_minutes",
        int,
        5,
        "Minutes without keyboard or mouse use before the app locks itself (wall clock: a"
        " laptop asleep for an hour is locked when it wakes).",
        choices=AUTO_LOCK_CHOICES,
    ),
    Setting(
        "clipboard_clear_seconds",
        int,
        30,
        "Seconds before a copied NHS number is cleared from the clipboard.",
        bounds=(5, 300),
    ),
    Setting("remember_vault", bool, True, "Remember which vault was open last."),
    Setting("last_vault", str, None, "The vault open last.", optional=True, max_length=4096),
    Setting(
        "remember_user",
        bool,
        True,
        "Remember the last user name on this laptop (never the passphrase).",
    ),
    Setting("last_user", str, None, "The user who signed in last.", optional=True, max_length=64),
    Setting(
        "outcome_months",
        int,
        12,
        "Outcome window length in months.",
        choices=OUTCOME_MONTHS_CHOICES,
    ),
)
_BY_KEY = {setting.key: setting for setting in SETTINGS}


@dataclass
class Settings:
    auto_lock_minutes: int = 5
    clipboard_clear_seconds: int = 30
    remember_vault: bool = True
    last_vault: str | None = None
    remember_user: bool = True
    last_user: str | None = None
    outcome_months: int = 12
    #: What reading the file set aside, in words (never the values: a path may name a person).
    problems: list[str] = field(default_factory=list, compare=False, repr=False)

    @staticmethod
    def path(dirs: AppDirs) -> Path:
        return dirs.config / "settings.json"

    @classmethod
    def load(cls, dirs: AppDirs) -> Settings:
        """Reads settings; a missing file gives the defaults quietly, a damaged one the
        defaults with a note in :attr:`problems` (settings are not data: start-up never fails
        on them)."""
        settings = cls()
        path = cls.path(dirs)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return settings
        except (OSError, ValueError, UnicodeError):
            settings.problems.append(
                f"The settings file {path} could not be read, so the usual settings are used."
                " Set them again on the Settings page."
            )
            return settings
        if not isinstance(raw, dict):
            settings.problems.append(
                f"The settings file {path} is not a settings file, so the usual settings are"
                " used. Set them again on the Settings page."
            )
            return settings
        set_aside = []
        for setting in SETTINGS:
            if setting.key not in raw:
                continue
            value = raw[setting.key]
            if setting.check(value):
                setattr(settings, setting.key, value)
            else:
                set_aside.append(setting.key.replace("_", " "))
        if set_aside:
            settings.problems.append(
                "Some settings in the settings file had values SIM Desk cannot use, so the usual"
                f" ones are used instead: {', '.join(set_aside)}."
            )
        return settings

    def save(self, dirs: AppDirs) -> None:
        """Writes every declared setting (atomically, owner-only). Refuses values that do not
        fit their declaration: a bug, not a user error."""
        dirs.ensure(dirs.config)
        data = {setting.key: getattr(self, setting.key) for setting in SETTINGS}
        if not self.remember_vault:
            data["last_vault"] = None
        if not self.remember_user:
            data["last_user"] = None
        wrong = [key for key, value in data.items() if not _BY_KEY[key].check(value)]
        if wrong:
            raise ValueError(f"settings of the wrong type or out of range: {', '.join(wrong)}")
        write_atomic(self.path(dirs), json.dumps(data, indent=2).encode("utf-8"))
