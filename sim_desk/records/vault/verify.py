"""`verify`: SQLite's integrity check, SQLCipher's page HMAC check, the audit chain against its
head copy, and every key slot.

Each check runs on its own, so one that cannot run (a damaged page makes ``integrity_check``
stop with "database disk image is malformed") does not hide what the others find. It needs only
the record key, not a full unlock, so it also names the damage in a vault that refuses to open.

Every check reads only: connections are opened read-only, so not even SQLite's checkpoint of a
``-wal`` file touches the vault, and nothing is audited before (or instead of) what is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlcipher3
from sqlalchemy import select
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from sim_desk.records.codes import Role
from sim_desk.records.errors import AuthenticationFailed, SimDeskError
from sim_desk.records.model import AuditEvent
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import audit
from sim_desk.records.vault.files import VaultPaths, read_slot_file, unlock_user
from sim_desk.records.vault.keyslots import slot_file_problems
from sim_desk.records.vault.store import (
    connect_raw,
    is_damage,
    key_opens,
    make_engine,
    quiet_connection,
    raw_connection,
    raw_key_literal,
)

_HMAC_PAGE = re.compile(r"HMAC verification failed for page (\d+)", re.IGNORECASE)
_WHAT_TO_DO = (
    "What to do: restore the vault from a backup to a new place ('sim-desk restore'), check it"
    " there with 'sim-desk verify', and keep this copy until the restored one is checked."
)


@dataclass(frozen=True)
class VerifyReport:
    integrity_problems: tuple[str, ...]
    cipher_problems: tuple[str, ...]
    chain: audit.ChainReport
    damaged_tables: tuple[str, ...] = ()
    key_problems: tuple[str, ...] = ()
    key_notes: tuple[str, ...] = ()
    slots_checked: int = 0

    @property
    def ok(self) -> bool:
        return (
            not self.integrity_problems
            and not self.cipher_problems
            and not self.damaged_tables
            and not self.key_problems
            and self.chain.ok
        )

    def lines(self) -> list[str]:
        """The findings in words, one per line, for a terminal or a dialog."""
        out = []
        if self.integrity_problems:
            out += [f"database structure: {p}" for p in self.integrity_problems]
        else:
            out.append("database structure: ok (SQLite integrity_check)")
        if self.cipher_problems:
            out += [f"encrypted pages: {_explain_cipher(p)}" for p in self.cipher_problems]
        else:
            out.append("encrypted pages: ok (SQLCipher cipher_integrity_check)")
        if self.damaged_tables:
            out.append(
                "records that cannot be read back: " + ", ".join(self.damaged_tables) + " (table)"
            )
        if self.chain.ok:
            out.append(f"audit log: ok ({self.chain.entries} entries, chain and head copy agree)")
        else:
            out += [f"audit log: {p}" for p in self.chain.problems]
        out += [f"audit log note: {n}" for n in self.chain.notes]
        if self.key_problems:
            out += [f"key file: {p}" for p in self.key_problems]
        else:
            out.append(f"key file: ok ({self.slots_checked} key slots)")
        out += [f"key file note: {n}" for n in self.key_notes]
        if not self.ok:
            out.append(_WHAT_TO_DO)
        return out


def _explain_cipher(problem: str) -> str:
    match = _HMAC_PAGE.search(problem)
    if match is None:
        return problem
    page = int(match.group(1))
    where = " (the first page: the whole file is unreadable)" if page == 1 else ""
    return (
        f"page {page}{where} fails its authentication check (HMAC): its bytes were changed on"
        " disk since SIM Desk wrote them"
    )


def _cipher_problems(paths: VaultPaths, record_key: bytes) -> tuple[str, ...]:
    """SQLCipher's per-page HMAC check. Uses a bare connection: it works even when page 1 (which
    every ordinary open reads first) is the damaged one."""
    conn = quiet_connection(paths.database, read_only=True)
    try:
        conn.execute(f'PRAGMA key = "{raw_key_literal(record_key)}"')
        return tuple(str(row[0]) for row in conn.execute("PRAGMA cipher_integrity_check"))
    except sqlcipher3.DatabaseError as exc:
        return (f"the encrypted pages cannot be checked: {exc}",)
    finally:
        conn.close()


def _structure(
    paths: VaultPaths, record_key: bytes, *, pages_ok: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(integrity_check findings, tables whose rows cannot all be read).

    The tables are read row by row only when something is wrong (``pages_ok`` is false, or the
    integrity check found a problem), to name which hold the damage: when every page passes its
    HMAC and the b-trees are sound, every row can be read. (Reading them all anyway took the
    GUI's background check after unlock to 10 s on a trust-wide vault, most of it holding the
    Python lock the window needs.)

    After SQLCipher meets a page that fails its HMAC, that connection refuses every later read,
    so each check that fails is followed by a fresh connection.
    """
    conn = connect_raw(paths.database, record_key, read_only=True)
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        problems = tuple(p for p in rows if p != "ok")
    except sqlcipher3.DatabaseError as exc:
        problems = (f"SQLite's integrity check stopped: {exc} (some pages are damaged)",)
    finally:
        conn.close()
    if pages_ok and not problems:
        return problems, ()
    damaged = []
    conn = connect_raw(paths.database, record_key, read_only=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            ).fetchall()
        ]
        for table in tables:
            try:
                for _ in conn.execute(f'SELECT * FROM "{table}"'):
                    pass
            except sqlcipher3.DatabaseError:
                damaged.append(table)
                conn.close()
                conn = connect_raw(paths.database, record_key, read_only=True)
    finally:
        conn.close()
    return problems, tuple(damaged)


