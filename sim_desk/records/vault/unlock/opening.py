"""Unlocking with a passphrase or the recovery key; failed attempts noted for the audit log."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlcipher3
from sqlalchemy import or_, select
from sqlalchemy.exc import DatabaseError

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.codes import Role
from sim_desk.records.errors import (
    AuthenticationFailed,
    SimDeskError,
    VaultDamaged,
)
from sim_desk.records.model import Pair, User, VaultMeta
from sim_desk.records.sync import outbox as sync_outbox
from sim_desk.records.sync import standing as sync_standing
from sim_desk.records.unit_of_work import Actor, UnlockedVault, system_clock
from sim_desk.records.vault import audit
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.fileio import remove_stale_temp_files
from sim_desk.records.vault.files import (
    Slot,
    VaultKeys,
    VaultPaths,
    describe_wrong_file,
    read_slot_file,
    unlock_recovery,
    unlock_user,
    write_slot_file,
)
from sim_desk.records.vault.rekey import settle_rotation
from sim_desk.records.vault.store import (
    DAMAGED_DATABASE,
    connect_raw,
    is_damage,
    make_engine,
    migrate,
)

# -- failed unlocks ------------------------------------------------------------------------


def _failed_unlock_log(dirs: AppDirs, vault_id: str, paths: VaultPaths) -> Path:
    """One file per vault *file*: copies of a vault (a restored backup, the demo copied) share
    its id, and each copy's audit log must get only the attempts made on it."""
    where = hashlib.sha256(str(paths.database.resolve()).encode("utf-8")).hexdigest()[:16]
    return dirs.state / f"failed-unlocks-{vault_id}-{where}.jsonl"


def _note_failed_unlock(dirs: AppDirs, paths: VaultPaths, username: str, when: datetime) -> None:
    """Notes a failed attempt outside the vault. Never the typed text: it may be a passphrase."""
    try:
        slots = read_slot_file(paths)
    except Exception:
        return
    slot = slots.user_slot(username)
    line = json.dumps({"at": when.isoformat(), "user_id": slot.user_id if slot else None})
    dirs.ensure(dirs.state)
    log = _failed_unlock_log(dirs, slots.vault_id, paths)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _take_failed_unlocks(
    dirs: AppDirs, vault_id: uuid.UUID, paths: VaultPaths
) -> list[dict[str, str | None]]:
    log = _failed_unlock_log(dirs, str(vault_id), paths)
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


# -- unlock ---------------------------------------------------------------------------------


def unlock(
    paths: VaultPaths,
    username: str,
    passphrase: str,
    *,
    dirs: AppDirs | None = None,
    clock: Callable[[], datetime] = system_clock,
    for_sync: bool = False,
) -> UnlockedVault:
    """Unlocks the vault as a user. A wrong passphrase raises AuthenticationFailed, writes nothing
    to the vault's files, and is noted for the audit log. A replica that has not synced for
    longer than its team allows raises ReplicaExpired, unless unlocked ``for_sync``."""
    dirs = dirs or AppDirs.default()
    try:
        keys = unlock_user(paths, username, passphrase)
    except AuthenticationFailed:
        _note_failed_unlock(dirs, paths, username, clock().astimezone(UTC))
        raise
    return _open(paths, keys, dirs=dirs, clock=clock, action=Action.UNLOCK, for_sync=for_sync)


def unlock_with_recovery_key(
    paths: VaultPaths,
    recovery_key: str,
    *,
    dirs: AppDirs | None = None,
    clock: Callable[[], datetime] = system_clock,
    for_sync: bool = False,
) -> UnlockedVault:
    """Unlocks with the printed recovery key, acting as a clinical team lead (to reset access).
    An out-of-date replica raises ReplicaExpired, as with a passphrase, unless unlocked
    ``for_sync`` (a user who has forgotten their passphrase syncs it open this way)."""
    dirs = dirs or AppDirs.default()
    try:
        keys = unlock_recovery(paths, recovery_key)
    except AuthenticationFailed:
        _note_failed_unlock(dirs, paths, "", clock().astimezone(UTC))
        raise
    return _open(
        paths, keys, dirs=dirs, clock=clock, action=Action.RECOVERY_UNLOCK, for_sync=for_sync
    )


