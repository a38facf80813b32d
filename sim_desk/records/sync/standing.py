"""A replica's standing with its team server: erased when revoked, locked when out of date.

The records side of leavers and lost laptops (issue 20); the network side is
``sim_desk.teamserver.leavers``.

- **Revoked.** A laptop whose device the team lead revoked learns it at its next sync and
  erases its replica (:func:`erase_replica`): every replicated record, the sync bookkeeping,
  drafts (forms about the team's people), and the team keys held here; the vault itself stays
  usable, empty of the team's records. The device credential goes once the server has heard
  that the replica was erased.
- **Expiry.** A team lead may set how many days a replica may go without syncing. Each sync
  records the server's time and the expiry (:func:`record_check_in`); each unlock compares them
  with the latest time this laptop has ever seen (:func:`check_unlock`), so setting the clock
  back does not bring an out-of-date replica back to life. An expired replica may be unlocked
  for a sync only; the sync itself moves it on. The server's time, not the laptop's, marks a
  sync: a laptop whose clock once ran far ahead is put right by its next sync.

This is a policy lock, not a cryptographic one: the person at the laptop holds the vault's
keys. What it ensures is that the app and the command line stop showing and changing the
team's records until the server has had its chance to say "revoked: erase".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from sim_desk.records.codes import Role
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import (
    Base,
    Draft,
    Pair,
    SyncChangedElsewhere,
    SyncMergeProposal,
    SyncOutboxEntry,
    SyncRow,
    SyncState,
    User,
    VaultMeta,
)
from sim_desk.records.sync import completeness
from sim_desk.records.sync.outbox import APPLYING, sync_state
from sim_desk.records.sync.tables import BY_NAME, REPLICATED
from sim_desk.records.unit_of_work import Actor, UnlockedVault

#: Audit actions (counts and ids only).
ERASED = "server.replica_erased"
EXPIRY_LEARNT = "sync.replica_expiry"
EXPIRED = "sync.replica_expired"
RECOVERY_SYNC = "sync.recovery_key_sync"
ANALYST_COPY_CLEARED = "sync.analyst_copy_cleared"

#: Local tables holding team keys (clinical and linkage key epochs, the colleagues' public keys
#: this laptop verified, invitation proofs) that a revoked laptop erases with its replica.
TEAM_KEY_TABLES: tuple[str, ...] = ("team_keys", "team_trusted_devices", "team_invitation_proofs")


class ReplicaExpired(PermissionDenied):
    """This replica has not synced for longer than the team allows: sync it to open it.
    ``freshness`` says how long since it synced and what the team allows (for the app's own
    words, which offer the sync rather than a command)."""

    freshness: Freshness | None = None


@dataclass(frozen=True)
class Erased:
    """What erasing a revoked laptop's replica took away (counts only)."""

    people: int
    records: int
    #: Changes made here that the server never received (lost: it keeps nothing sent after
    #: the revocation).
    unsent_changes: int
    #: Records made here before this vault ever synced (the server never had them).
    never_synced_records: int

    @property
    def lost(self) -> int:
        return self.unsent_changes + self.never_synced_records


def erase_replica(vault: UnlockedVault, device_id: uuid.UUID) -> Erased:
    """Erases every replicated record, the sync bookkeeping, drafts and team keys, in one
    transaction, with an audit entry. Running it again erases what is left (nothing)."""
    with vault.write() as session:
        session.info[APPLYING] = True  # nothing here goes to an outbox
        state = sync_state(session)
        unsent = _count(
            session,
            select(func.count())
            .select_from(SyncOutboxEntry)
            .where(SyncOutboxEntry.state == "pending"),
        )
        people_count = _count(session, select(func.count()).select_from(BY_NAME["people"].table))
        records = sum(
            _count(session, select(func.count()).select_from(spec.table)) for spec in REPLICATED
        )
        never_synced = records if state is None else 0
        _erase_records(session)
        session.execute(delete(SyncState))
        # Notes written from now on are sealed under the vault's own key again (no team key
        # here): a later team's first sync must look for them (records/team/own_notes.py).
        session.execute(update(VaultMeta).values(own_notes_resealed=False))
        vault.audit(
            session,
            ERASED,
            "device",
            device_id,
            people=people_count,
            records=records,
            unsent_changes=unsent,
            never_synced_records=never_synced,
        )
        erased = Erased(people_count, records, unsent, never_synced)
    vault.forget_clinical_keyring()  # the epochs read at sign-in are gone with their table
    # secure_delete zeroed the erased rows in the pages written to the WAL: copied into the
    # database file now and the WAL emptied, rather than at some later checkpoint.
    with vault.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return erased


