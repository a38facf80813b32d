"""Sealing vault keys into a slot and opening them again (Argon2id, X25519, AES-256-GCM)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import asdict
from typing import Literal

from sim_desk.records.codes import Role
from sim_desk.records.errors import AuthenticationFailed, VaultDamaged
from sim_desk.records.vault import slotcrypto as sc
from sim_desk.records.vault.keyslots.slots import (
    ALTERED_SLOT,
    DAMAGED_SLOT,
    KEY_BYTES,
    SLOT_FORMAT,
    KdfParams,
    Slot,
    SlotKey,
    b64,
    kdf_params,
    normalise_username,
    slot_problem,
    unb64,
)


def _derive(secret: str, salt: bytes, params: KdfParams) -> bytes:
    return sc.derive_passphrase_key(
        secret,
        salt,
        time_cost=params.time_cost,
        memory_kib=params.memory_kib,
        parallelism=params.parallelism,
    )


def _v1_bound(vault_id: str, slot: Slot) -> bytes:
    return sc.bound(
        {
            "format": SLOT_FORMAT,
            "vault_id": vault_id,
            "slot_id": slot.slot_id,
            "kind": slot.kind,
            "user_id": slot.user_id,
            "role": slot.role,
            "clinical": slot.clinical,
        }
    )


def _private_bound(vault_id: str, slot: Slot) -> bytes:
    return sc.bound(
        {
            "format": SLOT_FORMAT,
            "part": "private",
            "vault_id": vault_id,
            "slot_id": slot.slot_id,
            "kind": slot.kind,
            "user_id": slot.user_id,
            "public_key": slot.public_key,
        }
    )


def _keys_bound(vault_id: str, slot: Slot) -> bytes:
    return sc.bound(
        {
            "format": SLOT_FORMAT,
            "part": "keys",
            "vault_id": vault_id,
            "slot_id": slot.slot_id,
            "kind": slot.kind,
            "user_id": slot.user_id,
            "role": slot.role,
            "clinical": slot.clinical,
            "generation": slot.generation,
            "public_key": slot.public_key,
        }
    )


def _seal_keys(vault_id: str, slot: Slot, record_key: bytes, clinical_key: bytes | None) -> None:
    """Seals the vault keys to ``slot``'s public key, in place (slot fields already final)."""
    nonce = secrets.token_bytes(12)
    ephemeral, sealed = sc.seal_to(
        unb64(slot.public_key),
        nonce,
        record_key + (clinical_key or b""),
        _keys_bound(vault_id, slot),
    )
    slot.nonce, slot.ephemeral, slot.ciphertext = b64(nonce), b64(ephemeral), b64(sealed)


def _seal_private(vault_id: str, slot: Slot, passphrase_key: bytes, private: bytes) -> None:
    nonce = secrets.token_bytes(12)
    sealed = sc.seal(passphrase_key, nonce, private, _private_bound(vault_id, slot))
    slot.private_nonce, slot.private_key = b64(nonce), b64(sealed)


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
    generation: int = 0,
) -> Slot:
    """A new format-2 slot for ``secret`` (a passphrase or the recovery key) holding the keys."""
    params = params or KdfParams()
    salt = secrets.token_bytes(16)
    private, public = sc.new_key_pair()
    slot = Slot(
        slot_id=str(uuid.uuid4()),
        kind=kind,
        user_id=str(user_id) if user_id else None,
        username=normalise_username(username) if username else None,
        role=role.value if role else None,
        clinical=clinical_key is not None,
        kdf={"t": params.time_cost, "m": params.memory_kib, "p": params.parallelism},
        salt=b64(salt),
        nonce="",
        ciphertext="",
        version=2,
        generation=generation,
        public_key=b64(public),
    )
    _seal_private(vault_id, slot, _derive(secret, salt, params), private)
    _seal_keys(vault_id, slot, record_key, clinical_key)
    return slot


