"""The audit head copy beside the vault, and how the chain's end is checked against it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from sim_desk.records.model import AuditEvent
from sim_desk.records.vault.fileio import write_atomic
from sim_desk.records.vault.files import VaultPaths

#: Where a write session keeps the chain's end from before its first entry (see write_pending).
HEAD_BEFORE = "audit_head_before"


@dataclass(frozen=True)
class AuditHead:
    seq: int
    hash: str


@dataclass(frozen=True)
class HeadCopy:
    """The head copy beside the database: where the chain ends as last committed, and where it
    will end if the write in flight commits.

    Each audited write replaces this file twice, each time holding the database's write lock:
    just before it commits (``committed`` = the end before it, ``pending`` = the end after it),
    and again just after (``committed`` = the new end, no ``pending``). So whatever a crash
    interrupts, the chain in the database ends at ``committed`` or, if the crash fell between
    the commit and the second write, at ``pending``: the copy is behind by at most the one write
    that was in flight. Any other end is tampering or lost data: an older copy of either file,
    entries deleted, or a ``-wal`` file deleted after a crash (which takes committed writes
    with it).

    Files written before this rule (and by backups) hold one end and no ``pending``. ``readable``
    is False for a file that is there but is not a head copy.
    """

    committed: AuditHead | None
    pending: AuditHead | None = None
    readable: bool = True

    @property
    def newest(self) -> AuditHead | None:
        return self.pending or self.committed


_HEAD_FORMAT = "sim-desk-audit-head"


def head_bytes(head: AuditHead | None, pending: AuditHead | None = None) -> bytes:
    """The head copy's file content: ``head`` committed, ``pending`` in flight (or None)."""
    doc: dict[str, Any] = {"format": _HEAD_FORMAT, "version": 2}
    doc["committed"] = {"seq": head.seq, "hash": head.hash} if head else None
    doc["pending"] = {"seq": pending.seq, "hash": pending.hash} if pending else None
    return json.dumps(doc).encode()


def write_head(paths: VaultPaths, head: AuditHead | None, pending: AuditHead | None = None) -> None:
    """Replaces the head copy (atomically). Call with the write lock held."""
    write_atomic(paths.audit_head, head_bytes(head, pending))


def pending_end(session: Session) -> tuple[AuditHead | None, AuditHead | None] | None:
    """(chain end before, chain end after) this write session's entries, or None if it appended
    none (or all it appended were rolled back to a savepoint)."""
    if HEAD_BEFORE not in session.info:
        return None
    before, after = session.info[HEAD_BEFORE], current_head(session)
    return None if after == before else (before, after)


def _head(value: Any) -> AuditHead | None:
    if value is None:
        return None
    if not isinstance(value, dict) or type(value.get("seq")) is not int:
        raise ValueError("head")
    if not isinstance(value.get("hash"), str):
        raise ValueError("hash")
    return AuditHead(value["seq"], value["hash"])


def read_head(paths: VaultPaths) -> HeadCopy | None:
    """The head copy, None if the file is missing."""
    try:
        doc = json.loads(paths.audit_head.read_text(encoding="ascii"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return HeadCopy(None, None, readable=False)
    try:
        if not isinstance(doc, dict) or doc.get("format") != _HEAD_FORMAT:
            raise ValueError("format")
        if doc.get("version") == 2:
            return HeadCopy(_head(doc["committed"]), _head(doc["pending"]))
        return HeadCopy(_head({"seq": doc["seq"], "hash": doc["hash"]}))  # the first format
    except (ValueError, KeyError, TypeError):
        return HeadCopy(None, None, readable=False)


def current_head(session: Session | Connection) -> AuditHead | None:
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return AuditHead(row[0], row[1]) if row else None


@dataclass(frozen=True)
class AnchorFinding:
    """The chain's end disagrees with the head copy. ``kind`` is a code for the audit log;
    ``message`` says it in words."""

    kind: str
    log_seq: int
    head_seq: int
    message: str


def check_anchor(
    end: AuditHead | None, copy: HeadCopy | None, hash_at: Callable[[int], str | None]
) -> AnchorFinding | None:
    """Compares the end of the chain in the database with the head copy beside it.

    Args:
        end: the last entry in the database (None if there is none).
        copy: what :func:`read_head` found.
        hash_at: the hash of the database's entry with a given seq (None if there is none).
    """
    log_seq = end.seq if end else 0
    if copy is None:
        return AnchorFinding(
            "head_missing",
            log_seq,
            -1,
            "the audit head copy beside the vault (its -audit file) is missing: it was deleted,"
            " so entries removed from the end of the log could not be seen",
        )
    if not copy.readable:
        return AnchorFinding(
            "head_unreadable",
            log_seq,
            -1,
            "the audit head copy beside the vault (its -audit file) is not readable",
        )
    if end == copy.committed:
        return None
    if copy.pending is not None and end == copy.pending:
        return None  # a crash between a commit and the copy's update: the one write in flight
    newest = copy.newest
    head_seq = newest.seq if newest else 0
    committed_seq = copy.committed.seq if copy.committed else 0
    if log_seq < committed_seq:
        return AnchorFinding(
            "log_behind",
            log_seq,
            head_seq,
            f"the audit log ends at entry {log_seq} but the copy beside the vault says"
            f" {committed_seq}: committed records and their audit entries are missing (entries"
            " were removed, an older copy of the database was put back, or its -wal file was"
            " deleted after a crash)",
        )
    if committed_seq < log_seq < head_seq:
        return AnchorFinding(
            "log_behind",
            log_seq,
            head_seq,
            f"the audit log ends at entry {log_seq}, inside the last write the copy beside the"
            " vault knows of: entries were removed",
        )
    if log_seq > head_seq:
        known = newest is not None and hash_at(newest.seq) == newest.hash
        return AnchorFinding(
            "head_behind" if known else "log_rewritten",
            log_seq,
            head_seq,
            f"the audit log ends at entry {log_seq} but the copy beside the vault says"
            f" {head_seq}: "
            + (
                "the copy is older than the log (an older -audit file was put back, hiding what"
                " came after it)"
                if known
                else "the log was rewritten"
            ),
        )
    return AnchorFinding(
        "log_rewritten",
        log_seq,
        head_seq,
        f"audit entry {log_seq} differs from the copy beside the vault: the log was rewritten",
    )


def check_anchor_of(conn: Any, copy: HeadCopy | None) -> AnchorFinding | None:
    """:func:`check_anchor` over a bare DB-API connection to the vault (read before anything
    else touches the database)."""

    def hash_at(seq: int) -> str | None:
        hit = conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (seq,)).fetchone()
        return str(hit[0]) if hit else None

    row = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    end = AuditHead(int(row[0]), str(row[1])) if row else None
    return check_anchor(end, copy, hash_at)
