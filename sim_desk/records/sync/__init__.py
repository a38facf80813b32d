"""Syncing this laptop's replica with its team server: the records side (no network here).

The network side (``sim_desk.teamserver.sync``) calls these use cases in turn: :func:`begin`,
:func:`pending_changes` and :func:`record_push` for each push, :func:`apply_pull` for each
pull. Each is one local transaction, so a sync killed at any point leaves the vault as it was
after the last step that committed, and the next sync carries on from there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from sim_desk.records.codes import Role
from sim_desk.records.errors import SimDeskError, ValidationError
from sim_desk.records.model import (
    SyncChangedElsewhere,
    SyncMergeProposal,
    SyncOutboxEntry,
    SyncRow,
    SyncState,
)
from sim_desk.records.sync import bulk, clock, quiet, rebuild, storage
from sim_desk.records.sync.applying import Applied, Applier
from sim_desk.records.sync.elsewhere import ChangedElsewhere as ChangedElsewhere
from sim_desk.records.sync.elsewhere import changed_elsewhere as changed_elsewhere
from sim_desk.records.sync.elsewhere import (
    mark_changed_elsewhere_seen as mark_changed_elsewhere_seen,
)
from sim_desk.records.sync.incoming import from_change
from sim_desk.records.sync.outbox import APPLYING, attach, queue_unsynced, sync_state
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.store import SCHEMA_HEAD

#: The sync protocol this version speaks.
PROTOCOL = 2

STARTED = "sync.started"
PULLED = "sync.pulled"
NEW_INCARNATION = "sync.server_restored"


class ServerChanged(SimDeskError):
    """The server's incarnation changed while a sync was running."""


@dataclass(frozen=True)
class Begun:
    first_sync: bool
    queued: int
    restored: bool
    cursor: int


@dataclass(frozen=True)
class SyncStatus:
    syncing: bool
    cursor: int
    waiting: int
    sent_not_seen_back: int
    refused: int
    changed_elsewhere: int
    held: int
    merge_proposals: int
    #: Team leads: changes the server refused from any laptop, kept there for review.
    refused_for_review: int
    last_push_at: datetime | None
    last_pull_at: datetime | None
    last_error: str | None


def begin(vault: UnlockedVault, device_id: uuid.UUID, incarnation: str) -> Begun:
    """Starts a sync: the first one queues every record the server has not seen; a server
    whose incarnation changed (restored from a backup, failed over) is sent again everything
    not yet seen back, and this laptop's replica is rebuilt from a fresh snapshot."""
    if vault.actor.user_id is None:
        raise ValidationError("Sign in as yourself to sync, not with the recovery key.")
    with vault.write() as session:
        state = sync_state(session)
        if state is not None and state.device_id != device_id:
            raise ValidationError(
                "This vault syncs as another user's device. Sign in as that user to sync it,"
                " or use your own laptop's vault."
            )
        if state is None:
            state = SyncState(
                device_id=device_id,
                user_id=vault.actor.user_id,
                cursor=0,
                hlc=0,
                rebuilding=False,
                refused_for_review=0,
                incarnation=incarnation,
            )
            session.add(state)
            vault.audit(session, STARTED, "device", device_id)
            return Begun(True, 0, False, 0)
        restored = state.incarnation is not None and state.incarnation != incarnation
        if restored:
            session.execute(
                update(SyncOutboxEntry)
                .where(SyncOutboxEntry.state == "pushed")
                .values(state="pending", server_seq=None)
            )
            vault.audit(session, NEW_INCARNATION, "device", device_id, earlier_cursor=state.cursor)
            state.cursor = 0
            # The fresh snapshot is checked against this replica (rebuild.py): what the
            # server lost is queued again.
            state.rebuilding = True
            rebuild.start(session)
        state.incarnation = incarnation
        return Begun(False, 0, restored, state.cursor)


