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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.fileio import write_atomic
from sim_desk.records.model import AuditEvent
from sim_desk.records.vault import VaultPaths

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


def head_bytes(head: AuditHead) -> bytes:
    """The head copy's file content."""
    doc = {"format": "sim-desk-audit-head", "seq": head.seq, "hash": head.hash}
    return json.dumps(doc).encode()


def write_head(paths: VaultPaths, head: AuditHead) -> None:
    write_atomic(paths.audit_head, head_bytes(head))


def read_head(paths: VaultPaths) -> AuditHead | None:
    try:
        doc = json.loads(paths.audit_head.read_text(encoding="ascii"))
        return AuditHead(int(doc["seq"]), str(doc["hash"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return AuditHead(-1, "unreadable")


def current_head(session: Session) -> AuditHead | None:
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return AuditHead(row[0], row[1]) if row else None


@dataclass(frozen=True)
class ChainReport:
    entries: int
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(session: Session, head_copy: AuditHead | None) -> ChainReport:
    """Recomputes every link and compares the end of the chain with the copy kept outside."""
    problems: list[str] = []
    notes: list[str] = []
    prev = GENESIS
    expected_seq = 1
    hashes: dict[int, str] = {}
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
        hashes[event.seq] = event.hash
        prev = event.hash
        expected_seq += 1
        session.expunge(event)  # keep memory flat on long chains
    last_seq = expected_seq - 1
    if head_copy is None:
        problems.append("the audit head copy beside the vault is missing")
    elif head_copy.seq < 0:
        problems.append("the audit head copy beside the vault is unreadable")
    elif head_copy.seq > last_seq:
        problems.append(
            f"the audit log ends at entry {last_seq} but the copy beside the vault says"
            f" {head_copy.seq}: entries were removed"
        )
    elif hashes.get(head_copy.seq) != head_copy.hash:
        problems.append(
            f"audit entry {head_copy.seq} differs from the copy beside the vault: the log was"
            " rewritten"
        )
    elif head_copy.seq < last_seq:
        # A crash between the database commit and the head-file write leaves the copy behind.
        notes.append(
            f"the head copy is {last_seq - head_copy.seq} entries behind (an interrupted write);"
            " it is brought up to date on the next change"
        )
    return ChainReport(count, tuple(problems), tuple(notes))