def _chain(paths: VaultPaths, record_key: bytes) -> audit.ChainReport:
    engine = make_engine(paths.database, record_key, read_only=True)
    try:
        with Session(bind=engine) as session:
            return audit.verify_chain(session, audit.read_head(paths))
    except (SimDeskError, sqlcipher3.DatabaseError, DatabaseError) as exc:
        if isinstance(exc, DatabaseError) and not is_damage(exc):
            raise
        return audit.ChainReport(0, ("the audit log cannot be read: its pages are damaged",))
    finally:
        engine.dispose()


def _key_file(paths: VaultPaths, record_key: bytes) -> tuple[list[str], list[str], int]:
    """(problems, notes, slots checked): every slot's shape and digest, and each user slot
    against the vault's own list of users (name, role, clinical access, still active)."""
    try:
        slot_file = read_slot_file(paths)
    except SimDeskError as error:
        return [str(error)], [], 0
    problems = slot_file_problems(slot_file)
    notes: list[str] = []
    try:
        with raw_connection(paths.database, record_key, read_only=True) as conn:
            users = {
                str(row[0]).replace("-", ""): row[1:]
                for row in conn.execute(
                    "SELECT id, username, role, clinical_access, active FROM users"
                )
            }
    except (SimDeskError, sqlcipher3.DatabaseError):
        return problems, notes, len(slot_file.slots)  # the database checks name the damage
    slotted: set[str] = set()
    for slot in slot_file.slots:
        if slot.kind != "user":
            continue
        user = users.get(str(slot.user_id).replace("-", ""))
        name = slot.username or "?"
        if user is None:
            notes.append(
                f"the slot of {name} belongs to no user of this vault (an add that was"
                " interrupted); adding that user again replaces it"
            )
            continue
        username, role, clinical_access, active = user
        slotted.add(str(slot.user_id).replace("-", ""))
        if username != slot.username or role != slot.role:
            problems.append(f"the slot of {name} does not match the user it belongs to")
        elif slot.clinical and not clinical_access:
            problems.append(f"the slot of {name} holds the clinical key without clinical access")
        elif not active:
            problems.append(f"the slot of {name} belongs to a removed user and must go")
    for key, (username, _role, _clinical, active) in users.items():
        if active and key not in slotted:
            notes.append(
                f"{username} has no key slot and cannot sign in; a team lead can reset their"
                " passphrase"
            )
    waiting = [s for s in slot_file.recovery_slots if not s.confirmed]
    if waiting:
        notes.append(
            "a new recovery key was made but nobody has confirmed it is printed or written"
            " down; the earlier recovery key still works. A team lead should make a new one"
            " (Team page, or 'sim-desk rekey --recovery-key-only')"
        )
    if paths.keyslots_pending.exists():
        notes.append("a key rotation is unfinished; the next unlock finishes or undoes it")
    return problems, notes, len(slot_file.slots)


def verify_keys(paths: VaultPaths, record_key: bytes) -> VerifyReport:
    """Runs every check with the record key alone. Reads only, so it is safe on a vault that
    may be damaged, and what it reports is what was there before anyone wrote to it."""
    cipher = _cipher_problems(paths, record_key)
    problems, notes, slots = _key_file(paths, record_key)
    try:
        integrity, damaged = _structure(paths, record_key, pages_ok=not cipher)
    except AuthenticationFailed:
        integrity = ("the database cannot be opened at all: its first page is damaged",)
        cipher = cipher or ("HMAC verification failed for page 1",)
        chain = audit.ChainReport(0, ("the audit log cannot be read: the database is damaged",))
        damaged = ()
    else:
        chain = _chain(paths, record_key)
    return VerifyReport(integrity, cipher, chain, damaged, tuple(problems), tuple(notes), slots)


def verify_vault(vault: UnlockedVault) -> VerifyReport:
    """Runs every check on an unlocked vault."""
    return verify_keys(vault.paths, vault.record_key)


def verify_with_passphrase(paths: VaultPaths, username: str, passphrase: str) -> VerifyReport:
    """Runs every check on a vault that may refuse to unlock: opens the user's key slot (reading
    files only) and checks with its record key. Raises AuthenticationFailed like unlock."""
    keys = unlock_user(paths, username, passphrase)
    if keys.pending is not None and not key_opens(paths.database, keys.record_key):
        return verify_keys(paths, keys.pending.record_key)  # an unfinished rotation got this far
    return verify_keys(paths, keys.record_key)


def mark_findings_reviewed(vault: UnlockedVault) -> int:
    """A team lead has looked into the audit log's tampering findings so far: ``verify`` lists
    them as notes from now on (they stay in the log). Returns how many were marked."""
    vault.require_role(Role.TEAM_LEAD, doing="mark audit findings as looked into")
    with vault.write() as session:
        rows = session.execute(
            select(AuditEvent.seq, AuditEvent.action, AuditEvent.detail).where(
                AuditEvent.action.in_(
                    [audit.Action.AUDIT_ANCHOR_MISMATCH, audit.Action.AUDIT_FINDINGS_REVIEWED]
                )
            )
        ).all()
        reviewed = max(
            (
                int((detail or {}).get("up_to", 0))
                for _seq, action, detail in rows
                if action == audit.Action.AUDIT_FINDINGS_REVIEWED
            ),
            default=0,
        )
        new = [seq for seq, action, _ in rows if action == audit.Action.AUDIT_ANCHOR_MISMATCH]
        new = [seq for seq in new if seq > reviewed]
        if new:
            vault.audit(
                session,
                audit.Action.AUDIT_FINDINGS_REVIEWED,
                "vault",
                vault.vault_id,
                up_to=max(new),
                findings=len(new),
            )
    return len(new)
