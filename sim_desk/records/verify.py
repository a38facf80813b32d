"""`verify`: SQLite's integrity check, SQLCipher's page HMAC check, and the audit chain."""

from __future__ import annotations

from dataclasses import dataclass

from sim_desk.records import audit
from sim_desk.records.store import raw_connection
from sim_desk.records.unlocked import UnlockedVault


@dataclass(frozen=True)
class VerifyReport:
    integrity_problems: tuple[str, ...]
    cipher_problems: tuple[str, ...]
    chain: audit.ChainReport

    @property
    def ok(self) -> bool:
        return not self.integrity_problems and not self.cipher_problems and self.chain.ok

    def lines(self) -> list[str]:
        """The findings in words, one per line, for a terminal or a dialog."""
        out = []
        if self.integrity_problems:
            out += [f"database structure: {p}" for p in self.integrity_problems]
        else:
            out.append("database structure: ok (SQLite integrity_check)")
        if self.cipher_problems:
            out += [f"encrypted pages: {p}" for p in self.cipher_problems]
        else:
            out.append("encrypted pages: ok (SQLCipher cipher_integrity_check)")
        if self.chain.ok:
            out.append(f"audit log: ok ({self.chain.entries} entries, chain and head copy agree)")
        else:
            out += [f"audit log: {p}" for p in self.chain.problems]
        out += [f"audit log note: {n}" for n in self.chain.notes]
        return out


def verify_vault(vault: UnlockedVault) -> VerifyReport:
    """Runs every check. Reads only, so it is safe on a vault that may be damaged."""
    with raw_connection(vault.paths.database, vault.record_key) as conn:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        cipher = [str(row[0]) for row in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
    integrity_problems = tuple(p for p in integrity if p != "ok")
    with vault.read() as session:
        chain = audit.verify_chain(session, audit.read_head(vault.paths))
    return VerifyReport(integrity_problems, tuple(cipher), chain)
