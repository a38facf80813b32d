"""Publishing this vault to a team server, once (issue 20): the records side.

The network side is ``sim_desk.teamserver.publish``. Here: which users the server must know
(with the ids pairs name them by), and the vault's own note that it was published, kept in
``vault_meta`` (with an audit entry) so that a second publish from this vault is refused here
before the server is asked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from sim_desk.records.codes import Role
from sim_desk.records.model import (
    AuditEvent,
    SyncRow,
    SyncState,
    User,
    VaultMeta,
)
from sim_desk.records.sealed_columns import SEALED_COLUMNS
from sim_desk.records.sync.outbox import LEAD_ONLY
from sim_desk.records.sync.tables import REPLICATED
from sim_desk.records.unit_of_work import UnlockedVault

PUBLISH_STARTED = "server.publish_started"
PUBLISHED = "server.published"


@dataclass(frozen=True)
class Published:
    at: datetime
    to: str


def team_users(vault: UnlockedVault) -> list[dict[str, Any]]:
    """Every user of this vault, removed ones included (as removed: their names stay theirs),
    as ``sim.publish_begin`` takes them."""
    vault.require_role(Role.TEAM_LEAD, doing="publish the team's vault")
    with vault.read() as session:
        return [
            {
                "id": str(user.id),
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
                "clinical": bool(user.clinical_access),
                "active": bool(user.active),
            }
            for user in session.execute(select(User).order_by(User.username)).scalars()
        ]


def holds_clinical_notes(vault: UnlockedVault) -> bool:
    """Whether any contact (or earlier version of one, or its clinical history) holds
    clinical ciphertext: only a clinical lead's laptop may send those to the server, which
    refuses them from anyone else."""
    with vault.read() as session:
        for sealed in SEALED_COLUMNS:
            column = sealed.column
            found = session.execute(select(column).where(column.is_not(None)).limit(1)).first()
            if found is not None:
                return True
    return False


def published(vault: UnlockedVault) -> Published | None:
    """When and where this vault was published, if it was."""
    with vault.read() as session:
        meta = session.execute(select(VaultMeta)).scalar_one()
        if meta.published_at is None:
            return None
        at = meta.published_at
        return Published(at if at.tzinfo else at.replace(tzinfo=UTC), meta.published_to or "")


def unfinished(vault: UnlockedVault) -> bool:
    """A publish from this vault began (the server took it) and has not finished: the lead
    carries it on by publishing again."""
    if published(vault) is not None:
        return False
    with vault.read() as session:
        began = session.execute(
            select(AuditEvent.id).where(AuditEvent.action == PUBLISH_STARTED).limit(1)
        ).first()
    return began is not None


def note_started(vault: UnlockedVault, team_id: uuid.UUID) -> None:
    """The server took the publish (or carries on one): said in the audit log."""
    with vault.write() as session:
        vault.audit(session, PUBLISH_STARTED, "vault", vault.vault_id, team=team_id)


def mark_published(vault: UnlockedVault, to: str, team_id: uuid.UUID, rows: int) -> Published:
    """Everything was sent and seen back: this vault is published, once."""
    vault.require_role(Role.TEAM_LEAD, doing="publish the team's vault")
    with vault.write() as session:
        meta = session.execute(select(VaultMeta)).scalar_one()
        if meta.published_at is None:
            meta.published_at = vault.now()
            meta.published_to = to
            vault.audit(session, PUBLISHED, "vault", vault.vault_id, team=team_id, rows=rows)
        at = meta.published_at
        return Published(at if at.tzinfo else at.replace(tzinfo=UTC), meta.published_to or to)


def before_first_sync(vault: UnlockedVault) -> bool:
    """Whether this vault has never begun a sync (its first sync would send what it holds)."""
    with vault.read() as session:
        return session.execute(select(SyncState.id).limit(1)).first() is None


def records_to_send(vault: UnlockedVault) -> int:
    """How many records a first sync of this vault would send the server: every replicated row
    not yet synced (as ``outbox.queue_unsynced`` picks them; the pairs for team leads only)."""
    lead = vault.actor.role is Role.TEAM_LEAD
    total = 0
    with vault.read() as session:
        for spec in REPLICATED:
            if spec.name in LEAD_ONLY and not lead:
                continue
            total += session.execute(
                select(func.count())
                .select_from(spec.table)
                .where(~select(SyncRow.id).where(SyncRow.id == spec.table.c.id).exists())
            ).scalar_one()
    return total