def _open(
    paths: VaultPaths,
    keys: VaultKeys,
    *,
    dirs: AppDirs,
    clock: Callable[[], datetime],
    action: str,
    for_sync: bool = False,
) -> UnlockedVault:
    # Nothing is written before this check: the unlock's own audit entry would otherwise hide
    # a truncated log or a deleted head copy.
    finding = _anchor_finding(paths, keys)
    if keys.journal:  # a key rotation was interrupted: finish or undo it first
        keys = settle_rotation(paths, keys)
    engine = make_engine(paths.database, keys.record_key)
    try:
        try:
            migrate(engine)
            reader = engine.connect()
        except AuthenticationFailed:
            raise VaultDamaged(_mismatch_message(paths)) from None
        except DatabaseError as exc:
            if is_damage(exc):
                raise VaultDamaged(DAMAGED_DATABASE) from exc
            raise
        try:
            from sqlalchemy.orm import Session

            with Session(bind=reader) as session:
                meta = session.execute(select(VaultMeta)).scalar_one_or_none()
                if meta is None or meta.vault_id != keys.vault_id:
                    raise VaultDamaged(
                        "The key-slot file belongs to another vault than this database. Put the"
                        " two files of the same vault side by side, or restore from a backup."
                    )
                actor = _actor(session, keys)
        except DatabaseError as exc:
            if is_damage(exc):
                raise VaultDamaged(DAMAGED_DATABASE) from exc
            raise
        finally:
            reader.close()
    except BaseException:
        engine.dispose()
        raise
    vault = UnlockedVault(paths, keys, engine, actor, clock=clock)
    sync_outbox.attach(vault)
    pending = _take_failed_unlocks(dirs, keys.vault_id, paths)
    with vault.write() as session:
        # Take the write lock now (BEGIN IMMEDIATE runs when the session first connects, not
        # when it is opened): then no other writer is writing the vault's files, so temporary
        # files beside them were left by a writer that was killed.
        session.connection()
        remove_stale_temp_files(paths.audit_head, paths.keyslots, paths.keyslots_pending)
        if finding is not None:
            vault.audit(
                session,
                Action.AUDIT_ANCHOR_MISMATCH,
                "vault",
                keys.vault_id,
                kind=finding.kind,
                log_seq=finding.log_seq,
                head_seq=finding.head_seq,
            )
            vault.opening_findings = (finding.message,)
        for entry in pending:
            at = datetime.fromisoformat(str(entry["at"]))
            user = uuid.UUID(str(entry["user_id"])) if entry.get("user_id") else None
            audit.append(
                session,
                at=at,
                user_id=user,
                action=Action.UNLOCK_FAILED,
                entity_type="vault",
                entity_id=keys.vault_id,
                detail={"known_user": user is not None},
            )
        vault.audit(session, action, "vault", keys.vault_id)
        if keys.upgraded is not None and _save_upgraded_slot(paths, keys.upgraded):
            vault.audit(session, Action.SLOT_UPGRADED, "user", keys.user_id, slot_format=2)
    if pending:
        _failed_unlock_log(dirs, str(keys.vault_id), paths).unlink(missing_ok=True)
    sync_standing.check_unlock(vault, for_sync=for_sync)  # an expired replica stays closed
    return vault


def _anchor_finding(paths: VaultPaths, keys: VaultKeys) -> audit.AnchorFinding | None:
    """Compares the chain's end with the head copy, reading only. None when they agree, or
    when the database cannot be read this way (opening it then says why)."""
    candidates = [keys.record_key] + ([keys.pending.record_key] if keys.pending else [])
    for record_key in candidates:
        try:
            conn = connect_raw(paths.database, record_key, read_only=True)
        except AuthenticationFailed:
            continue
        except SimDeskError:
            return None
        try:
            return audit.check_anchor_of(conn, audit.read_head(paths))
        except sqlcipher3.DatabaseError:
            return None  # damaged or not a vault: the normal open reports it
        finally:
            conn.close()
    return None


def _mismatch_message(paths: VaultPaths) -> str:
    return describe_wrong_file(paths.database) or (
        "The key slots opened, but the database does not open with their keys: it is damaged"
        " (its first page fails SQLCipher's authentication check, 'file is not a database') or"
        " belongs to another vault. Restore the vault from a backup and run 'sim-desk verify'."
    )


def _save_upgraded_slot(paths: VaultPaths, upgraded: Slot) -> bool:
    """Replaces a format-1 slot by its format-2 successor. Called inside a write transaction, so
    no other key change can interleave; skipped if the slot changed meanwhile."""
    slots = read_slot_file(paths)
    if paths.keyslots_pending.exists():
        return False
    for index, slot in enumerate(slots.slots):
        if slot.slot_id == upgraded.slot_id and slot.version == 1:
            slots.slots[index] = upgraded
            write_slot_file(paths, slots)
            return True
    return False


def _actor(session, keys: VaultKeys) -> Actor:  # type: ignore[no-untyped-def]
    if keys.user_id is None:
        return Actor(None, "recovery", "Recovery key", Role.TEAM_LEAD, True)
    user = session.get(User, keys.user_id)
    if user is None or not user.active:
        raise AuthenticationFailed(
            "This user has been removed from the vault. Ask your team lead if that is a mistake."
        )
    if user.username != keys.username or user.role != keys.role.value:
        # The slot opened, so its seals are intact: its name or role was edited in the file,
        # which the database (authenticated page by page) contradicts.
        raise VaultDamaged(
            "The key file (the vault's -keys file) is damaged: a key slot's user name or role"
            " does not match the vault's own list of users. Restore the key file from a"
            " backup of this vault; nothing in the vault was changed."
        )
    pair_ids = frozenset(
        session.execute(
            select(Pair.id).where(
                Pair.active, or_(Pair.officer_id == user.id, Pair.clinician_id == user.id)
            )
        ).scalars()
    )
    return Actor(
        user.id,
        user.username,
        user.display_name,
        Role(user.role),
        keys.clinical_key is not None,
        pair_ids,
    )