def reseal_slot(
    vault_id: str,
    slot: Slot,
    *,
    record_key: bytes,
    clinical_key: bytes | None,
    generation: int,
) -> Slot:
    """The same slot (same owner, passphrase and private key) holding new vault keys.

    Needs no passphrase: this is how a key rotation re-wraps every remaining member's slot.
    """
    if slot.version != 2 or slot.public_key is None:
        raise ValueError("only format-2 slots can be resealed without their passphrase")
    new = Slot(**asdict(slot))
    new.clinical, new.generation = clinical_key is not None, generation
    _seal_keys(vault_id, new, record_key, clinical_key)
    return new


def upgrade_slot(
    vault_id: str, slot: Slot, key: SlotKey, record_key: bytes, clinical_key: bytes | None
) -> Slot:
    """A format-2 replacement for a format-1 slot, made while its owner unlocks (same salt and
    passphrase key, so no second Argon2id run)."""
    private, public = sc.new_key_pair()
    new = Slot(**asdict(slot))
    new.version, new.public_key = 2, b64(public)
    _seal_private(vault_id, new, key.passphrase_key, private)
    _seal_keys(vault_id, new, record_key, clinical_key)
    return new


def unseal_slot(vault_id: str, slot: Slot, secret: str) -> SlotKey:
    """Runs Argon2id once and, for a format-2 slot, unseals its private key.

    Raises:
        AuthenticationFailed: the secret is wrong (format 2; format 1 finds out in slot_keys).
        VaultDamaged: the slot is not one SIM Desk wrote (checked before any Argon2id work).
    """
    if slot_problem(vault_id, slot, digest_required=False):
        raise VaultDamaged(DAMAGED_SLOT)
    params = kdf_params(slot)
    try:
        salt = unb64(slot.salt)
        passphrase_key = _derive(secret, salt, params)
        if slot.version == 1:
            return SlotKey(slot.slot_id, passphrase_key, None)
        if slot.version != 2:
            raise ValueError("unknown slot version")
        sealed, nonce, public = (
            unb64(slot.private_key),
            unb64(slot.private_nonce),
            unb64(slot.public_key),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise VaultDamaged(DAMAGED_SLOT) from exc
    try:
        private = sc.unseal(passphrase_key, nonce, sealed, _private_bound(vault_id, slot))
    except sc.Unsealable:
        raise _wrong_secret() from None
    if len(private) != KEY_BYTES or sc.public_of(private) != public:
        raise VaultDamaged(ALTERED_SLOT)
    return SlotKey(slot.slot_id, passphrase_key, private)


def _wrong_secret() -> AuthenticationFailed:
    return AuthenticationFailed(
        "That passphrase is not right for this user. Check Caps Lock and the keyboard layout,"
        " then try again. A team lead can reset it with the recovery key."
    )


def slot_keys(vault_id: str, slot: Slot, key: SlotKey) -> tuple[bytes, bytes | None]:
    """The (record key, clinical key or None) sealed in ``slot``, opened with ``key``."""
    try:
        nonce, sealed = unb64(slot.nonce), unb64(slot.ciphertext)
        if slot.version == 1:
            payload = sc.unseal(key.passphrase_key, nonce, sealed, _v1_bound(vault_id, slot))
        elif key.private_key is None:
            raise VaultDamaged(ALTERED_SLOT)
        else:
            payload = sc.open_sealed_to(
                key.private_key, unb64(slot.ephemeral), nonce, sealed, _keys_bound(vault_id, slot)
            )
    except (ValueError, TypeError, AttributeError) as exc:
        raise VaultDamaged(DAMAGED_SLOT) from exc
    except sc.Unsealable:
        if slot.version == 1:
            raise _wrong_secret() from None
        raise VaultDamaged(ALTERED_SLOT) from None
    expected = KEY_BYTES * (2 if slot.clinical else 1)
    if len(payload) != expected:
        raise VaultDamaged("A key slot holds keys of the wrong size. Restore from a backup.")
    return payload[:KEY_BYTES], (payload[KEY_BYTES:] if slot.clinical else None)


def open_slot(vault_id: str, slot: Slot, secret: str) -> tuple[bytes, bytes | None]:
    """Unwraps a slot. Raises AuthenticationFailed for a wrong secret, VaultDamaged for an
    edited slot."""
    return slot_keys(vault_id, slot, unseal_slot(vault_id, slot, secret))
