"""Rotating the record and clinical keys, and settling a rotation that was interrupted."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass

from sqlalchemy import Table, select, text, update
from sqlalchemy.orm import Session

from sim_desk.records import clinical_epochs
from sim_desk.records.codes import Role
from sim_desk.records.errors import (
    AuthenticationFailed,
    PermissionDenied,
    ValidationError,
    VaultBusy,
    VaultDamaged,
)
from sim_desk.records.model import TeamKey, User
from sim_desk.records.sealed_columns import SEALED_COLUMNS
from sim_desk.records.unit_of_work import Progress, UnlockedVault, open_clinical, seal_clinical
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.fileio import fsync_directory
from sim_desk.records.vault.files import (
    Slot,
    SlotFile,
    VaultKeys,
    VaultPaths,
    make_slot,
    new_key,
    new_recovery_key,
    read_slot_file,
    reseal_slot,
    write_slot_file,
)
from sim_desk.records.vault.store import DAMAGED_DATABASE, connect_raw, key_opens, rekey_database


@dataclass(frozen=True)
class RotationResult:
    generation: int
    notes_reencrypted: int
    slots_rewrapped: int
    dropped_users: tuple[str, ...]
    recovery_key: str | None  # a new recovery key to print, or None if the old one still works
    #: The new recovery key's slot, for :func:`confirm_recovery_key` once it is printed.
    recovery_slot_id: str | None = None


def _tell(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def _tell_committed(progress: Progress | None, fraction: float, message: str) -> None:
    """Progress after the point of no return: a Cancel raised from here must not abort a
    rotation that has already committed, so it is ignored."""
    with contextlib.suppress(Exception):  # the caller's cancel signal; the rotation goes on
        _tell(progress, fraction, message)


def require_rotator(vault: UnlockedVault) -> None:
    vault.require_role(Role.TEAM_LEAD, doing="rotate the vault's keys")
    if not vault.has_clinical_key:
        raise PermissionDenied(
            "Rotating the keys re-encrypts every clinician-only note, so it needs the clinical"
            " key, which this sign-in does not hold. Sign in as a clinical lead, or use the"
            " recovery key."
        )


def _next_slots(
    session: Session,
    current: SlotFile,
    record_key: bytes,
    clinical_key: bytes,
    *,
    drop_old_slots: bool,
    new_recovery: Slot | None,
) -> tuple[SlotFile, list[str]]:
    """The next generation's slots (and the usernames dropped): every remaining member's slot
    and the confirmed recovery slot re-wrapped, plus ``new_recovery`` if given. Unconfirmed
    recovery slots of earlier attempts are dropped: the confirmed one is the one people have."""
    generation = current.generation + 1
    active = {str(u.id): u for u in session.execute(select(User).where(User.active)).scalars()}
    old_format = [
        s.username or "?"
        for s in current.slots
        if s.kind == "user" and s.version != 2 and s.user_id in active
    ]
    if old_format and not drop_old_slots:
        raise ValidationError(
            "These users' key slots are still in the old format, which only their own sign-in"
            f" can convert: {', '.join(sorted(old_format))}. Ask them to sign in once, or rotate"
            " anyway and then reset their passphrases.",
            "users",
        )
    slots: list[Slot] = []
    dropped: list[str] = []
    confirmed_recovery = any(s.kind == "recovery" and s.confirmed for s in current.slots)
    for slot in current.slots:
        user = active.get(slot.user_id or "")
        if slot.kind == "user" and (user is None or slot.version != 2):
            dropped.append(slot.username or "?")  # removed users, stale or old-format slots
            continue
        if slot.kind == "recovery" and (
            slot.version != 2 or (confirmed_recovery and not slot.confirmed)
        ):
            continue  # old format (cannot be re-wrapped), or never confirmed as printed
        clinical = slot.kind == "recovery" or (
            slot.clinical and bool(user and user.clinical_access)
        )
        slots.append(
            reseal_slot(
                current.vault_id,
                slot,
                record_key=record_key,
                clinical_key=clinical_key if clinical else None,
                generation=generation,
            )
        )
    if new_recovery is not None:
        slots.append(new_recovery)
    return SlotFile(current.vault_id, slots, generation), dropped


def new_recovery_slot(
    vault_id: str, record_key: bytes, clinical_key: bytes, generation: int
) -> tuple[str, Slot]:
    recovery_key = new_recovery_key()
    slot = make_slot(
        vault_id,
        recovery_key,
        kind="recovery",
        record_key=record_key,
        clinical_key=clinical_key,
        generation=generation,
    )
    slot.confirmed = False
    return recovery_key, slot


def _reencrypt_notes(
    session: Session,
    old_key: bytes,
    new_key_: bytes,
    progress: Progress | None,
    ring: clinical_epochs.Keyring = clinical_epochs.EMPTY,
) -> int:
    """Re-encrypts every clinical note (contacts, their revisions and the notes amendments of
    the note alone replaced) in this transaction.

    ``updated_at`` is set to itself so that re-encryption does not look like an edit.
    """
    rows = [
        (sealed, row.id, sealed.bound_to(row.contact_id), row.blob)
        for sealed in SEALED_COLUMNS
        for row in session.execute(
            select(
                sealed.model.id,
                sealed.contact_id.label("contact_id"),
                sealed.column.label("blob"),
            ).where(sealed.column.is_not(None))
        )
    ]
    for done, (sealed_column, row_id, bound_to, blob) in enumerate(rows, 1):
        epoch = clinical_epochs.frame_epoch(blob)
        if (
            epoch
            and epoch in ring.keys
            and clinical_epochs.open_any(None, ring, blob, bound_to) is not None
        ):
            continue  # under a team key epoch, not this vault's key: left as it is
        plain = clinical_epochs.open_any(old_key, ring, blob, bound_to)
        if plain is None:
            plain = open_clinical(old_key, blob, bound_to)  # raises VaultDamaged
        # In a team, a note rewritten anyway goes to the team's current epoch (other laptops
        # could not read it under this vault's new key).
        sealed = (
            clinical_epochs.seal_framed(ring.keys[ring.current], ring.current, plain, bound_to)
            if ring.current is not None
            else seal_clinical(new_key_, plain, bound_to)
        )
        table: Table = sealed_column.model.__table__  # type: ignore[assignment]
        session.execute(
            update(table)
            .where(table.c.id == row_id)
            .values({sealed_column.name: sealed, "updated_at": table.c.updated_at})
        )
        if done % 200 == 0:
            _tell(progress, 0.1 + 0.5 * done / len(rows), f"Re-encrypted {done} notes")
    return len(rows)


def _reseal_team_keys(session: Session, old: dict[str, bytes], new: dict[str, bytes]) -> None:
    """The team keys kept here are sealed under the vault's keys (clinical: its clinical key;
    linkage: its record key), which are being replaced."""
    for row in session.execute(select(TeamKey)).scalars():
        key = clinical_epochs.open_team_key(old[row.kind], row.kind, row.epoch, row.sealed)
        if key is not None:
            row.sealed = clinical_epochs.seal_team_key(new[row.kind], row.kind, row.epoch, key)
    session.flush()


def _database_generation(session: Session) -> int:
    return int(session.execute(text("PRAGMA user_version")).scalar_one())


def rotate_keys(
    vault: UnlockedVault,
    *,
    new_recovery: bool = True,
    drop_old_slots: bool = False,
    progress: Progress | None = None,
) -> RotationResult:
    """Rotates the record and clinical keys and re-wraps every remaining slot (see module doc).

    Args:
        vault: unlocked by a clinical team lead or with the recovery key.
        new_recovery: also issue a new recovery key (returned; print a new sheet). The old sheet
            stops working. With False the recovery slot is re-wrapped and the old sheet still works.
        drop_old_slots: rotate even if some users still have format-1 slots (they are locked out
            until a team lead resets their passphrase).
        progress: called with (fraction done, what is happening).

    Raises:
        PermissionDenied: the signed-in user is not a team lead holding the clinical key.
        VaultBusy: another window or command has the vault open, or a rotation is unfinished.
    """
    require_rotator(vault)
    paths = vault.paths
    old_record, old_clinical = vault.keys_to_wrap(clinical=True)
    assert old_clinical is not None
    record_key, clinical_key = new_key(), new_key()
    ring = vault.clinical_keyring()
    _tell(progress, 0.0, "Preparing new keys")
    journal_written_at: int | None = None  # the generation the journal was written against
    try:
        with vault.write() as session:
            if paths.keyslots_pending.exists():
                raise VaultBusy(
                    "A key rotation is unfinished. Lock the vault and unlock it again, which"
                    " finishes or undoes it; then rotate again if needed."
                )
            current = read_slot_file(paths)
            if _database_generation(session) != current.generation:
                raise VaultDamaged(
                    "The key-slot file and the database disagree about the key generation."
                    " Restore the vault from a backup."
                )
            has_recovery = any(s.kind == "recovery" and s.version == 2 for s in current.slots)
            recovery_key, recovery_slot = None, None
            if new_recovery or not has_recovery:
                recovery_key, recovery_slot = new_recovery_slot(
                    current.vault_id, record_key, clinical_key, current.generation + 1
                )
            upcoming, dropped = _next_slots(
                session,
                current,
                record_key,
                clinical_key,
                drop_old_slots=drop_old_slots,
                new_recovery=recovery_slot,
            )
            write_slot_file(paths, upcoming, pending=True)  # the journal (step 1)
            journal_written_at = current.generation
            _tell(progress, 0.1, "Re-encrypting clinician-only notes")
            notes = _reencrypt_notes(session, old_clinical, clinical_key, progress, ring)
            _reseal_team_keys(
                session,
                {"clinical": old_clinical, "linkage": old_record},
                {"clinical": clinical_key, "linkage": record_key},
            )
            session.execute(text(f"PRAGMA user_version = {int(upcoming.generation)}"))
            vault.audit(
                session,
                Action.KEYS_ROTATED,
                "vault",
                vault.vault_id,
                generation=upcoming.generation,
                notes=notes,
                slots=len(upcoming.slots),
                dropped=len(dropped),
                new_recovery=recovery_slot is not None,
            )
            _tell(progress, 0.6, "Committing the new keys")
        # Committed (step 2): from here on the rotation is finished, never undone.
    except BaseException:
        if journal_written_at is not None and not _drop_journal_if_unused(
            paths, old_record, journal_written_at
        ):
            _lock_quietly(vault)  # committed after all: the next unlock finishes the rotation
        raise
    _tell_committed(progress, 0.65, "Re-encrypting the database")
    try:
        vault.close_connections()  # rekey_database needs the only connection to the file
        _finish(paths, old_record, record_key, progress)
    except BaseException:
        _lock_quietly(vault)  # the database may be under either key; the next unlock settles it
        raise
    vault.replace_keys(record_key, clinical_key)
    _tell_committed(progress, 1.0, "Keys rotated")
    return RotationResult(
        upcoming.generation,
        notes,
        len(upcoming.slots),
        tuple(sorted(dropped)),
        recovery_key,
        recovery_slot.slot_id if recovery_slot else None,
    )


def _lock_quietly(vault: UnlockedVault) -> None:
    """Locks (dropping the keys) even if the lock's own audit entry cannot be written."""
    with contextlib.suppress(Exception):
        vault.lock()


