"""The audit chain read out link by link, as the team server verifies it: for each entry the
canonical bytes its hash was computed over, and that hash (issue 20).

The bytes are made again from the row exactly as :func:`verify_chain` makes them, so an entry
changed after it was written gives bytes its stored hash does not match, and the server, which
recomputes every link from the bytes, refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sim_desk.records.model import AuditEvent
from sim_desk.records.vault.audit.chain import GENESIS, canonical_content


@dataclass(frozen=True)
class Link:
    seq: int
    content: bytes
    hash: str


@dataclass(frozen=True)
class ChainSlice:
    """Part of this vault's chain, after a seq the server named."""

    #: The seq the chain ends at here (0: no entries).
    end: int
    #: This chain's hash at the seq asked after (GENESIS at 0), None if it has no entry there.
    hash_at_start: str | None
    links: tuple[Link, ...]


def links_after(session: Session, after: int, limit: int) -> ChainSlice:
    """Up to ``limit`` links with seq above ``after``, in order (read in one transaction)."""
    end = session.execute(select(func.max(AuditEvent.seq))).scalar_one_or_none() or 0
    if after == 0:
        start: str | None = GENESIS
    else:
        start = session.execute(
            select(AuditEvent.hash).where(AuditEvent.seq == after)
        ).scalar_one_or_none()
    rows = session.execute(
        select(
            AuditEvent.seq,
            AuditEvent.at,
            AuditEvent.user_id,
            AuditEvent.action,
            AuditEvent.entity_type,
            AuditEvent.entity_id,
            AuditEvent.detail,
            AuditEvent.hash,
        )
        .where(AuditEvent.seq > after)
        .order_by(AuditEvent.seq)
        .limit(limit)
    )
    links = tuple(
        Link(
            seq,
            canonical_content(
                seq=seq,
                at=at,
                user_id=user_id,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                detail=detail,
            ),
            hash_,
        )
        for seq, at, user_id, action, entity_type, entity_id, detail, hash_ in rows
    )
    return ChainSlice(end, start, links)
