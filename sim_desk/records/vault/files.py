"""The vault on disk: database file, key-slot file, audit head; creating and unlocking it.

Keys (like LUKS key slots or age recipients):

* a random 256-bit **record key** opens the SQLCipher database (every user has it);
* a random 256-bit **clinical key** encrypts clinician-only note text with AES-256-GCM inside the
  database; only clinicians and clinical leads have it, so an officer's slot cannot yield it;
* each user has a **slot** with an X25519 key pair: the private key sealed under their passphrase
  (Argon2id), the vault keys sealed to the public key (see :mod:`slotcrypto`). The seals bind vault
  id, slot id, user id, role, whether the slot holds the clinical key and the key generation, so
  editing any of them in the file makes the slot unopenable;
* a **recovery key**, printed once, has a slot of its own holding both keys.

The **key generation** counts rotations. The slot file carries it, and so does the database
(``PRAGMA user_version``), which is how an interrupted rotation is finished or undone (``rekey``).

Unlocking reads files only: a wrong passphrase changes not one byte on disk.
"""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim_desk.records.codes import Role
from sim_desk.records.errors import (
    AuthenticationFailed,
    ValidationError,
    VaultDamaged,
    VaultExists,
    VaultNotFound,
)
from sim_desk.records.vault.fileio import write_atomic
from sim_desk.records.vault.keyslots import (
    KEY_BYTES,
    SLOT_FORMAT,
    SLOT_VERSION,
    KdfParams,
    Slot,
    SlotFile,
    SlotKey,
    check_slot,
    make_slot,
    new_key,
    normalise_username,
    open_slot,
    parse_slot_file,
    reseal_slot,
    slot_file_bytes,
    slot_keys,
    unseal_slot,
    upgrade_slot,
)

# Re-exported: callers have always found the slot API here.
__all__ = [
    "KEY_BYTES",
    "SLOT_FORMAT",
    "SLOT_VERSION",
    "KdfParams",
    "Slot",
    "SlotFile",
    "SlotKey",
    "VaultKeys",
    "VaultPaths",
    "check_new_passphrase",
    "check_username",
    "describe_wrong_file",
    "make_slot",
    "new_key",
    "new_recovery_key",
    "normalise_recovery_key",
    "normalise_username",
    "open_slot",
    "parse_slot_file",
    "read_pending_slot_file",
    "read_slot_file",
    "refuse_existing",
    "reseal_slot",
    "slot_keys",
    "unlock_recovery",
    "unlock_user",
    "unseal_slot",
    "upgrade_slot",
    "write_slot_file",
]

MIN_PASSPHRASE_LENGTH = 10
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed


@dataclass(frozen=True)
class VaultPaths:
    """Where one vault's files are. The database path names the vault."""

    database: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> VaultPaths:
        return cls(Path(path).expanduser().absolute())

    def _beside(self, suffix: str) -> Path:
        return self.database.with_name(self.database.name + suffix)

    @property
    def keyslots(self) -> Path:
        return self._beside("-keys")

    @property
    def keyslots_pending(self) -> Path:
        """The next generation's slot file, present only while a key rotation is unfinished."""
        return self._beside("-keys.next")

    @property
    def audit_head(self) -> Path:
        return self._beside("-audit")

    @property
    def all_files(self) -> tuple[Path, ...]:
        """Every file that belongs to the vault (some only exist while it is open)."""
        return (
            self.database,
            self.keyslots,
            self.audit_head,
            self._beside("-wal"),
            self._beside("-shm"),
            self._beside("-journal"),
            self.keyslots_pending,
        )

    def exists(self) -> bool:
        return self.database.exists() or self.keyslots.exists()