def _finish(
    paths: VaultPaths, old_record: bytes, new_record: bytes, progress: Progress | None = None
) -> None:
    """Steps 3 and 4. Idempotent: safe to run again after a crash at any point in them."""
    try:
        conn = connect_raw(paths.database, old_record)
    except AuthenticationFailed:
        pass  # already re-encrypted (by us before a crash, or by another unlock)
    else:
        try:
            rekey_database(conn, new_record)
        finally:
            conn.close()
    conn = connect_raw(paths.database, new_record)  # proves step 3 before the slots move
    conn.close()
    _tell_committed(progress, 0.9, "Putting the new key file in place")
    with contextlib.suppress(FileNotFoundError):  # another unlock may have finished it
        os.replace(paths.keyslots_pending, paths.keyslots)
    fsync_directory(paths.database.parent)


def _drop_journal_if_unused(paths: VaultPaths, record_key: bytes, generation: int) -> bool:
    """Removes the journal if step 2 never committed (the database is still at ``generation``
    under ``record_key``). Returns whether it did."""
    if not paths.keyslots_pending.exists():
        return False
    try:
        conn = connect_raw(paths.database, record_key)
    except AuthenticationFailed:
        return False
    try:
        conn.execute("BEGIN IMMEDIATE")  # key changes are serialised by the write lock
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] != generation:
                return False
            paths.keyslots_pending.unlink(missing_ok=True)
            fsync_directory(paths.database.parent)
            return True
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


