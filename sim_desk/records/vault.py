"""The vault on disk: database file, key-slot file, audit head; creating and unlocking it.

Keys (like LUKS key slots or age recipients):

* a random 256-bit **record key** opens the SQLCipher database (every user has it);
* a random 256-bit **clinical key** encrypts clinician-only note text with AES-256-GCM inside the
  database; only clinicians and clinical leads have it, so an officer's slot cannot yield it;
* each user has a **slot**: their keys wrapped with AES-256-GCM under a key derived from their
  passphrase by Argon2id. The associated data binds vault id, slot id, user id, role and whether
  the slot holds the clinical key, so editing any of them in the file makes the slot unopenable;
* a **recovery key**, printed once, has a slot of its own holding both keys.

Unlocking reads files only: a wrong passphrase changes not one byte on disk.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sim_desk.records.codes import Role
from sim_desk.records.errors import (
    AuthenticationFailed,
    ValidationError,
    VaultDamaged,
    VaultExists,
    VaultNotFound,
)
from sim_desk.records.fileio import write_atomic

SLOT_FORMAT = "sim-desk-keyslots"
SLOT_VERSION = 1
KEY_BYTES = 32
MIN_PASSPHRASE_LENGTH = 10
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. The floor is RFC 9106's second recommended option."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4

    def check(self) -> None:
        if self.time_cost < 3 or self.memory_kib < 64 * 1024 or self.parallelism < 4:
            raise VaultDamaged(
                "The key-slot file asks for a weaker passphrase protection than SIM Desk allows;"
                " it may have been tampered with. Restore the vault from a backup."
            )


@dataclass(frozen=True)
class VaultPaths:
    """Where one vault's files are. The database path names the vault."""

    database: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> VaultPaths:
        return cls(Path(path).expanduser().absolute())

    @property
    def keyslots(self) -> Path:
        return self.database.with_name(self.database.name + "-keys")

    @property
    def audit_head(self) -> Path:
        return self.database.with_name(self.database.name + "-audit")

    @property
    def all_files(self) -> tuple[Path, ...]:
        """Every file that belongs to the vault (some only exist while it is open)."""
        db = self.database
        return (
            db,
            self.keyslots,
            self.audit_head,
            db.with_name(db.name + "-wal"),
            db.with_name(db.name + "-shm"),
        )

    def exists(self) -> bool:
        return self.database.exists() or self.keyslots.exists()


@dataclass
class Slot:
    """One key slot as stored in the JSON file. Nothing in here is secret."""

    slot_id: str
    kind: Literal["user", "recovery"]
    user_id: str | None
    username: str | None
    role: str | None
    clinical: bool
    kdf: dict[str, int]
    salt: str
    nonce: str
    ciphertext: str


@dataclass
class SlotFile:
    vault_id: str
    slots: list[Slot] = field(default_factory=list)

    def user_slot(self, username: str) -> Slot | None:
        wanted = normalise_username(username)
        return next(
            (s for s in self.slots if s.kind == "user" and s.username == wanted),
            None,
        )

    @property
    def usernames(self) -> list[str]:
        return sorted(s.username for s in self.slots if s.kind == "user" and s.username)


@dataclass(frozen=True)
class VaultKeys:
    """What a slot yields. ``clinical_key`` is None unless the slot's user has clinical access."""

    vault_id: uuid.UUID
    user_id: uuid.UUID | None  # None for the recovery key
    username: str | None
    role: Role
    record_key: bytes
    clinical_key: bytes | None


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not name or len(name) > 64 or any(c.isspace() or not c.isprintable() for c in name):
        raise ValidationError(
            "User name: use 1 to 64 letters, digits, dots or dashes, with no spaces.", "username"
        )
    return name


