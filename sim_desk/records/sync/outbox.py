"""The outbox: each local change to a replicated row, written in the transaction that made it.

:func:`attach` hooks :func:`record_changes` into the one write path (``write_observers``), so
every use case, import and bulk builder feeds the outbox without knowing of it; a migration or
a new vault writes nothing here (they are not write sessions), and neither does applying what
a pull brought (its session is marked :data:`APPLYING`). Nothing is recorded until the vault
syncs (a ``sync_state`` row exists): :func:`start` then queues every row the server has not yet
seen.

A change carries only the fields it set (all of them when the row is new), each field with the
change's clock; fields that belong together travel together (``tables.FIELD_GROUPS``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sim_desk.records.clinical_epochs import frame_epoch
from sim_desk.records.codes import Role
from sim_desk.records.model import SyncOutboxEntry, SyncRow, SyncState, VaultMeta
from sim_desk.records.sync import clock, received
from sim_desk.records.sync.tables import (
    BOOKKEEPING,
    BY_NAME,
    CLINICAL_FIELDS,
    REPLICATED,
    encoded_row,
    groups_touching,
    value_hash,
)
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.write_path import RowWrite

#: Marks a write session that applies what a pull brought: nothing in it goes to the outbox.
APPLYING = "sync_applying"
#: The fingerprint of an empty value: what a field this laptop never received holds.
NEVER_RECEIVED = value_hash(None)
#: Tables only a team lead writes (the server refuses them from anyone else).
LEAD_ONLY = frozenset({"pairs"})
#: Key epoch of unframed clinical ciphertext (the vault's own key, or the team's epoch 1).
CLINICAL_EPOCH = 0


def note_epoch(blob: object) -> int:
    """The key epoch a note's ciphertext names in its frame (records.clinical_epochs)."""
    return frame_epoch(blob) if isinstance(blob, bytes) else CLINICAL_EPOCH


def attach(vault: UnlockedVault) -> None:
    """Makes every write to ``vault`` feed its outbox (once the vault syncs)."""

    def observer(session: Session, rows: Sequence[RowWrite]) -> None:
        record_changes(vault, session, rows)

    def before_change(session: Session, table: str, row_ids: list[Any]) -> None:
        if not session.info.get(APPLYING):  # (a pull makes its own: ``applying``)
            received.before_change(session, table, row_ids)

    vault.write_observers.append(observer)
    vault.before_change_observers.append(before_change)


def sync_state(session: Session) -> SyncState | None:
    return session.execute(select(SyncState)).scalar_one_or_none()


def person_of(session: Session, table: str, row: Mapping[str, Any]) -> uuid.UUID | None:
    """The person a row is about (None for a team row such as a pair)."""
    spec = BY_NAME[table]
    if spec.parent is None:
        return row["id"] if table == "people" else None
    parent_id = row[spec.parent_key]  # type: ignore[index]
    while spec.parent != "people":
        shadow = session.get(SyncRow, parent_id)
        if shadow is not None:
            return shadow.person_id
        assert spec.parent is not None
        spec = BY_NAME[spec.parent]
        found = (
            session.execute(select(spec.table).where(spec.table.c.id == parent_id))
            .mappings()
            .first()
        )
        if found is None:
            return None
        parent_id = found[spec.parent_key]  # type: ignore[index]
    return parent_id if isinstance(parent_id, uuid.UUID) else None


def _next_seq(session: Session) -> int:
    last = session.execute(select(func.max(SyncOutboxEntry.seq))).scalar_one()
    return (last or 0) + 1


def record_changes(vault: UnlockedVault, session: Session, rows: Iterable[RowWrite]) -> None:
    """Writes an outbox entry for each replicated row this transaction wrote."""
    if session.info.get(APPLYING):
        return
    wanted = [row for row in rows if row.table in BY_NAME]
    if not wanted:
        return
    state = sync_state(session)
    if state is None:
        return
    queue(vault, session, state, wanted)