def _generation(paths: VaultPaths, record_key: bytes) -> int | None:
    """The database's key generation, or None if ``record_key`` does not open it."""
    try:
        conn = connect_raw(paths.database, record_key)
    except AuthenticationFailed:
        return None
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def settle_rotation(paths: VaultPaths, keys: VaultKeys) -> VaultKeys:
    """Finishes or undoes a rotation that was interrupted, then returns the keys that open the
    vault now (the old ones if it was undone, the new ones if it was finished)."""
    plain = dataclasses.replace(keys, pending=None, journal=False)
    if _drop_journal_if_unused(paths, keys.record_key, keys.generation):
        return plain
    new = keys.pending
    finished = dataclasses.replace(new, pending=None, journal=False) if new else None
    generation = _generation(paths, keys.record_key)
    if generation == keys.generation:
        return plain  # the journal was dropped meanwhile by another unlock
    if new is None or finished is None:
        raise _need_new_keys(keys)
    if generation == new.generation or (
        generation is None and key_opens(paths.database, new.record_key)
    ):
        _finish(paths, keys.record_key, new.record_key)
        return finished
    raise VaultDamaged(DAMAGED_DATABASE)


def _need_new_keys(keys: VaultKeys) -> AuthenticationFailed:
    who = "the recovery key" if keys.user_id is None else "this user"
    return AuthenticationFailed(
        f"The vault's keys were rotated and {who} has no slot for the new keys. Unlock again;"
        " if this repeats, ask a clinical team lead to sign in (or use the recovery key)."
    )
