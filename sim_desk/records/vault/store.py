"""SQLCipher engine and session factory: key first, safe pragmas, migrations on open.

The engine is built with a ``creator`` that opens the file with ``sqlcipher3`` and sets the raw
256-bit record key before anything else touches the file. We never use the
``sqlite+pysqlcipher://`` URL form, which would paste a passphrase into SQL text.

A few connections are kept open between use cases (a small ``QueuePool``): each keeps its page
cache, so the pages a use case reads are decrypted once rather than on every call (on the
2,000-person stress vault this took the encrypted/plain ratio of a day's queries from 1.35 to
1.14; see benchmarks/). Locking disposes of the engine, which closes them and their keys.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlcipher3
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from sim_desk.records.errors import AuthenticationFailed, VaultBusy, VaultDamaged, VaultNotFound
from sim_desk.records.write_path import unrecorded_writes

if TYPE_CHECKING:
    from alembic.config import Config

_HEX_KEY = re.compile(r"[0-9a-f]{64}")
MIGRATIONS = Path(__file__).parent.parent / "migrations"

#: The newest migration's revision. Opening a vault that is already there (every unlock) then
#: needs one query and no Alembic, whose import costs about half a second of every start;
#: tests/records/vault/test_schema.py checks this against the migration scripts.
SCHEMA_HEAD = "0017"

#: Page cache per connection (decrypted pages kept between use cases).
CACHE_KIB = 16000

# Applied to every connection, in this order, after the key.
PRAGMAS = (
    "PRAGMA cipher_memory_security = OFF",  # see note in _connect
    "PRAGMA foreign_keys = ON",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA secure_delete = ON",
    "PRAGMA busy_timeout = 10000",
    f"PRAGMA cache_size = -{CACHE_KIB}",
)
#: For checks that must not write: no journal-mode change, and SQLite refuses any write.
READ_ONLY_PRAGMAS = (
    "PRAGMA cipher_memory_security = OFF",
    "PRAGMA query_only = ON",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA busy_timeout = 10000",
)


#: What SQLite and SQLCipher say when pages fail their HMAC or the b-tree is broken.
_DAMAGE_WORDS = ("file is not a database", "database disk image is malformed", "malformed")

DAMAGED_DATABASE = (
    "The vault database is damaged: part of it fails SQLCipher's authentication check (bytes on"
    " disk were changed, or the file is from another vault). Nothing was changed. Restore the"
    " vault from a backup ('sim-desk restore'), and run 'sim-desk verify' to see what is wrong."
)


def raw_key_literal(record_key: bytes) -> str:
    """SQLCipher's raw-key literal ``x'<64 hex>'``. Hex-checked so nothing else reaches the SQL."""
    if len(record_key) != 32:
        raise ValueError("the record key must be 32 bytes")
    hex_key = record_key.hex()
    if not _HEX_KEY.fullmatch(hex_key):  # cannot fail for bytes.hex(); kept as a guard on edits
        raise ValueError("record key is not hex")
    return f"x'{hex_key}'"


def _raw_key_pragma(record_key: bytes) -> str:
    """The PRAGMA that hands SQLCipher a raw key."""
    return f'PRAGMA key = "{raw_key_literal(record_key)}"'


def key_opens(database: Path, record_key: bytes) -> bool:
    """Whether ``record_key`` opens this database file (after a crash in a key rotation the
    file may be under the old key or the new one)."""
    try:
        connect_raw(database, record_key).close()
    except AuthenticationFailed:
        return False
    return True


def is_damage(error: BaseException) -> bool:
    """Whether a database error means damaged pages (as opposed to a bug or a busy file)."""
    orig = getattr(error, "orig", None) or error
    text = str(orig).lower()
    return isinstance(orig, sqlcipher3.DatabaseError) and any(w in text for w in _DAMAGE_WORDS)


def quiet_connection(database: str | Path, *, read_only: bool = False) -> Any:
    """A bare sqlcipher3 connection (no key yet) that keeps SQLCipher's own log off stderr.

    SQLCipher logs "ERROR CORE ... hmac check failed" at its default level; we report damage
    ourselves, in words, so its log would only alarm and clutter a terminal. ``read_only`` opens
    the file so that nothing is written to it, not even SQLite's checkpoint of a ``-wal`` file
    when the connection closes (checks must not change what they check).
    """
    if read_only:
        path = Path(database).absolute()
        target, uri = path.as_uri() + "?mode=ro", True
        if not any(path.with_name(path.name + s).exists() for s in ("-wal", "-shm")):
            # Closed cleanly and open nowhere: read the file as it is, without creating an
            # empty -wal and -shm beside it (a read-only connection cannot remove them again).
            target += "&immutable=1"
    else:
        target, uri = str(database), False
    conn = sqlcipher3.connect(target, isolation_level=None, check_same_thread=False, uri=uri)
    conn.execute("PRAGMA cipher_log_level = NONE")
    return conn


