"""Hash-chained audit log.

Each entry holds SHA-256 over the previous entry's hash and its own canonical content, so editing,
deleting or reordering any row breaks the chain from that row on. A copy of the newest (seq, hash)
is kept in a file beside the database: someone with the record key who rewrites the whole chain
still cannot make it end where the copy says it ends.

Entries carry ids, action names and codes only. ``detail`` is checked so that free text (which is
where personal data would hide) cannot get in.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from sim_desk.records.fileio import write_atomic
from sim_desk.records.model import AuditEvent
from sim_desk.records.vault import VaultPaths

GENESIS = "0" * 64
#: Where a write session keeps the chain's end from before its first entry (see write_pending).
HEAD_BEFORE = "audit_head_before"
_CODE = re.compile(r"[a-z0-9_.:\-]{0,64}")


class Action:
    """Audit action names. Plain strings so the log stays readable with any tool."""

    VAULT_CREATED = "vault.created"
    UNLOCK = "vault.unlock"
    UNLOCK_FAILED = "vault.unlock_failed"
    LOCK = "vault.lock"
    RECOVERY_UNLOCK = "vault.recovery_unlock"
    USER_ADDED = "user.added"
    USER_REMOVED = "user.removed"
    PASSPHRASE_CHANGED = "user.passphrase_changed"
    SLOT_UPGRADED = "user.slot_upgraded"
    KEYS_ROTATED = "vault.keys_rotated"
    RECOVERY_KEY_RENEWED = "vault.recovery_key_renewed"
    RECOVERY_KEY_CONFIRMED = "vault.recovery_key_confirmed"
    #: Unlocking found the chain's end and the head copy beside the vault disagreeing (before it
    #: wrote anything); kept in the chain so the finding outlives the head copy's next update.
    AUDIT_ANCHOR_MISMATCH = "audit.anchor_mismatch"
    #: A team lead has looked into the findings up to ``up_to`` (verify --reviewed).
    AUDIT_FINDINGS_REVIEWED = "audit.findings_reviewed"
    BACKUP = "vault.backup"
    PAIR_CREATED = "pair.created"
    CREATE = "record.create"
    UPDATE = "record.update"
    VIEW = "record.view"
    IMPORT = "data.import"
    REPORT = "data.report"
    EXPORT = "data.export"


def _check_detail_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and _CODE.fullmatch(value):
        return value
    if isinstance(value, list | tuple):
        return [_check_detail_value(key, item) for item in value]
    # A bug, not a user error: some caller tried to put free text into the audit log.
    raise ValueError(f"audit detail '{key}' must be ids, numbers or codes, not free text")


def clean_detail(detail: dict[str, Any]) -> dict[str, Any]:
    return {str(k): _check_detail_value(str(k), v) for k, v in sorted(detail.items())}


def canonical_content(
    *,
    seq: int,
    at: datetime,
    user_id: uuid.UUID | None,
    action: str,
    entity_type: str | None,
    entity_id: uuid.UUID | None,
    detail: dict[str, Any],
) -> bytes:
    content = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "user_id": str(user_id) if user_id else None,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id) if entity_id else None,
        "detail": detail,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


def append(
    session: Session,
    *,
    at: datetime,
    user_id: uuid.UUID | None,
    action: str,
    entity_type: str | None = None,
    entity_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Adds the next link, inside a write transaction (BEGIN IMMEDIATE) so the chain cannot fork."""
    clean = clean_detail(detail or {})
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    # The chain's end before this transaction's first entry: the head copy's "committed" end.
    session.info.setdefault(HEAD_BEFORE, AuditHead(last[0], last[1]) if last else None)
    at = at.astimezone(UTC)  # the hash must see what the column hands back: aware UTC
    content = canonical_content(
        seq=seq,
        at=at,
        user_id=user_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        detail=clean,
    )
    event = AuditEvent(
        seq=seq,
        at=at,
        user_id=user_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        detail=clean,
        prev_hash=prev,
        hash=chain_hash(prev, content),
        created_at=at,
        created_by=user_id,
    )
    session.add(event)
    session.flush()
    return event


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


@dataclass(frozen=True)
class ChainReport:
    entries: int
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(session: Session, head_copy: HeadCopy | None) -> ChainReport:
    """Recomputes every link, compares the end of the chain with the copy kept outside, and
    reports earlier unlocks' findings (:data:`Action.AUDIT_ANCHOR_MISMATCH`) that no team lead
    has marked as reviewed."""
    problems: list[str] = []
    notes: list[str] = []
    prev = GENESIS
    expected_seq = 1
    hashes: dict[int, str] = {}
    findings: list[tuple[int, datetime, dict[str, Any]]] = []
    reviewed_up_to = 0
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    count = 0
    for event in rows:
        count += 1
        if event.seq != expected_seq:
            problems.append(f"audit entry {expected_seq} is missing (next is {event.seq})")
            expected_seq = event.seq
        content = canonical_content(
            seq=event.seq,
            at=event.at,
            user_id=event.user_id,
            action=event.action,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            detail=event.detail,
        )
        if event.prev_hash != prev:
            problems.append(f"audit entry {event.seq} does not follow the entry before it")
        if chain_hash(event.prev_hash, content) != event.hash:
            problems.append(f"audit entry {event.seq} was changed after it was written")
        if event.action == Action.AUDIT_ANCHOR_MISMATCH:
            findings.append((event.seq, event.at, dict(event.detail or {})))
        elif event.action == Action.AUDIT_FINDINGS_REVIEWED:
            reviewed_up_to = max(reviewed_up_to, int((event.detail or {}).get("up_to", 0)))
        hashes[event.seq] = event.hash
        prev = event.hash
        expected_seq += 1
        session.expunge(event)  # keep memory flat on long chains
    end = AuditHead(expected_seq - 1, prev) if count else None
    finding = check_anchor(end, head_copy, hashes.get)
    if finding is not None:
        problems.append(finding.message)
    for seq, at, detail in findings:
        when = at.astimezone(UTC).strftime("%d/%m/%Y %H:%M UTC")
        copy_said = detail.get("head_seq")
        ends = f"the log ended at entry {detail.get('log_seq')}" + (
            f", the copy said {copy_said}" if isinstance(copy_said, int) and copy_said >= 0 else ""
        )
        said = (
            f"at an unlock on {when} the audit log did not match the copy beside the vault"
            f" ({_FINDING_WORDS.get(str(detail.get('kind')), 'they disagreed')}; {ends})"
        )
        if seq <= reviewed_up_to:
            notes.append(said + "; a team lead has marked this as looked into")
        else:
            problems.append(said)
    return ChainReport(count, tuple(problems), tuple(notes))


_FINDING_WORDS = {
    "head_missing": "the copy was missing",
    "head_unreadable": "the copy was unreadable",
    "log_behind": "entries or committed records were missing",
    "head_behind": "an older copy had been put back",
    "log_rewritten": "the log had been rewritten",
}
