"""When this laptop last backed up each vault, and what the reminder on Today says about it.

The dates live in a small JSON file of our own beside the settings (``backups.json`` in the user
config folder), keyed by vault id: no names, no paths, nothing but ids and dates. A backup made
on another laptop or with the command line is not seen here, so the reminder says "on this
laptop". A vault never backed up here gets the same grace as a fresh backup, counted from the
first time this laptop opened it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.records.vault.fileio import write_atomic
from sim_desk.ui.widgets import format_date

#: A backup older than this many days is overdue.
REMINDER_DAYS = 7
FILE_NAME = "backups.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BackupState:
    last_backup: datetime | None = None
    first_seen: datetime | None = None
    snoozed_until: date | None = None


def _parse_datetime(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _parse_date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class BackupLog:
    """Reads and writes ``backups.json``. A missing or unreadable file counts as empty: the
    worst that happens is an early reminder."""

    def __init__(self, dirs: AppDirs) -> None:
        self.dirs = dirs

    @property
    def path(self) -> Path:
        return self.dirs.config / FILE_NAME

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            vaults = data.get("vaults", {}) if isinstance(data, dict) else {}
            return {str(k): dict(v) for k, v in vaults.items() if isinstance(v, dict)}
        except (OSError, ValueError):
            return {}

    def _update(self, vault_id: uuid.UUID, change: Callable[[dict[str, str]], object]) -> None:
        vaults = self._read()
        entry = vaults.setdefault(str(vault_id), {})
        change(entry)
        self.dirs.ensure(self.dirs.config)
        body = {"version": FORMAT_VERSION, "vaults": vaults}
        write_atomic(self.path, json.dumps(body, indent=2, sort_keys=True).encode("utf-8"))

    def state(self, vault_id: uuid.UUID) -> BackupState:
        entry = self._read().get(str(vault_id), {})
        return BackupState(
            last_backup=_parse_datetime(entry.get("last_backup")),
            first_seen=_parse_datetime(entry.get("first_seen")),
            snoozed_until=_parse_date(entry.get("snoozed_until")),
        )

    def note_seen(self, vault_id: uuid.UUID, now: datetime) -> None:
        if self.state(vault_id).first_seen is None:
            self._update(vault_id, lambda e: e.setdefault("first_seen", now.isoformat()))

    def note_backup(self, vault_id: uuid.UUID, when: datetime) -> None:
        def change(entry: dict[str, str]) -> None:
            entry["last_backup"] = when.isoformat()
            entry.pop("snoozed_until", None)

        self._update(vault_id, change)

    def snooze(self, vault_id: uuid.UUID, until: date) -> None:
        self._update(vault_id, lambda e: e.__setitem__("snoozed_until", until.isoformat()))


def reminder_text(state: BackupState, today: date) -> str | None:
    """What the reminder says, or None when no reminder is due."""
    if state.snoozed_until is not None and today < state.snoozed_until:
        return None
    if state.last_backup is not None:
        made = state.last_backup.astimezone(LOCAL_ZONE).date()
        days = (today - made).days
        if days <= REMINDER_DAYS:
            return None
        return (
            f"The last backup of this vault on this laptop was made on {format_date(made)},"
            f" {days} days ago. Back up now and keep the file away from this laptop, so that"
            " a lost or broken laptop loses nothing."
        )
    if state.first_seen is None:
        return None
    seen = state.first_seen.astimezone(LOCAL_ZONE).date()
    if (today - seen).days <= REMINDER_DAYS:
        return None
    return (
        "This vault has not been backed up on this laptop. Back up now and keep the file away"
        " from this laptop, so that a lost or broken laptop loses nothing."
    )
