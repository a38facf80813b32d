"""Applying what a pull brought: removals, snapshots and changes, in one local transaction.

Every field is last-writer-wins by its clock string (``sync.clock``), so applying the same
change twice, or changes in another order, ends in the same row. A deleted row is a tombstone:
it stays deleted. A value this laptop had set that a change from elsewhere overwrites is kept
(``sync_changed_elsewhere``) until somebody has looked. What cannot be applied here — a field
this version does not know, an NHS number already on another person here, a row whose parent
this laptop does not hold — is held in ``sync_rows.held`` and tried again at the next pull:
never dropped, and never a reason to stop applying the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sim_desk.records.model import (
    SyncChangedElsewhere,
    SyncMergeProposal,
    SyncOutboxEntry,
    SyncRow,
)
from sim_desk.records.sync import rebuild, received
from sim_desk.records.sync.incoming import LOWEST, Incoming
from sim_desk.records.sync.orphans import orphans
from sim_desk.records.sync.tables import (
    BY_NAME,
    CLINICAL_FIELDS,
    REPLICATED,
    blanks_for,
    decode,
    encode,
    fields_of,
    value_hash,
)

#: Fields a clash with another person here is resolved by holding (a merge proposal follows).
UNIQUE_PERSON_FIELDS = ("nhs_number", "police_reference")


@dataclass
class Applied:
    """What one pull changed on this laptop."""

    rows: int = 0
    removed_people: int = 0
    changed_elsewhere: int = 0
    held: int = 0
    seen_back: int = 0
    touched_people: set[uuid.UUID] = field(default_factory=set)


class Applier:
    """Applies incoming rows in one write session (marked so the outbox ignores it)."""

    def __init__(
        self,
        session: Session,
        *,
        now: Any,
        rebuilding_for: uuid.UUID | None = None,
        fill_blanks: bool = False,
        thorough: bool = False,
    ) -> None:
        self.session = session
        self.now = now
        self.applied = Applied()
        #: Set while checking the replica against a restored server's snapshot: the user
        #: whose laptop queues again what the server lost.
        self.rebuilding_for = rebuilding_for
        self.requeued = 0
        #: An analyst's replica: rows arrive without names and free text (see blanks_for).
        self.fill_blanks = fill_blanks
        #: Whether anything took the row-by-row path (rows in bulk had their parents checked).
        self.one_by_one = False
        #: The rows written and deleted one by one, by table (where orphans may be), and
        #: whether to look for orphans over the whole replica instead (see ``orphans``).
        self.written: dict[str, set[uuid.UUID]] = {}
        self.deleted: dict[str, set[uuid.UUID]] = {}
        self.thorough = thorough
        session.execute(text("PRAGMA defer_foreign_keys = ON"))

    # -- one row ----------------------------------------------------------------------------
    def apply(self, incoming: Incoming) -> None:
        session = self.session
        self.one_by_one = True
        shadow = session.get(SyncRow, incoming.row_id)
        if shadow is not None and incoming.snapshot and self.rebuilding_for is not None:
            self._compare_with_restored(shadow, incoming)
        if shadow is not None and shadow.deleted:
            return  # a tombstone stays a tombstone
        spec = BY_NAME.get(incoming.table)
        if shadow is None:
            shadow = SyncRow(
                id=incoming.row_id,
                table_name=incoming.table,
                person_id=incoming.person_id,
                clocks={},
                hashes={},
                mine=[],
                deleted=False,
            )
            session.add(shadow)
        if incoming.person_id is not None:
            shadow.person_id = incoming.person_id
            self.applied.touched_people.add(incoming.person_id)
        if spec is None:  # a table this version does not know: keep it all
            self._hold(shadow, incoming.fields, why="unknown table")
            return
        if incoming.deleted_clock is not None:
            self._delete(shadow, incoming)
            return
        winners = {
            name: (value, stamp)
            for name, (value, stamp) in incoming.fields.items()
            if stamp > str(shadow.clocks.get(name, ""))
        }
        if not winners:
            return
        columns = {column.name: column for column in fields_of(incoming.table)}
        unknown = {name: winners.pop(name) for name in list(winners) if name not in columns}
        if unknown:
            self._hold(shadow, unknown, why="unknown fields", record=False)
        decoded: dict[str, Any] = {}
        for name, (value, _stamp) in winners.items():
            try:
                decoded[name] = decode(columns[name], value)
            except (TypeError, ValueError):
                self._hold(shadow, {name: winners[name]}, why="value does not fit")
        winners = {name: winners[name] for name in decoded}
        if not winners:
            return
        table = spec.table
        local = (
            session.execute(select(table).where(table.c.id == incoming.row_id)).mappings().first()
        )
        if local is None:
            self._insert(shadow, incoming, winners, decoded)
        else:
            self._update(shadow, incoming, local, winners, decoded)

    def _compare_with_restored(self, shadow: SyncRow, incoming: Incoming) -> None:
        """What this laptop holds newer than the restored server goes to it again."""
        shadow.in_snapshot = True
        if shadow.deleted and incoming.deleted_clock is None:
            self.requeued += rebuild.requeue(
                self.session, shadow, set(), author=self.rebuilding_for, deleted=True
            )
            return
        newer = {
            name
            for name, stamp in shadow.clocks.items()
            if name != "_deleted" and str(stamp) > incoming.fields.get(name, (None, ""))[1]
        }
        if newer and incoming.deleted_clock is None:
            self.requeued += rebuild.requeue(
                self.session, shadow, newer, author=self.rebuilding_for
            )

    def _stamp(self, shadow: SyncRow, winners: Mapping[str, tuple[Any, str]]) -> None:
        shadow.clocks = {**shadow.clocks, **{n: stamp for n, (_v, stamp) in winners.items()}}
        made = {n: value_hash(v) for n, (v, _s) in winners.items()}
        shadow.hashes = {**(shadow.hashes or {}), **made}
        shadow.mine = [name for name in shadow.mine if name not in winners]
        self.applied.rows += 1

    def _insert(
        self,
        shadow: SyncRow,
        incoming: Incoming,
        winners: dict[str, tuple[Any, str]],
        decoded: dict[str, Any],
    ) -> None:
        table = BY_NAME[incoming.table].table
        if self.fill_blanks:
            decoded = {**blanks_for(incoming.table, set(decoded)), **decoded}
        try:
            with self.session.begin_nested():
                self.session.execute(insert(table).values(id=incoming.row_id, **decoded))
            self.written.setdefault(incoming.table, set()).add(incoming.row_id)
        except IntegrityError:
            if incoming.table == "people" and self._insert_without_clash(
                shadow, incoming, winners, decoded
            ):
                return
            self._hold(shadow, winners, why="could not be added here")
            return
        self._stamp(shadow, winners)

    def _insert_without_clash(
        self,
        shadow: SyncRow,
        incoming: Incoming,
        winners: dict[str, tuple[Any, str]],
        decoded: dict[str, Any],
    ) -> bool:
        """A person whose NHS number or police reference is already another person's here (made
        on two laptops): added without it, the value held, the lead shown a merge proposal."""
        clashing = {name: winners[name] for name in UNIQUE_PERSON_FIELDS if decoded.get(name)}
        if not clashing:
            return False
        table = BY_NAME["people"].table
        try:
            with self.session.begin_nested():
                self.session.execute(
                    insert(table).values(
                        id=incoming.row_id, **{**decoded, **dict.fromkeys(clashing)}
                    )
                )
            self.written.setdefault("people", set()).add(incoming.row_id)
        except IntegrityError:
            return False
        self._stamp(shadow, {n: v for n, v in winners.items() if n not in clashing})
        self._hold(shadow, clashing, why="already another person's here")
        return True

    def _update(
        self,
        shadow: SyncRow,
        incoming: Incoming,
        local: Mapping[Any, Any],
        winners: dict[str, tuple[Any, str]],
        decoded: dict[str, Any],
    ) -> None:
        columns = {column.name: column for column in fields_of(incoming.table)}
        # A value set on this laptop, replaced by a change made without having seen it (its
        # base is not this value's clock): the two were made at the same time.
        base = incoming.base or {}
        overwritten = {
            name: encode(columns[name], local[name])
            for name in winners
            if name in shadow.mine
            and base.get(name) != shadow.clocks.get(name)
            and encode(columns[name], local[name]) != winners[name][0]
        }
        table = BY_NAME[incoming.table].table
        if "updated_at" in table.c and "updated_at" not in decoded:
            # Kept as it is: the column's onupdate would set it to the time of applying, a
            # value no other replica has, under the clock of the change that set it.
            decoded = {**decoded, "updated_at": local["updated_at"]}
        try:
            with self.session.begin_nested():
                self.session.execute(
                    update(table).where(table.c.id == incoming.row_id).values(**decoded)
                )
            self.written.setdefault(incoming.table, set()).add(incoming.row_id)
        except IntegrityError:
            self._hold(shadow, winners, why="could not be changed here")
            return
        if overwritten:
            self._record(shadow, incoming, "changed", overwritten)
        if shadow.hashes is None:  # received in bulk, unchanged since: as it was
            shadow.hashes = received.hashes_of(incoming.table, local, shadow.clocks)
        self._stamp(shadow, winners)

    def _delete(self, shadow: SyncRow, incoming: Incoming) -> None:
        spec = BY_NAME[incoming.table]
        local = (
            self.session.execute(select(spec.table).where(spec.table.c.id == incoming.row_id))
            .mappings()
            .first()
        )
        if local is not None:
            if shadow.mine:
                kept = {
                    column.name: encode(column, local[column.name])
                    for column in fields_of(incoming.table)
                    if column.name in shadow.mine
                }
                self._record(shadow, incoming, "deleted", kept)
            self._delete_rows(incoming.table, [incoming.row_id])
        shadow.deleted = True
        shadow.clocks = {**shadow.clocks, "_deleted": incoming.deleted_clock}
        shadow.mine = []
        self.applied.rows += 1

    def _delete_rows(self, name: str, ids: list[uuid.UUID]) -> None:
        """Deletes rows and, first, the rows below them."""
        if not ids:
            return
        for child in REPLICATED:
            if child.parent == name and child.parent_key is not None:
                column = child.table.c[child.parent_key]
                below = list(
                    self.session.execute(select(child.table.c.id).where(column.in_(ids))).scalars()
                )
                self._delete_rows(child.name, below)
        table = BY_NAME[name].table
        self.deleted.setdefault(name, set()).update(ids)
        for start in range(0, len(ids), 500):
            self.session.execute(delete(table).where(table.c.id.in_(ids[start : start + 500])))

    # -- holding and recording --------------------------------------------------------------
    def _hold(
        self,
        shadow: SyncRow,
        values: Mapping[str, tuple[Any, str]],
        *,
        why: str,
        record: bool = True,
    ) -> None:
        held = dict(shadow.held or {})
        fields = dict(held.get("fields") or {})
        # Held again as it was (tried again at a later pull, still not possible): not news.
        record = record and any(fields.get(n) != [v, s] for n, (v, s) in values.items())
        for name, (value, stamp) in values.items():
            earlier = fields.get(name)
            if earlier is None or stamp > earlier[1]:
                fields[name] = [value, stamp]
        held["fields"] = fields
        held["why"] = why
        shadow.held = held
        if record:
            self.applied.held += 1
            self.session.add(
                SyncChangedElsewhere(
                    table_name=shadow.table_name,
                    row_id=shadow.id,
                    person_id=shadow.person_id,
                    kind="held",
                    overwritten={"why": why, "fields": sorted(values)},
                    at=self.now,
                )
            )

    def _record(
        self, shadow: SyncRow, incoming: Incoming, kind: str, values: dict[str, Any]
    ) -> None:
        self.applied.changed_elsewhere += 1
        self.session.add(
            SyncChangedElsewhere(
                table_name=incoming.table,
                row_id=incoming.row_id,
                person_id=shadow.person_id,
                kind=kind,
                overwritten=values,
                change_id=incoming.change_id,
                author_id=incoming.author,
                at=self.now,
            )
        )

    # -- people leaving this replica --------------------------------------------------------
    def erase_person(self, person_id: uuid.UUID) -> None:
        """Erases a person and everything about them from this replica (they are no longer
        visible to this laptop): rows, clocks, queued changes, changed-elsewhere notes."""
        session = self.session
        self.one_by_one = True
        self._delete_rows("people", [person_id])
        for model in (SyncRow, SyncOutboxEntry, SyncChangedElsewhere):
            session.execute(delete(model).where(model.person_id == person_id))
        session.execute(delete(SyncRow).where(SyncRow.id == person_id))
        self.applied.removed_people += 1

    def erase_people(self, people: Iterable[uuid.UUID]) -> None:
        for person_id in people:
            self.erase_person(person_id)

    # -- after everything -------------------------------------------------------------------
    def retry_held(self) -> None:
        """Held rows whose parent may have arrived since: tried again."""
        for shadow in list(
            self.session.execute(select(SyncRow).where(SyncRow.held.is_not(None))).scalars()
        ):
            held = dict(shadow.held or {})
            fields = {n: (v, s) for n, (v, s) in (held.get("fields") or {}).items()}
            if held.get("why") in {"unknown fields", "unknown table"} or not fields:
                continue
            # Held values are not in the clocks yet, so they compete as they arrived; what
            # still cannot be applied stays held (and is not reported again).
            self.apply(Incoming(shadow.table_name, shadow.id, shadow.person_id, fields))
            still = {
                name: value
                for name, value in (dict(shadow.held or {}).get("fields") or {}).items()
                if shadow.clocks.get(name) != value[1]
            }
            shadow.held = {**dict(shadow.held or {}), "fields": still} if still else None

    def hold_orphans(self) -> None:
        """Rows whose parent is not on this laptop (a foreign key points nowhere) are taken
        out and held, so that the rest commits; they are tried again at the next pull."""
        if not self.one_by_one and not self.thorough:
            return  # every row went in bulk, each after its parents were found here
        for _round in range(10):
            found = orphans(self.session, self.written, self.deleted, thorough=self.thorough)
            if not found:
                return
            for table_name, rowid in found:
                if table_name not in BY_NAME:
                    continue
                table = BY_NAME[table_name].table
                row = (
                    self.session.execute(
                        select(table).where(text("rowid = :rowid")), {"rowid": rowid}
                    )
                    .mappings()
                    .first()
                )
                if row is None:
                    continue
                shadow = self.session.get(SyncRow, row["id"])
                if shadow is None:
                    continue
                values = {
                    column.name: (
                        encode(column, row[column.name]),
                        str(shadow.clocks.get(column.name, LOWEST)),
                    )
                    for column in fields_of(table_name)
                }
                self._delete_rows(table_name, [row["id"]])
                # A new dict: one changed in place compares equal to itself and is not saved
                # (the values held, their clocks stayed, and the next pull dropped them).
                shadow.clocks = {n: c for n, c in shadow.clocks.items() if n not in values}
                self._hold(shadow, values, why="its parent is not on this laptop")

    def merge_proposals(self, proposals: Iterable[Mapping[str, Any]]) -> None:
        self.session.execute(delete(SyncMergeProposal))
        for proposal in proposals:
            self.session.add(
                SyncMergeProposal(
                    id=uuid.UUID(str(proposal["id"])),
                    person_id=uuid.UUID(str(proposal["person_id"])),
                    other_person_id=uuid.UUID(str(proposal["other_person_id"])),
                    matched_on=str(proposal["matched_on"]),
                )
            )


__all__ = [
    "CLINICAL_FIELDS",
    "Applied",
    "Applier",
]