def _erase_records(session: Session, key_tables: tuple[str, ...] = TEAM_KEY_TABLES) -> None:
    """Every replicated record, draft and team key here, and the sync bookkeeping of rows."""
    # Children first (REPLICATED lists parents first); foreign keys checked at the commit.
    session.execute(text("PRAGMA defer_foreign_keys = ON"))
    for spec in reversed(REPLICATED):
        session.execute(delete(spec.table))
    for mapper in Base.registry.mappers:  # one by one: not every key table has an id
        if getattr(mapper.local_table, "name", None) in key_tables:
            for row in session.scalars(select(mapper.class_)):
                session.delete(row)
    for model in (Draft, SyncOutboxEntry, SyncRow, SyncChangedElsewhere, SyncMergeProposal):
        session.execute(delete(model))


def clear_analyst_copy(vault: UnlockedVault) -> int:
    """An analyst's replica holds no names, NHS numbers, birth dates, police references or
    free text (DESIGN §11), only what the server's analyst snapshot brings. A vault copied
    from the team's shared one (how members joined before a fresh vault could) holds all of
    it: at the analyst's first sync every record, draft and team key epoch goes first. Returns how
    many records went; audited (counts only)."""
    if vault.actor.role is not Role.ANALYST:
        return 0
    with vault.write() as session:
        session.info[APPLYING] = True  # nothing here goes to an outbox
        state = sync_state(session)
        records = sum(
            _count(session, select(func.count()).select_from(spec.table)) for spec in REPLICATED
        )
        if not records or state is None or state.cursor:
            return 0
        # The key epochs the copy holds go (the clinical key among them); the colleagues'
        # keys this laptop verified when it joined stay: the team's wraps are checked by them.
        _erase_records(session, key_tables=("team_keys",))
        vault.audit(session, ANALYST_COPY_CLEARED, "device", state.device_id, records=records)
    vault.forget_clinical_keyring()
    with vault.engine.connect() as conn:  # (see erase_replica)
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return records


def _count(session: Session, query: object) -> int:
    return int(session.execute(query).scalar_one())  # type: ignore[call-overload]


def record_check_in(
    vault: UnlockedVault,
    *,
    server_time: datetime,
    expiry_days: int | None,
    team_syncs: Mapping[str, Any] | None = None,
    last_error: str | None = None,
    pulled_at: datetime | None = None,
) -> None:
    """A sync completed: the server's time marks it, and the team's expiry is kept. The end
    of a sync keeps in the same transaction (one commit, not three) when the team's laptops
    last synced (``sim.sync_done``'s answer, if it came), its own error or none, and when it
    last pulled (to the end)."""
    with vault.write() as session:
        state = sync_state(session)
        if state is None:
            return
        if state.replica_expiry_days != expiry_days:
            vault.audit(session, EXPIRY_LEARNT, "device", state.device_id, days=expiry_days)
        if team_syncs is not None:
            completeness.keep_team_syncs(state, team_syncs)
        state.replica_expiry_days = expiry_days
        state.synced_ok_at = server_time
        # The server's clock is the one to trust: a laptop clock that once ran far ahead (and
        # pushed the latest time seen with it) is put right here.
        state.latest_seen_at = server_time
        if state.last_error != last_error:
            state.last_error = last_error
        if pulled_at is not None:  # an empty last page left it to this (records/sync/quiet.py)
            state.last_pull_at = pulled_at


@dataclass(frozen=True)
class Freshness:
    expiry_days: int | None
    synced_ok_at: datetime | None
    #: How long since the last sync, by the latest time this laptop has seen.
    since_sync: timedelta | None

    @property
    def expired(self) -> bool:
        return (
            self.expiry_days is not None
            and self.since_sync is not None
            and self.since_sync > timedelta(days=self.expiry_days)
        )