@dataclass(frozen=True)
class VaultKeys:
    """What a slot yields. ``clinical_key`` is None unless the slot's user has clinical access.

    ``pending`` holds the same user's keys of the next generation when a key rotation was
    interrupted (``journal`` says a rotation journal is there at all); ``upgraded`` is a format-2
    replacement for a format-1 slot, to be saved once the vault is open.
    """

    vault_id: uuid.UUID
    user_id: uuid.UUID | None  # None for the recovery key
    username: str | None
    role: Role
    record_key: bytes
    clinical_key: bytes | None
    generation: int = 0
    pending: VaultKeys | None = None
    journal: bool = False
    upgraded: Slot | None = None
    #: A secret only this slot's owner can derive (from the slot's private key): for what is
    #: sealed to the user alone, such as unsaved form drafts. None for a format-1 slot.
    owner_secret: bytes | None = None


def check_username(username: str) -> str:
    name = normalise_username(username) if isinstance(username, str) else ""
    if not name or len(name) > 64 or any(c.isspace() or not c.isprintable() for c in name):
        raise ValidationError(
            "User name: use 1 to 64 letters, digits, dots or dashes, with no spaces.", "username"
        )
    return name


def check_new_passphrase(passphrase: str) -> None:
    """Refuses passphrases too short to protect health records. Never echoes the passphrase."""
    if not isinstance(passphrase, str) or len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ValidationError(
            f"Passphrase: use at least {MIN_PASSPHRASE_LENGTH} characters; a few unrelated words"
            " make a passphrase that is long and easy to remember.",
            "passphrase",
        )


# -- the slot file ----------------------------------------------------------------------------


def describe_wrong_file(path: Path) -> str | None:
    """Names what a file chosen as the vault really is, when we can tell."""
    if path.name.endswith(("-keys", "-audit", "-keys.next")):
        return f"{path.name} is one of a vault's helper files; choose the vault file beside it."
    try:
        with path.open("rb") as handle:
            start = handle.read(16)
    except OSError:
        return None
    if start.startswith(b"PK\x03\x04"):
        return (
            f"{path.name} looks like a SIM Desk backup (or another zip file), not a vault. Restore"
            " a backup with 'sim-desk restore' to a new place, then open that."
        )
    if start.startswith(b"%PDF"):
        return f"{path.name} is a PDF document, not a SIM Desk vault. Choose the vault file."
    if start.startswith(b"SQLite format 3"):
        return f"{path.name} is an unencrypted SQLite database, not a SIM Desk vault."
    return None


def read_slot_file(paths: VaultPaths) -> SlotFile:
    """Reads and checks the key-slot file. Never writes."""
    if not paths.keyslots.is_file():
        if paths.database.is_file():
            raise VaultNotFound(
                describe_wrong_file(paths.database)
                or f"The key-slot file {paths.keyslots.name} is missing beside the vault database,"
                " so the vault cannot be unlocked. Put it back from a backup of this vault."
            )
        raise VaultNotFound(
            f"There is no vault at {paths.database}. Choose an existing vault file, or create a"
            " new vault with 'sim-desk init'."
        )
    return parse_slot_file(paths.keyslots.read_bytes(), paths.keyslots.name)


def read_pending_slot_file(paths: VaultPaths) -> SlotFile | None:
    """The next generation's slot file of an unfinished rotation; None if there is none or it
    cannot be read (an unreadable journal cannot have been acted on: it is written first)."""
    try:
        return parse_slot_file(paths.keyslots_pending.read_bytes(), paths.keyslots_pending.name)
    except (FileNotFoundError, VaultDamaged):
        return None


def write_slot_file(paths: VaultPaths, slot_file: SlotFile, *, pending: bool = False) -> None:
    """Writes the slot file (or, with ``pending``, the next generation's) atomically, 0600."""
    target = paths.keyslots_pending if pending else paths.keyslots
    write_atomic(target, slot_file_bytes(slot_file))


def new_recovery_key() -> str:
    """A 32-character recovery key (160 bits) in groups of four, for a printed sheet."""
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(32))
    return "-".join(chars[i : i + 4] for i in range(0, 32, 4))


def normalise_recovery_key(text: str) -> str:
    """Accepts the key as typed: any case, with or without dashes and spaces."""
    chars = "".join(c for c in text.upper() if c.isalnum())
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


# -- unlocking --------------------------------------------------------------------------------


