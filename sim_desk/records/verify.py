"""`verify`: SQLite's integrity check, SQLCipher's page HMAC check, and the audit chain.

Each check runs on its own, so one that cannot run (a damaged page makes ``integrity_check``
stop with "database disk image is malformed") does not hide what the others find. It needs only
the record key, not a full unlock, so it also names the damage in a vault that refuses to open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlcipher3
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from sim_desk.records import audit
from sim_desk.records.errors import AuthenticationFailed, SimDeskError
from sim_desk.records.store import connect_raw, is_damage, key_opens, make_engine, raw_key_literal
from sim_desk.records.unlocked import UnlockedVault
from sim_desk.records.vault import VaultPaths, unlock_user

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

    @property
    def ok(self) -> bool:
        return (
            not self.integrity_problems
            and not self.cipher_problems
            and not self.damaged_tables
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
    conn = sqlcipher3.connect(str(paths.database), isolation_level=None)
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
    conn = connect_raw(paths.database, record_key)
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
    conn = connect_raw(paths.database, record_key)
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
                conn = connect_raw(paths.database, record_key)
    finally:
        conn.close()
    return problems, tuple(damaged)


def _chain(paths: VaultPaths, record_key: bytes) -> audit.ChainReport:
    engine = make_engine(paths.database, record_key)
    try:
        with Session(bind=engine) as session:
            return audit.verify_chain(session, audit.read_head(paths))
    except (SimDeskError, sqlcipher3.DatabaseError, DatabaseError) as exc:
        if isinstance(exc, DatabaseError) and not is_damage(exc):
            raise
        return audit.ChainReport(0, ("the audit log cannot be read: its pages are damaged",))
    finally:
        engine.dispose()


def verify_keys(paths: VaultPaths, record_key: bytes) -> VerifyReport:
    """Runs every check with the record key alone. Reads only (besides SQLite's own recovery of
    an interrupted write), so it is safe on a vault that may be damaged."""
    cipher = _cipher_problems(paths, record_key)
    try:
        integrity, damaged = _structure(paths, record_key, pages_ok=not cipher)
    except AuthenticationFailed:
        unreadable = ("the database cannot be opened at all: its first page is damaged",)
        chain = audit.ChainReport(0, ("the audit log cannot be read: the database is damaged",))
        return VerifyReport(unreadable, cipher or ("HMAC verification failed for page 1",), chain)
    return VerifyReport(integrity, cipher, _chain(paths, record_key), damaged)


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