def _freshness(state: SyncState | None, now: datetime) -> tuple[Freshness, datetime | None]:
    if state is None or state.replica_expiry_days is None or state.synced_ok_at is None:
        return Freshness(None, None, None), None
    latest = max(now, state.latest_seen_at) if state.latest_seen_at is not None else now
    return Freshness(state.replica_expiry_days, state.synced_ok_at, latest - state.synced_ok_at), (
        latest
    )


def freshness(vault: UnlockedVault) -> Freshness:
    """How out of date this replica is, as the next unlock will judge it."""
    with vault.read() as session:
        return _freshness(sync_state(session), vault.now())[0]


def check_unlock(vault: UnlockedVault, *, for_sync: bool = False) -> None:
    """Called as a vault is unlocked: keeps the latest time seen, and refuses to open an expired
    replica's records (the vault is locked again) unless it is unlocked to sync.

    Raises:
        ReplicaExpired: the replica has not synced for longer than the team allows.
    """
    with vault.read() as session:
        state = sync_state(session)
        fresh, latest = _freshness(state, vault.now())
        moved_on = (
            state is not None
            and latest is not None
            and (state.latest_seen_at is None or latest > state.latest_seen_at)
        )
    if moved_on or fresh.expired:
        with vault.write() as session:
            state = sync_state(session)
            if state is not None and latest is not None:
                if state.latest_seen_at is None or latest > state.latest_seen_at:
                    state.latest_seen_at = latest
                if fresh.expired:
                    vault.audit(
                        session,
                        EXPIRED,
                        "device",
                        state.device_id,
                        days=state.replica_expiry_days,
                        for_sync=for_sync,
                    )
    if fresh.expired and not for_sync:
        vault.lock(quietly=True)
        expired = ReplicaExpired(expired_message(fresh))
        expired.freshness = fresh
        raise expired


@contextmanager
def syncing_for_its_user(vault: UnlockedVault) -> Iterator[None]:
    """Opened with the recovery key (no user), the replica syncs as the user it belongs to:
    a device credential is one user's, and so are the changes this laptop still has to send.
    The recovery key already opens everything here, so this grants it nothing new; the audit
    log notes that it was used. Signed in as a user, nothing changes.

    Raises:
        ValidationError: this vault has never synced, or its user is no longer here.
    """
    recovery = vault.actor
    if not recovery.is_recovery:
        yield
        return
    with vault.write() as session:
        state = sync_state(session)
        user = None if state is None else session.get(User, state.user_id)
        if state is None or user is None or not user.active:
            raise ValidationError(
                "This vault has not synced with a team server as any user here, so the recovery"
                " key has nothing to sync. Sign in as yourself, or ask your team lead."
            )
        vault.audit(session, RECOVERY_SYNC, "device", state.device_id, user=str(user.id))
        pair_ids = frozenset(
            session.execute(
                select(Pair.id).where(
                    Pair.active, or_(Pair.officer_id == user.id, Pair.clinician_id == user.id)
                )
            ).scalars()
        )
        its_user = Actor(
            user.id, user.username, user.display_name, Role(user.role), recovery.clinical, pair_ids
        )
    vault.actor = its_user
    try:
        yield
    finally:
        vault.actor = recovery


def expired_message(fresh: Freshness) -> str:
    days = fresh.since_sync.days if fresh.since_sync is not None else 0
    return (
        f"This laptop has not synced with the team server for {days} days, and your team"
        f" allows {fresh.expiry_days}. Its records stay closed until it syncs: connect to the"
        " network (and VPN) and run 'sim-desk sync' (the records open again once it has"
        " synced). Nothing has been lost. If this laptop can no longer reach the server, ask"
        " your team lead."
    )


__all__ = [
    "ANALYST_COPY_CLEARED",
    "EXPIRED",
    "RECOVERY_SYNC",
    "TEAM_KEY_TABLES",
    "Erased",
    "Freshness",
    "ReplicaExpired",
    "check_unlock",
    "clear_analyst_copy",
    "erase_replica",
    "expired_message",
    "freshness",
    "record_check_in",
    "syncing_for_its_user",
]