def _owner_secret(vault_id: str, private_key: bytes | None) -> bytes | None:
    """HKDF-SHA256 of the slot's private key: unchanged by key rotations (the private key stays),
    new with a new passphrase (a new slot, a new key pair)."""
    if private_key is None:
        return None
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=uuid.UUID(vault_id).bytes,
        info=b"sim-desk owner secret v1",
    ).derive(private_key)


def _vault_keys(paths: VaultPaths, slot_file: SlotFile, slot: Slot, key: SlotKey) -> VaultKeys:
    """Opens ``slot`` (and the same slot in an unfinished rotation's journal) with ``key``."""
    record_key, clinical_key = slot_keys(slot_file.vault_id, slot, key)
    is_user = slot.kind == "user"
    assert not is_user or (slot.user_id is not None and slot.role is not None)
    common: dict[str, Any] = {
        "vault_id": uuid.UUID(slot_file.vault_id),
        "user_id": uuid.UUID(slot.user_id) if is_user and slot.user_id else None,
        "username": slot.username if is_user else None,
        "role": Role(slot.role) if is_user and slot.role else Role.TEAM_LEAD,
        "owner_secret": _owner_secret(slot_file.vault_id, key.private_key),
    }
    pending_keys = None
    journal = paths.keyslots_pending.exists()
    pending = read_pending_slot_file(paths) if journal else None
    if pending is not None and pending.vault_id == slot_file.vault_id:
        twin = next((s for s in pending.slots if s.slot_id == slot.slot_id), None)
        if twin is not None and twin.public_key == slot.public_key and key.private_key:
            try:
                new_record, new_clinical = slot_keys(pending.vault_id, twin, key)
            except VaultDamaged:
                pass  # settling the rotation then relies on the current keys alone
            else:
                pending_keys = VaultKeys(
                    **common,
                    record_key=new_record,
                    clinical_key=new_clinical,
                    generation=pending.generation,
                )
    upgraded = None
    if slot.version == 1 and not journal:
        upgraded = upgrade_slot(slot_file.vault_id, slot, key, record_key, clinical_key)
    return VaultKeys(
        **common,
        record_key=record_key,
        clinical_key=clinical_key,
        generation=slot_file.generation,
        pending=pending_keys,
        journal=journal,
        upgraded=upgraded,
    )


def unlock_user(paths: VaultPaths, username: str, passphrase: str) -> VaultKeys:
    """Unwraps a user's slot. Reads the slot files only; writes nothing anywhere."""
    slot_file = read_slot_file(paths)
    slot = slot_file.user_slot(username)
    if slot is None:
        raise AuthenticationFailed(
            "There is no user with that name in this vault. Check the spelling, or ask your team"
            " lead to add you."
        )
    check_slot(slot_file, slot)
    key = unseal_slot(slot_file.vault_id, slot, passphrase)
    return _vault_keys(paths, slot_file, slot, key)


def unlock_recovery(paths: VaultPaths, recovery_key: str) -> VaultKeys:
    """Unwraps the recovery slot. The recovery key acts as a clinical team lead."""
    slot_file = read_slot_file(paths)
    slots = slot_file.recovery_slots
    if not slots:
        raise VaultDamaged("This vault has no recovery-key slot. Restore it from a backup.")
    for slot in slots:  # two only while a new recovery key waits to be confirmed as printed
        check_slot(slot_file, slot)
        try:
            key = unseal_slot(slot_file.vault_id, slot, normalise_recovery_key(recovery_key))
            return _vault_keys(paths, slot_file, slot, key)
        except AuthenticationFailed:
            continue
    raise AuthenticationFailed(
        "That recovery key is not right for this vault. Check each group of four against"
        " the printed recovery sheet."
    )


def refuse_existing(paths: VaultPaths) -> None:
    for path in paths.all_files:
        if path.exists():
            raise VaultExists(
                f"A vault already exists at {paths.database} ({path.name} is there). Choose"
                " another file name; SIM Desk never overwrites a vault."
            )