def queue_unsynced_records(vault: UnlockedVault) -> int:
    """After the first pull: queues every record here that the server did not send (made on
    this laptop before it synced). Returns how many."""
    with vault.write() as session:
        state = sync_state(session)
        if state is None:
            return 0
        return queue_unsynced(vault, session, state)


def cursor(vault: UnlockedVault) -> int:
    with vault.read() as session:
        state = sync_state(session)
        return state.cursor if state is not None else 0


def restamp_ahead(vault: UnlockedVault, server_time: datetime) -> int:
    """Changes stamped while this laptop's clock ran ahead of the server's (which refuses
    them) are stamped again now that it does not. Returns how many."""
    limit = clock.physical(server_time) + (clock.MAX_AHEAD_MS << 16)
    with vault.write() as session:
        state = sync_state(session)
        if state is None:
            return 0
        if state.hlc > limit:
            # Back to the right time, but still after every clock received before: the changes
            # stamped again were made after reading them. (One past the server's own time
            # would be refused again: the server's clock went back since.)
            received = min(state.received_hlc, clock.physical(server_time))
            state.hlc = max(clock.physical(min(vault.now(), server_time)), received)
        ahead = list(
            session.execute(
                select(SyncOutboxEntry)
                .where(
                    SyncOutboxEntry.state.in_(("pending", "refused")), SyncOutboxEntry.hlc > limit
                )
                .order_by(SyncOutboxEntry.seq)
            ).scalars()
        )
        for entry in ahead:
            old = clock.clock_string(
                entry.hlc, entry.id, withdrawal=clock.is_withdrawal(entry.table_name, entry.payload)
            )
            state.hlc = clock.advance(state.hlc, vault.now())
            entry.hlc = state.hlc
            entry.state, entry.code = "pending", None
            new = clock.clock_string(
                entry.hlc, entry.id, withdrawal=clock.is_withdrawal(entry.table_name, entry.payload)
            )
            shadow = session.get(SyncRow, entry.row_id)
            if shadow is not None:
                shadow.clocks = {n: (new if c == old else c) for n, c in shadow.clocks.items()}
        return len(ahead)


def pending_changes(vault: UnlockedVault, limit: int = 500) -> list[dict[str, Any]]:
    """The next changes to push, oldest first, as the server takes them."""
    with vault.read() as session:
        entries = session.execute(
            select(SyncOutboxEntry)
            .where(
                SyncOutboxEntry.state == "pending", SyncOutboxEntry.author_id == vault.actor.user_id
            )
            .order_by(SyncOutboxEntry.seq)
            .limit(limit)
        ).scalars()
        return [_as_change(entry) for entry in entries]


def _as_change(entry: SyncOutboxEntry) -> dict[str, Any]:
    change: dict[str, Any] = {
        "change_id": str(entry.id),
        "table": entry.table_name,
        "row_id": str(entry.row_id),
        "op": entry.op,
        "hlc": entry.hlc,
        "payload": entry.payload,
        "protocol": PROTOCOL,
        "schema": SCHEMA_HEAD,
    }
    if entry.clinical:
        change["clinical"] = entry.clinical
    if entry.base:
        change["base"] = entry.base
    return change


