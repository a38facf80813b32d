"""What other laptops changed over this one's values: kept until somebody has looked."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from sim_desk.records.model import SyncChangedElsewhere
from sim_desk.records.unit_of_work import UnlockedVault


@dataclass(frozen=True)
class ChangedElsewhere:
    """A value this laptop had that a change from another laptop replaced (or a row deleted
    there, or one that could not be applied here), kept until somebody has looked."""

    id: uuid.UUID
    table: str
    row_id: uuid.UUID
    person_id: uuid.UUID | None
    kind: str
    overwritten: dict[str, Any]
    author_id: uuid.UUID | None
    at: datetime


def changed_elsewhere(
    vault: UnlockedVault, person_id: uuid.UUID | None = None
) -> list[ChangedElsewhere]:
    """What other laptops changed over this one's values, not yet looked at (one person's,
    or everyone's on this laptop)."""
    with vault.read() as session:
        query = select(SyncChangedElsewhere).where(SyncChangedElsewhere.seen_at.is_(None))
        if person_id is not None:
            query = query.where(SyncChangedElsewhere.person_id == person_id)
        return [
            ChangedElsewhere(
                row.id,
                row.table_name,
                row.row_id,
                row.person_id,
                row.kind,
                dict(row.overwritten),
                row.author_id,
                row.at,
            )
            for row in session.execute(query.order_by(SyncChangedElsewhere.at)).scalars()
        ]


def mark_changed_elsewhere_seen(vault: UnlockedVault, ids: Sequence[uuid.UUID]) -> int:
    """Somebody has looked: these leave the list (and are kept, with when)."""
    with vault.write() as session:
        rows = (
            session.execute(
                select(SyncChangedElsewhere).where(
                    SyncChangedElsewhere.id.in_(list(ids)), SyncChangedElsewhere.seen_at.is_(None)
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            row.seen_at = vault.now()
        if rows:
            vault.audit(session, "sync.changes_looked_at", "device", None, count=len(rows))
        return len(rows)
