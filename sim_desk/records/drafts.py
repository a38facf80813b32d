"""Drafts: forms their user had not finished, kept for that user alone.

A form closed with Escape or its close button, or still open when the app locked itself, is kept
as a draft and offered back later. A draft is not a record, and is treated as the user's own
scrap of paper:

* it is sealed (AES-256-GCM) under a key derived from the signed-in slot's own secret
  (``UnlockedVault.owner_secret``, which only that user's passphrase opens), bound to the vault,
  the draft and its owner, so another user of the same vault (a shared laptop) can neither read
  it nor pass it off as theirs;
* clinician-only text in it is sealed once more under the clinical key, as notes are;
* it lives in this laptop's vault only: never synced, exported or reported
  (``model.LOCAL_ONLY_TABLES``), and it is deleted when the form is saved or discarded, or after
  :data:`KEEP_DAYS` days.

A new passphrase is a new key slot with a new secret, so drafts saved before it cannot be opened
any more; they are removed (and counted) the next time drafts are listed.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from sim_desk.records.errors import NotFound, PermissionDenied, SimDeskError, VaultDamaged
from sim_desk.records.model import Draft
from sim_desk.records.unit_of_work import UnlockedVault

#: Drafts older than this are deleted: they hold personal data nobody has decided to keep.
KEEP_DAYS = 30
#: At most this many drafts per user; the oldest go first.
MAX_DRAFTS = 20
_FORMAT = 1


class DraftsUnavailable(SimDeskError):
    """This sign-in has no secret of its own to seal drafts with (a first-release key slot,
    upgraded at this unlock: drafts work from the next one)."""


@dataclass(frozen=True)
class DraftView:
    """A draft as its owner sees it. ``clinical_withheld`` says clinician-only text is in it that
    this sign-in cannot open (clinical access was removed since)."""

    id: uuid.UUID
    kind: str
    title: str
    saved_at: datetime
    context: dict[str, Any]
    values: dict[str, Any]
    clinical_values: dict[str, Any] = field(default_factory=dict)
    clinical_withheld: bool = False


@dataclass(frozen=True)
class DraftList:
    drafts: list[DraftView]
    #: Drafts that could not be opened (saved under an earlier passphrase) and were removed.
    dropped: int = 0


def _key(vault: UnlockedVault) -> bytes:
    secret = vault.owner_secret
    if secret is None:
        raise DraftsUnavailable(
            "This sign-in cannot keep drafts until you next unlock (your key slot was upgraded"
            " just now). Save the form, or copy what you typed before closing it."
        )
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=vault.vault_id.bytes,
        info=b"sim-desk drafts v1",
    ).derive(secret)


def _bound(vault: UnlockedVault, draft_id: uuid.UUID) -> bytes:
    owner = vault.actor.user_id.bytes if vault.actor.user_id else b"recovery"
    return b"sim-desk draft|" + vault.vault_id.bytes + draft_id.bytes + b"|" + owner


def _mine(vault: UnlockedVault):  # type: ignore[no-untyped-def]
    user = vault.actor.user_id
    return Draft.owner_id.is_(None) if user is None else Draft.owner_id == user


def save_draft(
    vault: UnlockedVault,
    *,
    kind: str,
    title: str,
    context: dict[str, Any],
    values: dict[str, Any],
    clinical_values: dict[str, Any] | None = None,
    draft_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Keeps (or, with ``draft_id``, replaces) a draft for the signed-in user; returns its id.

    ``context`` says how to reopen the form (ids only); ``values`` and ``clinical_values`` are
    what was typed, as JSON-able values. Raises DraftsUnavailable, or PermissionDenied for
    clinician-only text without the clinical key.
    """
    key = _key(vault)
    draft_id = draft_id or uuid.uuid4()
    clinical = None
    if clinical_values:
        if not vault.has_clinical_key:
            raise PermissionDenied(
                "Only clinicians and clinical leads can keep clinician-only text."
            )
        clinical = vault.encrypt_clinical(json.dumps(clinical_values), draft_id).hex()
    payload = json.dumps(
        {
            "format": _FORMAT,
            "kind": kind,
            "title": title,
            "saved_at": vault.now().isoformat(),
            "context": context,
            "values": values,
            "clinical": clinical,
        },
        ensure_ascii=False,
    ).encode("utf-8")
    nonce = secrets.token_bytes(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, payload, _bound(vault, draft_id))
    with vault.write() as session:
        row = session.get(Draft, draft_id)
        if row is not None and row.owner_id != vault.actor.user_id:
            raise NotFound("That draft was not found.")
        if row is None:
            session.add(Draft(id=draft_id, owner_id=vault.actor.user_id, sealed=sealed))
        else:
            row.sealed = sealed
        session.flush()
        older = session.execute(
            select(Draft).where(_mine(vault)).order_by(Draft.updated_at.desc()).offset(MAX_DRAFTS)
        ).scalars()
        for extra in older:
            session.delete(extra)
    return draft_id


def _open(vault: UnlockedVault, key: bytes, row: Draft) -> DraftView:
    blob = row.sealed
    payload = json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], _bound(vault, row.id)))
    if payload.get("format") != _FORMAT:
        raise ValueError("unknown draft format")
    clinical_values: dict[str, Any] = {}
    withheld = False
    if payload.get("clinical"):
        if vault.has_clinical_key:
            text = vault.decrypt_clinical(bytes.fromhex(payload["clinical"]), row.id)
            clinical_values = json.loads(text)
        else:
            withheld = True
    return DraftView(
        id=row.id,
        kind=str(payload["kind"]),
        title=str(payload["title"]),
        saved_at=datetime.fromisoformat(payload["saved_at"]),
        context=dict(payload["context"]),
        values=dict(payload["values"]),
        clinical_values=clinical_values,
        clinical_withheld=withheld,
    )


def list_drafts(vault: UnlockedVault) -> DraftList:
    """The signed-in user's own drafts, newest first. Drafts older than :data:`KEEP_DAYS` and
    drafts that no longer open (an earlier passphrase's) are removed here."""
    if vault.owner_secret is None:
        return DraftList([])
    key = _key(vault)
    cutoff = vault.now() - timedelta(days=KEEP_DAYS)
    found: list[DraftView] = []
    dropped = 0
    with vault.write() as session:
        rows = session.execute(
            select(Draft).where(_mine(vault)).order_by(Draft.updated_at.desc())
        ).scalars()
        for row in rows:
            try:
                draft = _open(vault, key, row)
            except (InvalidTag, VaultDamaged, ValueError, KeyError, TypeError):
                session.delete(row)
                dropped += 1
                continue
            if draft.saved_at < cutoff:
                session.delete(row)
            else:
                found.append(draft)
    return DraftList(found, dropped)


def discard_draft(vault: UnlockedVault, draft_id: uuid.UUID) -> None:
    """Deletes one of the signed-in user's drafts (a draft already gone is fine)."""
    with vault.write() as session:
        row = session.get(Draft, draft_id)
        if row is None:
            return
        if row.owner_id != vault.actor.user_id:
            raise NotFound("That draft was not found.")
        session.delete(row)