def record_push(
    vault: UnlockedVault, results: Sequence[Mapping[str, Any]], *, now: datetime
) -> dict[str, int]:
    """Notes the server's answer to each change pushed. A refused change keeps its own state
    and never holds back the changes behind it; one refused for a clock ahead of the server's
    waits to be stamped again."""
    counts = {"accepted": 0, "duplicate": 0, "refused": 0, "people_taken_off": 0}
    not_theirs: set[uuid.UUID] = set()
    with vault.write() as session:
        for result in results:
            change_id = result.get("change_id")
            if change_id is None:
                continue
            entry = session.get(SyncOutboxEntry, uuid.UUID(str(change_id)))
            if entry is None:
                continue
            status = str(result.get("status"))
            if status in ("accepted", "duplicate"):
                entry.state, entry.code = "pushed", None
                entry.server_seq = int(result["seq"]) if result.get("seq") is not None else None
                counts[status] += 1
            elif status == "refused":
                code = str(result.get("code") or "refused")
                entry.state, entry.code = ("pending" if code == "clock_ahead" else "refused"), code
                counts["refused"] += 1
                if code == "not_permitted" and entry.table_name == "people":
                    not_theirs.add(entry.row_id)
        if not_theirs and vault.actor.role in (Role.OFFICER, Role.CLINICIAN):
            # Not this laptop's to hold (another pair's, moved, not sharing with police); the
            # server keeps the refused changes for the lead, so nothing is lost.
            session.info[APPLYING] = True
            Applier(session, now=now).erase_people(not_theirs)
            counts["people_taken_off"] = len(not_theirs)
        state = sync_state(session)
        if state is not None:
            state.last_push_at = now
    return counts


def apply_pull(vault: UnlockedVault, answer: Mapping[str, Any], *, now: datetime) -> Applied:
    """Applies one pull's answer and moves the cursor, in one local transaction."""
    try:
        return _apply_pull(vault, answer, now, thorough=False)
    except IntegrityError as error:
        if "FOREIGN KEY" not in str(error.orig):
            raise
        # A row pointing nowhere that the pull's own rows did not lead to (see orphans): the
        # commit refused it and undid the pull, which goes in again with the whole replica
        # looked at.
        return _apply_pull(vault, answer, now, thorough=True)


def _apply_pull(
    vault: UnlockedVault, answer: Mapping[str, Any], now: datetime, *, thorough: bool
) -> Applied:
    with vault.write() as session:
        session.info[APPLYING] = True
        state = sync_state(session)
        if state is None:
            raise ValidationError("This vault does not sync yet: start a sync first.")
        theirs = answer.get("incarnation")
        if (
            theirs is not None
            and state.incarnation is not None
            and str(theirs) != state.incarnation
        ):
            # Restored or failed over since this sync began: nothing of this answer is applied;
            # the next begin() sees the new incarnation and sends again what it may have lost.
            raise ServerChanged(
                "The team server was restored or failed over during this sync. Sync again: this"
                " laptop then sends it everything it may have lost."
            )
        applier = Applier(
            session,
            now=now,
            rebuilding_for=vault.actor.user_id if state.rebuilding else None,
            fill_blanks=vault.actor.role is Role.ANALYST,
            thorough=thorough,
        )
        for person in answer.get("removed") or ():
            applier.erase_person(uuid.UUID(str(person)))
        bulk.apply_snapshots_of(applier, answer)
        seen_back = [uuid.UUID(str(c["change_id"])) for c in answer.get("changes") or ()]
        received = _latest_in(answer.get("snapshots") or ())
        kept = bulk.preload(applier, [c["row_id"] for c in answer.get("changes") or ()])
        for change in answer.get("changes") or ():
            applier.apply(from_change(change))
            received = max(received, int(change.get("hlc") or 0))
        applier.retry_held()
        applier.hold_orphans()
        del kept
        if "merge_proposals" in answer and quiet.proposals_differ(session, answer):
            applier.merge_proposals(answer.get("merge_proposals") or ())
        # A page of a bulk snapshot leaves the cursor where it is until the last page.
        cursor = int(answer["cursor"]) if answer.get("cursor") is not None else state.cursor
        if state.rebuilding and not answer.get("more"):
            applier.requeued += rebuild.finish(session, vault.actor.user_id)
            state.rebuilding = False
        for start in range(0, len(seen_back), 500):
            gone = session.execute(
                delete(SyncOutboxEntry).where(
                    SyncOutboxEntry.id.in_(seen_back[start : start + 500]),
                    SyncOutboxEntry.state == "pushed",
                )
            )
            applier.applied.seen_back += gone.rowcount or 0  # type: ignore[attr-defined]
        gone = session.execute(
            delete(SyncOutboxEntry).where(
                SyncOutboxEntry.state == "pushed", SyncOutboxEntry.server_seq <= cursor
            )
        )
        applier.applied.seen_back += gone.rowcount or 0  # type: ignore[attr-defined]
        # Past every time seen, however far behind this laptop's clock is: the next change here
        # is ordered after them. Each was accepted by the server, which refuses clocks more
        # than 5 minutes ahead of its own, so the server accepts what follows it too (and
        # restamp_ahead brings back a clock that ran ahead of the server's).
        state.received_hlc = max(state.received_hlc or 0, received)
        state.hlc = max(state.hlc, received)
        if cursor != state.cursor or quiet.carried_anything(answer):  # else the sync's end
            state.last_pull_at = now
        state.cursor = cursor
        if answer.get("refused_for_review") is not None:
            state.refused_for_review = int(answer["refused_for_review"])
        applied = applier.applied
        if applied.rows or applied.removed_people:
            vault.audit(
                session,
                PULLED,
                "device",
                state.device_id,
                rows=applied.rows,
                removed_people=applied.removed_people,
                cursor=cursor,
                sent_again=applier.requeued,
            )
        return applied


