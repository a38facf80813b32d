"""The cryptography inside a key slot: pure functions over bytes, no files.

Slot format 2 gives every slot an X25519 key pair (like an age recipient):

* the slot's **private key** is sealed with AES-256-GCM under a key derived from the owner's
  passphrase (or the recovery key) by Argon2id. Only the owner can unseal it;
* the vault keys (record key, and the clinical key for clinical slots) are sealed to the slot's
  **public key**: an ephemeral X25519 exchange, HKDF-SHA256, AES-256-GCM.

So a team lead can seal *new* vault keys to every remaining member when keys are rotated, without
knowing anyone's passphrase, and nobody's passphrase or private key changes. A leaver keeps only
their own private key, and no slot is sealed to it any more.

Format 1 (the first release) sealed the vault keys directly under the passphrase key; such slots
are still opened, and are upgraded to format 2 the next time their owner signs in.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

# argon2 and cryptography are imported where they are used, not with this module: the app reads
# the slot file's user names for its unlock dialog, and shows it sooner without them (issue 8).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

KEY_BYTES = 32
_HKDF_INFO = b"sim-desk key slot v2: vault keys sealed to a slot's public key"


class Unsealable(Exception):
    """A seal did not open: wrong secret, or the sealed bytes or their bound fields were edited."""


def derive_passphrase_key(
    secret: str, salt: bytes, *, time_cost: int, memory_kib: int, parallelism: int
) -> bytes:
    """Argon2id over the passphrase (UTF-8, exactly as typed)."""
    from argon2.low_level import Type, hash_secret_raw

    return hash_secret_raw(
        secret.encode("utf-8"),
        salt,
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def bound(fields: dict[str, Any]) -> bytes:
    """Canonical associated data: the fields a seal is bound to; editing any of them breaks it."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def digest(fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of the fields' canonical form: catches damage, not a determined editor."""
    return hashlib.sha256(bound(fields)).hexdigest()


def seal(key: bytes, nonce: bytes, plaintext: bytes, associated: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key).encrypt(nonce, plaintext, associated)


def unseal(key: bytes, nonce: bytes, sealed: bytes, associated: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(nonce, sealed, associated)
    except (InvalidTag, ValueError):  # ValueError: a nonce or key of the wrong size
        raise Unsealable from None


# -- key pairs ------------------------------------------------------------------------------


def new_key_pair() -> tuple[bytes, bytes]:
    """A fresh X25519 (private, public) pair as raw 32-byte strings."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def public_of(private_raw: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    return X25519PrivateKey.from_private_bytes(private_raw).public_key().public_bytes_raw()


def _shared_key(
    private: X25519PrivateKey, peer_public: bytes, ephemeral: bytes, recipient: bytes
) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:  # an all-zero shared secret: a low-order point was put in the file
        raise Unsealable from None
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=ephemeral + recipient, info=_HKDF_INFO
    ).derive(shared)


def seal_to(
    recipient_public: bytes, nonce: bytes, plaintext: bytes, associated: bytes
) -> tuple[bytes, bytes]:
    """Seals ``plaintext`` so that only the holder of the matching private key can open it.

    Returns:
        (ephemeral public key, sealed bytes).
    """
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    key = _shared_key(ephemeral, recipient_public, ephemeral_public, recipient_public)
    return ephemeral_public, seal(key, nonce, plaintext, associated)


def open_sealed_to(
    private_raw: bytes, ephemeral_public: bytes, nonce: bytes, sealed: bytes, associated: bytes
) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    try:
        private = X25519PrivateKey.from_private_bytes(private_raw)
    except ValueError:
        raise Unsealable from None
    recipient = private.public_key().public_bytes_raw()
    key = _shared_key(private, ephemeral_public, ephemeral_public, recipient)
    return unseal(key, nonce, sealed, associated)
