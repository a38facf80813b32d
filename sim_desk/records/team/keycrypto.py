"""The cryptography of team keys (issue 20): proofs of public keys, introductions, key wraps.

Pure functions over bytes (no database, no network), all from the cryptography package:

- **Proof** of a joining device's public key: the invitation's one-time secret (which the server
  never sees) gives ``K_proof = HKDF(secret, "sim-desk public key proof")``; the new device sends
  ``HMAC(K_proof, device id || public key)`` with its join, and the inviting laptop, which kept
  ``K_proof``, checks it. A key swapped in on the server does not carry a valid tag.
- **Introduction**: a device tells another which public key (and role) a third device has. It is
  authenticated with a key only the two of them can derive (X25519 between the introducer's
  private key and the recipient's public key), so the server cannot forge one.
- **Wrap** of a team key to a device: ephemeral-static *and* static-static X25519, HKDF-SHA256,
  AES-256-GCM, the AAD binding kind, epoch, both device ids and both public keys. Only the
  recipient can open it, and it proves which device made it: a server administrator can neither
  read a wrap nor slip a key of their own to a clinician.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import struct
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

KEY_BYTES = 32
KINDS = ("clinical", "linkage")
_PROOF_INFO = b"sim-desk public key proof"
_INTRO_INFO = b"sim-desk introduction v1"
_WRAP_INFO = b"sim-desk key wrap v1"


class KeyCryptoError(Exception):
    """A proof, introduction or wrap that does not verify (never says more: no oracle)."""


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(material)


def public_of(private_key: bytes) -> bytes:
    return (
        X25519PrivateKey.from_private_bytes(private_key)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


def _dh(private_key: bytes, public_key: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private_key).exchange(
        X25519PublicKey.from_public_bytes(public_key)
    )


# -- proof of a public key, from the invitation's secret -------------------------------------


def proof_key(invitation_secret: str) -> bytes:
    return _hkdf(invitation_secret.encode("utf-8"), _PROOF_INFO)


def proof_tag(key: bytes, device_id: uuid.UUID, public_key: bytes) -> bytes:
    return hmac.new(key, _PROOF_INFO + b"|" + device_id.bytes + public_key, hashlib.sha256).digest()


def proof_holds(key: bytes, device_id: uuid.UUID, public_key: bytes, tag: bytes | None) -> bool:
    return tag is not None and hmac.compare_digest(proof_tag(key, device_id, public_key), tag)


# -- introductions ----------------------------------------------------------------------------


def statement(about: uuid.UUID, public_key: bytes, role: str, clinical: bool) -> bytes:
    """What an introduction says, canonically (sorted JSON)."""
    return json.dumps(
        {"about": str(about), "public_key": public_key.hex(), "role": role, "clinical": clinical},
        sort_keys=True,
        separators=(",", ":"),
    ).encode("ascii")


def _pair_key(
    my_private: bytes, their_public: bytes, sender: uuid.UUID, recipient: uuid.UUID
) -> bytes:
    return _hkdf(_dh(my_private, their_public), _INTRO_INFO + sender.bytes + recipient.bytes)


def introduce(
    my_private: bytes, me: uuid.UUID, to_public: bytes, to: uuid.UUID, said: bytes
) -> bytes:
    """The MAC of an introduction from ``me`` to ``to``."""
    return hmac.new(_pair_key(my_private, to_public, me, to), said, hashlib.sha256).digest()


def introduction_holds(
    my_private: bytes, me: uuid.UUID, from_public: bytes, sender: uuid.UUID, said: bytes, mac: bytes
) -> bool:
    expected = hmac.new(_pair_key(my_private, from_public, sender, me), said, hashlib.sha256)
    return hmac.compare_digest(expected.digest(), mac)


# -- wrapping a team key to a device ------------------------------------------------------------


def _wrap_aad(
    kind: str,
    epoch: int,
    recipient: uuid.UUID,
    recipient_public: bytes,
    sender: uuid.UUID,
    sender_public: bytes,
) -> bytes:
    return (
        b"sim-desk key wrap|"
        + kind.encode("ascii")
        + struct.pack(">I", epoch)
        + recipient.bytes
        + recipient_public
        + sender.bytes
        + sender_public
    )


def wrap(
    key: bytes,
    *,
    kind: str,
    epoch: int,
    sender: uuid.UUID,
    sender_private: bytes,
    recipient: uuid.UUID,
    recipient_public: bytes,
) -> bytes:
    """ephemeral public key (32) || nonce (12) || AES-GCM(key) (48)."""
    if kind not in KINDS or len(key) != KEY_BYTES:
        raise ValueError("not a team key")
    ephemeral = X25519PrivateKey.generate()
    eph_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public)) + _dh(
        sender_private, recipient_public
    )
    aead = AESGCM(_hkdf(shared, _WRAP_INFO + eph_public))
    nonce = secrets.token_bytes(12)
    aad = _wrap_aad(kind, epoch, recipient, recipient_public, sender, public_of(sender_private))
    return eph_public + nonce + aead.encrypt(nonce, key, aad)


def unwrap(
    wrapped: bytes,
    *,
    kind: str,
    epoch: int,
    recipient: uuid.UUID,
    recipient_private: bytes,
    sender: uuid.UUID,
    sender_public: bytes,
) -> bytes:
    """The key, if ``sender`` (with that public key) wrapped it to this device; else raises
    KeyCryptoError."""
    if len(wrapped) != 32 + 12 + KEY_BYTES + 16:
        raise KeyCryptoError("not a key wrap")
    eph_public, nonce, sealed = wrapped[:32], wrapped[32:44], wrapped[44:]
    try:
        shared = _dh(recipient_private, eph_public) + _dh(recipient_private, sender_public)
        aead = AESGCM(_hkdf(shared, _WRAP_INFO + eph_public))
        aad = _wrap_aad(kind, epoch, recipient, public_of(recipient_private), sender, sender_public)
        return aead.decrypt(nonce, sealed, aad)
    except (InvalidTag, ValueError):
        raise KeyCryptoError("this key wrap does not open here") from None


def fingerprint(public_key: bytes) -> str:
    """A public key's SHA-256, in groups a person can compare aloud."""
    digest = hashlib.sha256(public_key).hexdigest()[:24].upper()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))
