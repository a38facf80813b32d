"""The hash-chained audit log: appending entries and checking every link."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.model import AuditEvent
from sim_desk.records.vault.audit.head import HEAD_BEFORE, AuditHead, HeadCopy, check_anchor

GENESIS = "0" * 64
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
