"""Notes this laptop wrote under its own vault key before the team's clinical key reached it
(issue 20), moved to the team's current epoch so colleagues can read them.

A laptop that joins with its own vault is a clinical device at once, but the team's key epoch
comes only once a colleague who verified it has wrapped it (at that colleague's next sync).
Meanwhile :meth:`UnlockedVault.encrypt_clinical` seals under the vault's own key: no other
laptop can open those notes. Once an epoch is current here, each sync re-seals them under it.

The whole look (every contact and earlier version) is made once: a mark in ``vault_meta``,
set in the same transaction, says it is done. A note can still be sealed under the own key
later, by a sign-in that read the keyring before the team's key came (the app open while a
command-line sync took the key, say); its write clears the mark (records/sync/outbox.py), so
the next sync looks again. Erasing the replica clears it too (the team's keys go with it).

Only a note that opens with this vault's own key is touched, and that key never left this
vault: the note was written here (or restored from this vault's backup). The text is not
changed, only its sealing, and it goes through the one write path, so the outbox queues it as
an ordinary change (with the clock its field had here as its base): another laptop's edit of the
same note made meanwhile is kept and shown as "changed on another laptop", never lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from sim_desk.records import clinical_epochs
from sim_desk.records.errors import VaultDamaged
from sim_desk.records.model import Base, VaultMeta
from sim_desk.records.sealed_columns import SEALED_COLUMNS, SealedColumn
from sim_desk.records.unit_of_work import UnlockedVault, open_clinical

#: Audit action (a count and an epoch: never text).
NOTES_RESEALED = "team_keys.notes_resealed"


def _open_own(own: bytes, blob: bytes, bound_to: uuid.UUID) -> bytes | None:
    try:
        return open_clinical(own, blob, bound_to)
    except VaultDamaged:
        return None  # epoch 1's (another laptop's vault key) or damaged: not ours to move


def _unframed(session: Session, sealed: SealedColumn) -> Sequence[Base]:
    prefix, table, column = len(clinical_epochs.MAGIC), sealed.model, sealed.column
    return (
        session.execute(
            select(table).where(
                column.is_not(None), func.substr(column, 1, prefix) != clinical_epochs.MAGIC
            )
        )
        .scalars()
        .all()
    )


def reseal_own_notes(vault: UnlockedVault) -> int:
    """Re-seals this laptop's notes still under its own vault key under the team's current
    clinical epoch. Returns how many notes (and earlier versions) were moved. Safe to repeat."""
    if not vault.has_clinical_key:
        return 0
    ring = vault.clinical_keyring()
    if ring.current is None:
        return 0
    own = vault.keys_to_wrap(clinical=True)[1]
    if own is None or ring.keys.get(1) == own:
        return 0  # this vault's key is the team's epoch 1: its unframed notes open everywhere
    with vault.read() as session:
        if session.execute(select(VaultMeta.own_notes_resealed)).scalar_one():
            return 0  # done: nothing was sealed under the vault's own key since
    epoch, key = ring.current, ring.keys[ring.current]
    moved = 0
    with vault.write() as session:
        meta = session.execute(select(VaultMeta)).scalar_one()
        if meta.own_notes_resealed:
            return 0  # another sign-in's sync did it meanwhile
        # Done once it commits: a note sealed under the own key later clears this mark in its
        # own transaction (records/sync/outbox.py), and the next sync looks again.
        meta.own_notes_resealed = True
        rows = [(row, sealed) for sealed in SEALED_COLUMNS for row in _unframed(session, sealed)]
        for row, sealed in rows:
            column, bound_to = sealed.name, sealed.bound_to(getattr(row, sealed.contact_column))
            blob = getattr(row, column)
            if blob is None or clinical_epochs.frame_epoch(blob):
                continue
            plain = _open_own(own, blob, bound_to)
            if plain is None:
                continue
            setattr(row, column, clinical_epochs.seal_framed(key, epoch, plain, bound_to))
            # Written as it was: a note sealed again is no edit, and officers (who are sent
            # updated_at, never the note) must not learn from it which contacts have one.
            flag_modified(row, "updated_at")
            moved += 1
        if moved:
            vault.audit(session, NOTES_RESEALED, "clinical_note", None, count=moved, epoch=epoch)
    return moved