def note_error(vault: UnlockedVault, message: str | None) -> None:
    """Keeps the last sync's failure (in words, no secrets) for the status, or clears it."""
    with vault.write() as session:
        state = sync_state(session)
        if state is not None and state.last_error != message:
            state.last_error = message


def status(vault: UnlockedVault) -> SyncStatus:
    with vault.read() as session:
        state = sync_state(session)
        counts = dict(
            session.execute(
                select(SyncOutboxEntry.state, func.count()).group_by(SyncOutboxEntry.state)
            ).all()
        )
        unseen = session.execute(
            select(func.count())
            .select_from(SyncChangedElsewhere)
            .where(SyncChangedElsewhere.seen_at.is_(None))
        ).scalar_one()
        held = session.execute(
            select(func.count()).select_from(SyncRow).where(SyncRow.held.is_not(None))
        ).scalar_one()
        proposals = session.execute(
            select(func.count()).select_from(SyncMergeProposal)
        ).scalar_one()
        return SyncStatus(
            syncing=state is not None,
            cursor=state.cursor if state else 0,
            waiting=int(counts.get("pending", 0)),
            sent_not_seen_back=int(counts.get("pushed", 0)),
            refused=int(counts.get("refused", 0)),
            changed_elsewhere=int(unseen),
            held=int(held),
            merge_proposals=int(proposals),
            refused_for_review=state.refused_for_review if state else 0,
            last_push_at=state.last_push_at if state else None,
            last_pull_at=state.last_pull_at if state else None,
            last_error=state.last_error if state else None,
        )


__all__ = [
    "PROTOCOL",
    "Applied",
    "Begun",
    "ChangedElsewhere",
    "ServerChanged",
    "SyncStatus",
    "apply_pull",
    "attach",
    "begin",
    "changed_elsewhere",
    "cursor",
    "mark_changed_elsewhere_seen",
    "note_error",
    "pending_changes",
    "queue_unsynced_records",
    "record_push",
    "restamp_ahead",
    "status",
]


def _latest_in(snapshots: Sequence[Mapping[str, Any]]) -> int:
    """The latest HLC time in snapshot rows' clocks: a change made here after receiving them
    must be ordered after them, however far behind this laptop's clock is (as for changes)."""
    latest = ""
    for row in snapshots:
        ready = row.get(storage.READY)
        if ready is not None:  # compact clocks: [["clock", name, ...], ...]
            text = ready.clocks
            stamps = [text[3:23]] if text.count("[") == 2 else [g[0] for g in json.loads(text)]
        else:
            stamps = [str(stamp) for stamp in (row.get("clocks") or {}).values()]
        for stamp in stamps:
            if stamp > latest and stamp[:20].isdigit():
                latest = stamp
    return int(latest[:20]) if latest else 0