def connect_raw(
    database: Path, record_key: bytes, *, create: bool = False, read_only: bool = False
) -> Any:
    """Opens a DB-API connection to the vault database with the record key set and checked.

    With ``read_only`` nothing is written to the vault's files (see :func:`quiet_connection`).

    Raises:
        VaultNotFound: the file is missing and ``create`` is false.
        AuthenticationFailed: the key does not open this file (wrong key, or not our file).
    """
    if not create and not database.is_file():
        raise VaultNotFound(
            f"There is no vault database at {database}. Check the path, or restore from a backup."
        )
    if not create and database.stat().st_size == 0:
        # SQLite would treat an empty file as a new database and the migrations would fill it.
        raise VaultDamaged(
            f"The vault database {database.name} is empty. Restore the vault from a backup."
        )
    # isolation_level=None: we issue BEGIN ourselves (see _begin) so that write transactions
    # take the write lock up front and the audit chain can never fork between two writers.
    conn = quiet_connection(database, read_only=read_only)
    try:
        conn.execute(_raw_key_pragma(record_key))
        # The first real read is what proves the key: SQLCipher decrypts page 1 here.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError as exc:
        conn.close()
        raise AuthenticationFailed(
            "The vault database could not be opened with this key. If the passphrase was right,"
            " the database file may be damaged or belong to another vault: restore from a backup."
        ) from exc
    # cipher_memory_security=ON wipes every freed buffer and costs 3-5x on reads; the keys are
    # dropped when the vault locks and the process memory is the user's own, so we keep it off.
    for pragma in READ_ONLY_PRAGMAS if read_only else PRAGMAS:
        conn.execute(pragma)
    return conn


def make_engine(
    database: Path, record_key: bytes, *, create: bool = False, read_only: bool = False
) -> Engine:
    """An engine whose every connection is keyed. Keeps a private copy of the key.

    ``read_only`` engines write nothing to the vault's files (for checks; see connect_raw).
    """
    key = bytes(record_key)

    engine = create_engine(
        "sqlite://",
        creator=lambda: connect_raw(database, key, create=create, read_only=read_only),
        module=sqlcipher3,
        poolclass=QueuePool,
        pool_size=2,  # the GUI thread and one worker, kept warm
        # The connection used last is used next: its cache holds what was just read or written
        # (another connection's cache is emptied by any write it did not make).
        pool_use_lifo=True,
        max_overflow=6,  # more at once (reports, exports) open and close as needed
    )

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def session_factories(engine: Engine) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    """A (reader, writer) pair of session factories over one engine."""
    reader = sessionmaker(engine, expire_on_commit=False)
    writer = sessionmaker(engine.execution_options(write=True), expire_on_commit=False)
    return reader, writer


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def schema_head() -> str | None:
    """The newest revision among the migration scripts (Alembic's own answer)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def migrate(engine: Engine, *, creating: bool = False) -> None:
    """Brings the schema up to the newest migration. A no-op (one query) when already there.

    Only a vault being created may start from nothing: an existing vault without a schema is
    damaged (or not a vault), and must not be silently turned into an empty one.
    """
    current = _current_revision(engine)
    if current == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    if current == head:
        return
    if current is None and not creating:
        raise VaultDamaged(
            "The vault database holds no SIM Desk tables: it is damaged or another file was"
            " chosen. Nothing was changed. Restore the vault from a backup."
        )
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    if current is not None and current not in known:
        raise VaultDamaged(
            "This vault was written by a newer version of SIM Desk. Install the newer version to"
            " open it; nothing has been changed."
        )
    with unrecorded_writes(), engine.begin() as conn:  # the schema, not anyone's records
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def rekey_database(conn: Any, new_record_key: bytes) -> None:
    """Re-encrypts every page under a new record key, in one rollback-journal transaction.

    Leaving WAL mode first needs an exclusive lock, which proves no other connection is open,
    and SQLCipher's rekey is atomic through the rollback journal (whose pages keep the old key,
    so a hot journal left by a crash rolls back when the file is opened with the old key).
    """
    mode = "busy"
    deadline = time.monotonic() + 10
    while mode == "busy" and time.monotonic() < deadline:
        try:  # does not wait on the busy handler: other connections are usually short-lived
            mode = str(conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower()
        except sqlcipher3.OperationalError:
            time.sleep(0.05)
    if mode != "delete":
        raise VaultBusy(
            "The vault is in use by another SIM Desk window or command. Close it, then try again."
        )
    conn.execute(f'PRAGMA rekey = "{raw_key_literal(new_record_key)}"')
    conn.execute("PRAGMA journal_mode = WAL")


@contextmanager
def raw_connection(database: Path, record_key: bytes, *, read_only: bool = False) -> Iterator[Any]:
    """A bare keyed DB-API connection, for integrity checks and maintenance."""
    conn = connect_raw(database, record_key, read_only=read_only)
    try:
        yield conn
    finally:
        conn.close()
