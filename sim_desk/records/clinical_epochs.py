"""Clinical notes under the team's key epochs (issue 20), beside the vault's own clinical key.

A vault that never joined a team server seals notes as it always has: ``nonce || AES-GCM``
under its own clinical key (:func:`unit_of_work.seal_clinical`). Once the team's clinical key
has reached this vault, new notes are *framed*: ``MAGIC || epoch (4 bytes) || nonce || AES-GCM``
under that epoch's key, the epoch bound into the AAD too. Every laptop that holds the epoch
opens them, whatever vault it started from. A note without a frame is read with the vault's
own key, then with the team's epoch 1 (the vault key of the clinical device that started the
team's keys: its old notes stay readable everywhere). GCM authenticates, so trying a framed
reading and then the legacy one is safe: a wrong key never yields text.

Rotation starts a new epoch for new notes; notes already written keep the epoch they name and
are never rewritten in place (which would lose a note edited offline meanwhile).
"""

from __future__ import annotations

import secrets
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.model.keys import TeamKey

MAGIC = b"SIMK\x01"
_HEAD = len(MAGIC) + 4
CLINICAL = "clinical"
LINKAGE = "linkage"


@dataclass(frozen=True)
class Keyring:
    """The team's clinical key epochs this vault holds (empty outside a team)."""

    keys: Mapping[int, bytes] = field(default_factory=dict)
    current: int | None = None


EMPTY = Keyring()


def _bound(bound_to: uuid.UUID, epoch: int) -> bytes:
    return b"sim-desk-clinical|" + bound_to.bytes + b"|epoch" + struct.pack(">I", epoch)


def history_bound_to(contact_id: uuid.UUID) -> uuid.UUID:
    """What a contact's clinical history (records.note_history) is bound to: the contact, and
    that it is the history, so that it can never be passed off as the note or the reverse."""
    return uuid.uuid5(contact_id, "clinical_history")


def frame_epoch(blob: bytes | None) -> int:
    """The epoch a note names, 0 for an unframed (vault key or epoch 1) note. The frame is
    public: the server files the ciphertext under this number."""
    if blob is not None and len(blob) > _HEAD + 12 and blob.startswith(MAGIC):
        return int(struct.unpack(">I", blob[len(MAGIC) : _HEAD])[0])
    return 0


def seal_framed(key: bytes, epoch: int, plaintext: bytes, bound_to: uuid.UUID) -> bytes:
    nonce = secrets.token_bytes(12)
    return (
        MAGIC
        + struct.pack(">I", epoch)
        + nonce
        + AESGCM(key).encrypt(nonce, plaintext, _bound(bound_to, epoch))
    )


def open_any(
    vault_key: bytes | None, ring: Keyring, blob: bytes, bound_to: uuid.UUID
) -> bytes | None:
    """The note's text under whichever key opens it, or None if none here does."""
    epoch = frame_epoch(blob)
    if epoch and epoch in ring.keys:
        try:
            return AESGCM(ring.keys[epoch]).decrypt(
                blob[_HEAD : _HEAD + 12], blob[_HEAD + 12 :], _bound(bound_to, epoch)
            )
        except InvalidTag:
            pass  # a legacy note whose random nonce began like a frame: read it as one
    legacy_bound = b"sim-desk-clinical|" + bound_to.bytes
    for key in (vault_key, ring.keys.get(1)):
        if key is None:
            continue
        try:
            return AESGCM(key).decrypt(blob[:12], blob[12:], legacy_bound)
        except InvalidTag:
            continue
    return None


# -- team keys kept in the vault, sealed --------------------------------------------------------


def _key_aad(kind: str, epoch: int) -> bytes:
    return b"sim-desk team key|" + kind.encode("ascii") + struct.pack(">I", epoch)


def seal_team_key(wrapping_key: bytes, kind: str, epoch: int, key: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(wrapping_key).encrypt(nonce, key, _key_aad(kind, epoch))


def open_team_key(wrapping_key: bytes, kind: str, epoch: int, sealed: bytes) -> bytes | None:
    try:
        return AESGCM(wrapping_key).decrypt(sealed[:12], sealed[12:], _key_aad(kind, epoch))
    except InvalidTag:
        return None


def load_keyring(session: Session, vault_clinical_key: bytes) -> Keyring:
    """The clinical epochs sealed in this vault, opened with the vault's clinical key."""
    keys: dict[int, bytes] = {}
    current = None
    for row in session.execute(select(TeamKey).where(TeamKey.kind == CLINICAL)).scalars():
        key = open_team_key(vault_clinical_key, CLINICAL, row.epoch, row.sealed)
        if key is None:
            continue
        keys[row.epoch] = key
        if row.current:
            current = row.epoch
    return Keyring(keys, current)
