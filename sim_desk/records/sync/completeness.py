"""How complete this laptop's picture of the team is (issue 20): what reports say in team mode.

A laptop in team mode holds what the team server had at its last sync, plus what was written
here since. At the end of each successful sync the server tells it when that was (server time)
and when each of the team's other laptops last synced (times only; a team lead is also told
whose); :func:`note_team_syncs` keeps that in ``sync_state``. Reports, exports and the CLI
summary read it through :func:`completeness` and say it in words with :func:`describe`, e.g.
"As of the last sync at 14:05 on 3 December 2026; 2 laptops of the team not synced since
1 December 2026".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from sim_desk.records.model import SyncOutboxEntry, SyncState, TeamServerDevice
from sim_desk.records.sync.outbox import sync_state
from sim_desk.records.unit_of_work import LOCAL_ZONE, UnlockedVault

#: Another laptop whose last sync is this much older than this laptop's counts as behind.
BEHIND = timedelta(hours=24)
#: This laptop's own last sync older than this is said in days.
STALE = timedelta(days=2)


@dataclass(frozen=True)
class OtherLaptop:
    last_synced: datetime | None
    #: Team leads only: whose laptop it is (user name) and its device id.
    user: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class Completeness:
    """This laptop's last successful sync (None: never) and the other laptops' as then known."""

    last_synced_at: datetime | None
    others: tuple[OtherLaptop, ...]
    #: Changes made here and not yet seen back by the server.
    unsent: int = 0

    def behind(self) -> list[OtherLaptop]:
        """Other laptops that had not synced within :data:`BEHIND` of this one's last sync."""
        if self.last_synced_at is None:
            return []
        edge = self.last_synced_at - BEHIND
        return [o for o in self.others if o.last_synced is None or o.last_synced < edge]


def _when(text: Any) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def note_team_syncs(vault: UnlockedVault, answer: Mapping[str, Any]) -> None:
    """Keeps the server's answer to a finished sync (``sim.sync_done``) in ``sync_state``."""
    with vault.write() as session:
        state = sync_state(session)
        if state is not None:
            keep_team_syncs(state, answer)


def keep_team_syncs(state: SyncState, answer: Mapping[str, Any]) -> None:
    """:func:`note_team_syncs` in a transaction of the caller's (the end of a sync)."""
    laptops = []
    for laptop in answer.get("laptops") or ():
        kept: dict[str, Any] = {"last_synced": laptop.get("last_synced")}
        if answer.get("lead"):
            kept["user"], kept["device"] = laptop.get("user"), laptop.get("device")
        laptops.append(kept)
    state.synced_ok_at = _when(answer.get("synced_at"))
    state.team_syncs = laptops


def completeness(vault: UnlockedVault) -> Completeness | None:
    """None unless this laptop is in team mode (the signed-in user has an active device
    credential); then what it knows of the team's syncs."""
    if vault.actor.user_id is None:
        return None
    with vault.read() as session:
        device = session.execute(
            select(TeamServerDevice.state).where(
                TeamServerDevice.local_user_id == vault.actor.user_id
            )
        ).scalar_one_or_none()
        if device != "active":
            return None
        state: SyncState | None = sync_state(session)
        if state is None:
            return Completeness(None, ())
        unsent = session.execute(
            select(func.count())
            .select_from(SyncOutboxEntry)
            .where(SyncOutboxEntry.state == "pending")
        ).scalar_one()
        others = tuple(
            OtherLaptop(_when(o.get("last_synced")), o.get("user"), o.get("device"))
            for o in state.team_syncs or ()
        )
        last = state.synced_ok_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        return Completeness(last, others, unsent)


def _at(moment: datetime) -> str:
    local = moment.astimezone(LOCAL_ZONE)
    return f"{local:%H:%M} on {local.day} {local:%B %Y}"


def _day(moment: datetime) -> str:
    local = moment.astimezone(LOCAL_ZONE)
    return f"{local.day} {local:%B %Y}"


def _laptops(n: int) -> str:
    return f"{n} laptop{'' if n == 1 else 's'}"


def describe(c: Completeness | None, now: datetime) -> str | None:
    """The sentence a report or export prints in team mode (None outside team mode)."""
    if c is None:
        return None
    if c.last_synced_at is None:
        return (
            "Team mode: this laptop has never synced with the team server, so this shows only"
            " what was entered on this laptop."
        )
    parts = [f"As of the last sync at {_at(c.last_synced_at)}"]
    if now - c.last_synced_at >= STALE:
        parts.append(f"this laptop has not synced for {(now - c.last_synced_at).days} days")
    behind = c.behind()
    never = [o for o in behind if o.last_synced is None]
    late = [o for o in behind if o.last_synced is not None]
    if late:
        oldest = min(o.last_synced for o in late if o.last_synced is not None)
        parts.append(f"{_laptops(len(late))} of the team not synced since {_day(oldest)}")
    if never:
        parts.append(f"{_laptops(len(never))} of the team never synced")
    if not behind and c.others:
        parts.append("every other laptop of the team synced within a day of it")
    if c.unsent:
        parts.append(f"{c.unsent} change(s) made here not yet sent")
    return "; ".join(parts) + "."


def who_is_behind(c: Completeness | None) -> list[str]:
    """Team leads: the users whose laptops are behind (empty for anyone else)."""
    if c is None:
        return []
    return sorted({o.user for o in c.behind() if o.user})


def for_export(vault: UnlockedVault) -> dict[str, Any] | None:
    """What an export's data dictionary says about completeness (None outside team mode)."""
    known = completeness(vault)
    said = describe(known, vault.now())
    if known is None or said is None:
        return None
    behind = known.behind()
    last = known.last_synced_at
    return {
        "statement": said,
        "last_synced_at": None if last is None else last.isoformat(),
        "other_laptops": len(known.others),
        "laptops_behind": sum(o.last_synced is not None for o in behind),
        "laptops_never_synced": sum(o.last_synced is None for o in behind),
        "changes_not_yet_sent": known.unsent,
    }
