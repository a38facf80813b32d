"""Creating a new vault: its database, first user, recovery key and files, all or nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sim_desk.records.codes import Role
from sim_desk.records.errors import (
    ValidationError,
)
from sim_desk.records.model import User, VaultMeta
from sim_desk.records.unit_of_work import system_clock
from sim_desk.records.vault import audit
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.fileio import fsync_directory
from sim_desk.records.vault.files import (
    KdfParams,
    SlotFile,
    VaultPaths,
    check_new_passphrase,
    check_username,
    make_slot,
    new_key,
    new_recovery_key,
    refuse_existing,
    write_slot_file,
)
from sim_desk.records.vault.store import (
    make_engine,
    migrate,
)


@dataclass(frozen=True)
class NewVault:
    paths: VaultPaths
    vault_id: uuid.UUID
    recovery_key: str  # show once, print on the recovery sheet, never store


def create_vault(
    paths: VaultPaths,
    *,
    team_name: str,
    username: str,
    display_name: str,
    passphrase: str,
    clinical_lead: bool = False,
    kdf: KdfParams | None = None,
    clock: Callable[[], datetime] = system_clock,
    user_id: uuid.UUID | None = None,
    role: Role = Role.TEAM_LEAD,
    clinical: bool | None = None,
) -> NewVault:
    """Creates a new vault whose first user is a team lead, plus a recovery-key slot.

    A laptop joining a team server makes its vault for the user the invitation names: their
    ``user_id`` and ``role`` as the server knows them, and ``clinical`` access (a clinician's,
    or a clinical lead's) as the invitation gives it.

    The database is built under a temporary name and moved into place last, so an interrupted
    creation never leaves something that looks like a vault but cannot be unlocked.
    """
    refuse_existing(paths)
    username = check_username(username)
    check_new_passphrase(passphrase)
    if not team_name.strip():
        raise ValidationError("Team name: enter the name of the team this vault is for.", "team")
    if not display_name.strip():
        raise ValidationError("Your name: enter the name colleagues know you by.", "display_name")

    folder = paths.database.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    vault_id, user_id = uuid.uuid4(), user_id or uuid.uuid4()
    clinical_access = (
        (role is Role.CLINICIAN or (role is Role.TEAM_LEAD and clinical_lead))
        if clinical is None
        else (clinical and role in (Role.CLINICIAN, Role.TEAM_LEAD))
    )
    record_key, clinical_key = new_key(), new_key()
    recovery_key = new_recovery_key()
    now = clock().astimezone(UTC)

    partial = paths.database.with_name(paths.database.name + ".partial")
    for leftover in (partial, partial.with_name(partial.name + "-wal")):
        leftover.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    engine = make_engine(partial, record_key, create=True)
    try:
        migrate(engine, creating=True)
        with engine.execution_options(write=True).begin() as conn:
            from sqlalchemy.orm import Session

            with Session(bind=conn) as session:
                session.add(
                    VaultMeta(vault_id=vault_id, team_name=team_name.strip(), created_by=user_id)
                )
                session.add(
                    User(
                        id=user_id,
                        username=username,
                        display_name=display_name.strip(),
                        role=role.value,
                        clinical_access=clinical_access,
                        created_by=user_id,
                    )
                )
                session.flush()
                audit.append(
                    session,
                    at=now,
                    user_id=user_id,
                    action=Action.VAULT_CREATED,
                    entity_type="vault",
                    entity_id=vault_id,
                )
                event = audit.append(
                    session,
                    at=now,
                    user_id=user_id,
                    action=Action.USER_ADDED,
                    entity_type="user",
                    entity_id=user_id,
                    detail={"role": role.value, "clinical": clinical_access},
                )
                head = audit.AuditHead(event.seq, event.hash)
                session.commit()
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()

    slots = SlotFile(vault_id=str(vault_id))
    slots.slots.append(
        make_slot(
            str(vault_id),
            passphrase,
            kind="user",
            record_key=record_key,
            clinical_key=clinical_key if clinical_access else None,
            user_id=user_id,
            username=username,
            role=role,
            params=kdf,
        )
    )
    slots.slots.append(
        make_slot(
            str(vault_id),
            recovery_key,
            kind="recovery",
            record_key=record_key,
            clinical_key=clinical_key,
            params=kdf,
        )
    )
    write_slot_file(paths, slots)
    audit.write_head(paths, head)
    for suffix in ("-wal", "-shm"):
        partial.with_name(partial.name + suffix).unlink(missing_ok=True)
    os.replace(partial, paths.database)
    fsync_directory(folder)
    return NewVault(paths, vault_id, recovery_key)