def queue(
    vault: UnlockedVault, session: Session, state: SyncState, rows: Iterable[RowWrite]
) -> int:
    """Queues changes for ``rows`` (as they are now against what was last synced)."""
    by_table: dict[str, list[uuid.UUID]] = defaultdict(list)
    ordered = list(rows)
    for row in ordered:
        if row.op != "delete":
            by_table[row.table].append(row.row_id)
    current: dict[uuid.UUID, Any] = {}
    for name, ids in by_table.items():
        table = BY_NAME[name].table
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for found in session.execute(select(table).where(table.c.id.in_(chunk))).mappings():
                current[found["id"]] = found
    shadows = {
        shadow.id: shadow
        for start in range(0, len(ordered), 500)
        for shadow in session.execute(
            select(SyncRow).where(SyncRow.id.in_([r.row_id for r in ordered[start : start + 500]]))
        ).scalars()
    }
    seq = _next_seq(session)
    author = vault.actor.user_id
    queued = 0
    own_frame = False
    for row in ordered:
        shadow = shadows.get(row.row_id)
        if shadow is not None and shadow.deleted:
            continue
        change_id = uuid.uuid4()
        state.hlc = clock.advance(state.hlc, vault.now())
        if row.op == "delete" or row.row_id not in current:
            if shadow is None:
                continue  # never synced: nothing to take back
            stamp = clock.clock_string(state.hlc, change_id)
            shadow.deleted = True
            shadow.clocks = {**shadow.clocks, "_deleted": stamp}
            session.add(
                SyncOutboxEntry(
                    id=change_id,
                    seq=seq,
                    author_id=author,
                    table_name=row.table,
                    row_id=row.row_id,
                    person_id=shadow.person_id,
                    op="delete",
                    hlc=state.hlc,
                    payload=None,
                    clinical=None,
                    state="pending",
                )
            )
        else:
            values = current[row.row_id]
            encoded = encoded_row(row.table, values)
            hashes = {name: value_hash(value) for name, value in encoded.items()}
            if shadow is None:
                changed = set(encoded)
            else:
                # (None only if a write reached this row around the write path's notice:
                # then every field with a value counts as changed, none is lost.)
                known = shadow.hashes if shadow.hashes is not None else {}
                changed = {
                    name
                    for name, digest in hashes.items()
                    # A field never received here (an officer's clinical note) is empty here:
                    # still empty, it is unchanged, and a change never says "emptied" for it.
                    if known.get(name, NEVER_RECEIVED) != digest
                }
                if not changed:
                    continue
                changed = groups_touching(row.table, changed)
            clinical_names = CLINICAL_FIELDS.get(row.table, frozenset())
            payload = {name: encoded[name] for name in changed if name not in clinical_names}
            clinical = {
                name: {"ciphertext": encoded[name] or "", "epoch": note_epoch(values[name])}
                for name in changed & clinical_names
                if encoded[name] is not None or shadow is not None
            }
            own_frame = own_frame or any(
                part["epoch"] == CLINICAL_EPOCH and part["ciphertext"] for part in clinical.values()
            )
            stamp = clock.clock_string(
                state.hlc, change_id, withdrawal=clock.is_withdrawal(row.table, payload)
            )
            stamped = {name: stamp for name in changed}
            base = (
                {n: shadow.clocks[n] for n in changed if n in shadow.clocks}
                if shadow is not None
                else None
            )
            person = (
                shadow.person_id if shadow is not None else person_of(session, row.table, values)
            )
            if shadow is None:
                shadow = SyncRow(
                    id=row.row_id,
                    table_name=row.table,
                    person_id=person,
                    clocks=stamped,
                    hashes=hashes,
                    mine=sorted(changed - BOOKKEEPING),
                    deleted=False,
                )
                session.add(shadow)
            else:
                shadow.clocks = {**shadow.clocks, **stamped}
                shadow.hashes = hashes
                shadow.mine = sorted(set(shadow.mine) | (changed - BOOKKEEPING))
                if row.table == "people" or shadow.person_id is None:
                    shadow.person_id = person
            session.add(
                SyncOutboxEntry(
                    id=change_id,
                    seq=seq,
                    author_id=author,
                    table_name=row.table,
                    row_id=row.row_id,
                    person_id=person,
                    op="upsert",
                    hlc=state.hlc,
                    payload=payload,
                    clinical=clinical or None,
                    base=base or None,
                    state="pending",
                )
            )
        seq += 1
        queued += 1
    if own_frame:
        # A note sealed under the vault's own key after its notes were re-sealed (a sign-in
        # that read the keyring before the team's key came): the next sync must look again.
        session.execute(
            update(VaultMeta)
            .where(VaultMeta.own_notes_resealed.is_(True))
            .values(own_notes_resealed=False)
        )
    return queued


def queue_unsynced(vault: UnlockedVault, session: Session, state: SyncState) -> int:
    """Queues every replicated row the server has not seen from this laptop (the first sync
    of a vault that already holds records), parents before children."""
    rows: list[RowWrite] = []
    for spec in REPLICATED:
        if spec.name in LEAD_ONLY and vault.actor.role is not Role.TEAM_LEAD:
            continue  # not this user's to publish: the server would refuse it
        # Found by the database (after a first sync, a million rows here and all known).
        unseen = select(spec.table.c.id).where(
            ~select(SyncRow.id).where(SyncRow.id == spec.table.c.id).exists()
        )
        for (row_id,) in session.execute(unseen):
            rows.append(RowWrite(spec.name, row_id, "insert"))
    queued = 0
    for start in range(0, len(rows), 2000):
        queued += queue(vault, session, state, rows[start : start + 2000])
    return queued
