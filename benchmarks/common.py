"""What make_vault.py and run.py share: where the stress vault lives, its sign-ins, its clock, and
an unencrypted engine over the plain copy that behaves exactly like the vault's engine.

Plain scripts, not part of the package: run them from a checkout with the project's .venv.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.vault import store
from sim_desk.records.vault.files import VaultPaths
from sim_desk.records.vault.unlock import opening

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"

LEAD = "lead"


def passphrase(username: str) -> str:
    """Stress-vault passphrases: synthetic data only, never a pattern for a real vault."""
    return f"stress vault {username} passphrase"


@dataclass
class Manifest:
    """Written last by make_vault.py: a vault without one is unfinished and is built again."""

    people: int
    years: int
    seed: int
    as_of: str  # UTC ISO time the build finished; the benchmark's clock starts here
    database: str
    plain: str
    counts: dict[str, int] = field(default_factory=dict)
    build_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    long_history_person: str = ""  # enrolled longest, still active: the workspace and report
    log_person: str = ""  # an active person the benchmark logs contacts for
    search_names: list[str] = field(default_factory=list)  # names typed into the caseload search
    usernames: list[str] = field(default_factory=list)
    #: 2: sync_state.refused_for_review (0009 as merged); older vaults are built again
    format: int = 2

    @property
    def paths(self) -> VaultPaths:
        return VaultPaths.at(self.database)

    @property
    def plain_paths(self) -> VaultPaths:
        return VaultPaths.at(self.plain)

    @property
    def as_of_time(self) -> datetime:
        return datetime.fromisoformat(self.as_of)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", "utf-8")

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        try:
            manifest = cls(**json.loads(path.read_text("utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            return None
        # The files sit beside their manifest: a checkout moved or renamed keeps its stress vault
        # (11 minutes to build again at full scale) rather than looking for the old folder.
        manifest.database = str(path.parent / Path(manifest.database).name)
        manifest.plain = str(path.parent / Path(manifest.plain).name)
        return manifest


def vault_stem(people: int, years: int) -> str:
    return f"stress-{people}p-{years}y"


def locations(folder: Path, people: int, years: int) -> tuple[VaultPaths, VaultPaths, Path]:
    """(vault, plain copy, manifest) for a stress vault of this size in ``folder``."""
    stem = vault_stem(people, years)
    return (
        VaultPaths.at(folder / f"{stem}.simvault"),
        VaultPaths.at(folder / f"{stem}-plain.sqlite"),
        folder / f"{stem}.json",
    )


def app_dirs(folder: Path) -> AppDirs:
    """Benchmark-only app folders (failed-unlock notes, settings): never the user's own."""
    root = folder / "home"
    return AppDirs(root / "data", root / "state", root / "config")


def bench_clock(as_of: datetime) -> Callable[[], datetime]:
    """ "Now" is the moment the vault was built, moving on in real time from when this is called.

    A stress vault built last month would otherwise have a month of visits gone overdue and
    nobody seen for weeks, and the Today view would measure a team that stopped working.
    """
    start = time.monotonic()
    return lambda: as_of + timedelta(seconds=time.monotonic() - start)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


# -- the plain copy ---------------------------------------------------------------------------


def _connect_plain(database: Path, create: bool = False) -> Any:
    """store.connect_raw without the key: same library, same pragmas, same isolation."""
    if not create and not database.is_file():
        raise FileNotFoundError(database)
    conn = sqlcipher3.connect(str(database), isolation_level=None, check_same_thread=False)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    for pragma in store.PRAGMAS:
        conn.execute(pragma)
    return conn


def make_plain_engine(database: Path, record_key: bytes = b"", *, create: bool = False) -> Engine:
    """An engine over the unencrypted copy built like store.make_engine (same pool, BEGIN mode),
    so that the encrypted and plain figures differ by the encryption only."""
    engine = create_engine(
        "sqlite://",
        creator=lambda: _connect_plain(database, create),
        module=sqlcipher3,
        poolclass=QueuePool,
        pool_size=2,
        max_overflow=6,  # as store.make_engine
    )

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


@contextmanager
def plain_store() -> Iterator[None]:
    """While inside, unlock.unlock opens the plain copy (no key) instead of an encrypted file."""
    original = opening.make_engine
    opening.make_engine = lambda database, record_key, **kw: make_plain_engine(database, **kw)  # type: ignore[assignment]
    try:
        yield
    finally:
        opening.make_engine = original  # type: ignore[assignment]


def export_plain(paths: VaultPaths, record_key: bytes, plain: VaultPaths) -> None:
    """Writes an unencrypted copy of the vault database (same schema and rows) with
    sqlcipher_export, plus copies of the key-slot and audit-head files beside it."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(plain.database) + suffix).unlink(missing_ok=True)
    with store.raw_connection(paths.database, record_key) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("ATTACH DATABASE ? AS plain KEY ''", (str(plain.database),))
        conn.execute("SELECT sqlcipher_export('plain')")
        generation = int(conn.execute("PRAGMA main.user_version").fetchone()[0])
        conn.execute(f"PRAGMA plain.user_version = {generation}")
        conn.execute("DETACH DATABASE plain")
    conn = _connect_plain(plain.database)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    plain.keyslots.write_bytes(paths.keyslots.read_bytes())
    plain.audit_head.write_bytes(paths.audit_head.read_bytes())


def utc_now() -> datetime:
    return datetime.now(UTC)