def check_new_passphrase(passphrase: str) -> None:
    """Refuses passphrases too short to protect health records. Never echoes the passphrase."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ValidationError(
            f"Passphrase: use at least {MIN_PASSPHRASE_LENGTH} characters; a few unrelated words"
            " make a passphrase that is long and easy to remember.",
            "passphrase",
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _derive(secret: str, salt: bytes, params: KdfParams) -> bytes:
    return hash_secret_raw(
        secret.encode("utf-8"),
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def _associated_data(vault_id: str, slot: Slot) -> bytes:
    bound = {
        "format": SLOT_FORMAT,
        "vault_id": vault_id,
        "slot_id": slot.slot_id,
        "kind": slot.kind,
        "user_id": slot.user_id,
        "role": slot.role,
        "clinical": slot.clinical,
    }
    return json.dumps(bound, sort_keys=True, separators=(",", ":")).encode()


def make_slot(
    vault_id: str,
    secret: str,
    *,
    kind: Literal["user", "recovery"],
    record_key: bytes,
    clinical_key: bytes | None,
    user_id: uuid.UUID | None = None,
    username: str | None = None,
    role: Role | None = None,
    params: KdfParams | None = None,
) -> Slot:
    """Wraps the keys under ``secret`` (a passphrase or the recovery key)."""
    params = params or KdfParams()
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    slot = Slot(
        slot_id=str(uuid.uuid4()),
        kind=kind,
        user_id=str(user_id) if user_id else None,
        username=normalise_username(username) if username else None,
        role=role.value if role else None,
        clinical=clinical_key is not None,
        kdf={"t": params.time_cost, "m": params.memory_kib, "p": params.parallelism},
        salt=_b64(salt),
        nonce=_b64(nonce),
        ciphertext="",
    )
    payload = record_key + (clinical_key or b"")
    wrapped = AESGCM(_derive(secret, salt, params)).encrypt(
        nonce, payload, _associated_data(vault_id, slot)
    )
    slot.ciphertext = _b64(wrapped)
    return slot


def open_slot(vault_id: str, slot: Slot, secret: str) -> tuple[bytes, bytes | None]:
    """Unwraps a slot. Raises AuthenticationFailed for a wrong secret or an edited slot."""
    try:
        params = KdfParams(slot.kdf["t"], slot.kdf["m"], slot.kdf["p"])
        salt, nonce, wrapped = _unb64(slot.salt), _unb64(slot.nonce), _unb64(slot.ciphertext)
    except (KeyError, ValueError, TypeError) as exc:
        raise VaultDamaged(
            "The key-slot file is damaged. Restore it from a backup of this vault."
        ) from exc
    params.check()
    try:
        payload = AESGCM(_derive(secret, salt, params)).decrypt(
            nonce, wrapped, _associated_data(vault_id, slot)
        )
    except InvalidTag:
        raise AuthenticationFailed(
            "That passphrase is not right for this user. Check Caps Lock and the keyboard layout,"
            " then try again. A team lead can reset it with the recovery key."
        ) from None
    expected = KEY_BYTES * (2 if slot.clinical else 1)
    if len(payload) != expected:
        raise VaultDamaged("A key slot holds keys of the wrong size. Restore from a backup.")
    return payload[:KEY_BYTES], (payload[KEY_BYTES:] if slot.clinical else None)


def read_slot_file(paths: VaultPaths) -> SlotFile:
    """Reads and checks the key-slot file. Never writes."""
    if not paths.keyslots.is_file():
        if paths.database.is_file():
            raise VaultNotFound(
                f"The key-slot file {paths.keyslots.name} is missing beside the vault database,"
                " so the vault cannot be unlocked. Put it back from a backup of this vault."
            )
        raise VaultNotFound(
            f"There is no vault at {paths.database}. Choose an existing vault file, or create a"
            " new vault with 'sim-desk init'."
        )
    try:
        raw = json.loads(paths.keyslots.read_text(encoding="utf-8"))
        if raw.get("format") != SLOT_FORMAT:
            raise ValueError("not a key-slot file")
        if raw.get("version") != SLOT_VERSION:
            raise VaultDamaged(
                "The key-slot file was written by another version of SIM Desk. Install the"
                " version that made it."
            )
        return SlotFile(
            vault_id=str(uuid.UUID(raw["vault_id"])),
            slots=[Slot(**slot) for slot in raw["slots"]],
        )
    except VaultDamaged:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise VaultDamaged(
            f"{paths.keyslots.name} is not a readable SIM Desk key-slot file (damaged, or another"
            " file chosen). Restore it from a backup of this vault."
        ) from exc


def write_slot_file(paths: VaultPaths, slot_file: SlotFile) -> None:
    doc: dict[str, Any] = {
        "format": SLOT_FORMAT,
        "version": SLOT_VERSION,
        "vault_id": slot_file.vault_id,
        "slots": [asdict(slot) for slot in slot_file.slots],
    }
    write_atomic(paths.keyslots, json.dumps(doc, indent=2).encode("utf-8"))


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def new_recovery_key() -> str:
    """A 32-character recovery key (160 bits) in groups of four, for a printed sheet."""
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(32))
    return "-".join(chars[i : i + 4] for i in range(0, 32, 4))


def normalise_recovery_key(text: str) -> str:
    """Accepts the key as typed: any case, with or without dashes and spaces."""
    chars = "".join(c for c in text.upper() if c.isalnum())
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def unlock_user(paths: VaultPaths, username: str, passphrase: str) -> VaultKeys:
    """Unwraps a user's slot. Reads the slot file only; writes nothing anywhere."""
    slot_file = read_slot_file(paths)
    slot = slot_file.user_slot(username)
    if slot is None:
        raise AuthenticationFailed(
            "There is no user with that name in this vault. Check the spelling, or ask your team"
            " lead to add you."
        )
    record_key, clinical_key = open_slot(slot_file.vault_id, slot, passphrase)
    assert slot.user_id is not None and slot.role is not None
    return VaultKeys(
        vault_id=uuid.UUID(slot_file.vault_id),
        user_id=uuid.UUID(slot.user_id),
        username=slot.username,
        role=Role(slot.role),
        record_key=record_key,
        clinical_key=clinical_key,
    )


def unlock_recovery(paths: VaultPaths, recovery_key: str) -> VaultKeys:
    """Unwraps the recovery slot. The recovery key acts as a clinical team lead."""
    slot_file = read_slot_file(paths)
    slot = next((s for s in slot_file.slots if s.kind == "recovery"), None)
    if slot is None:
        raise VaultDamaged("This vault has no recovery-key slot. Restore it from a backup.")
    try:
        record_key, clinical_key = open_slot(
            slot_file.vault_id, slot, normalise_recovery_key(recovery_key)
        )
    except AuthenticationFailed:
        raise AuthenticationFailed(
            "That recovery key is not right for this vault. Check each group of four against"
            " the printed recovery sheet."
        ) from None
    return VaultKeys(
        vault_id=uuid.UUID(slot_file.vault_id),
        user_id=None,
        username=None,
        role=Role.TEAM_LEAD,
        record_key=record_key,
        clinical_key=clinical_key,
    )


def refuse_existing(paths: VaultPaths) -> None:
    if paths.exists():
        raise VaultExists(
            f"A vault already exists at {paths.database}. Choose another file name; SIM Desk never"
            " overwrites a vault."
        )
