"""Making a backup: a consistent encrypted copy, checked, packed with its key and audit files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlcipher3

from sim_desk import __version__
from sim_desk.records.codes import Role
from sim_desk.records.errors import (
    ValidationError,
    VaultBusy,
    VaultDamaged,
    VaultExists,
)
from sim_desk.records.unit_of_work import Progress, UnlockedVault
from sim_desk.records.vault import audit
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.fileio import OWNER_ONLY, fsync_directory
from sim_desk.records.vault.files import parse_slot_file
from sim_desk.records.vault.store import raw_connection, raw_key_literal

BACKUP_FORMAT = "sim-desk-backup"
BACKUP_VERSION = 1
MANIFEST = "manifest.json"
#: Member name in the zip -> (what it is, in words; which vault file it becomes).
MEMBERS = {
    "database": "the vault database",
    "keyslots": "the key-slot file",
    "audit-head": "the audit head copy",
}
CHUNK = 1 << 20


@dataclass(frozen=True)
class BackupInfo:
    """What a backup holds, from its manifest."""

    path: Path
    vault_id: uuid.UUID
    created_at: datetime
    generation: int
    schema: str | None
    rows: dict[str, int]
    size: int
    sha256: str | None = None  # of the whole backup file, when it was just written


def tell(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def create_private(path: Path) -> IO[bytes]:
    """A new file, owner-only from the first instant; never an existing one."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY), "wb")


@contextlib.contextmanager
def removing(*paths: Path) -> Iterator[None]:
    try:
        yield
    finally:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


# -- making a backup --------------------------------------------------------------------------


def _snapshot(vault: UnlockedVault, copy: Path) -> dict[str, Any]:
    """Exports the database to ``copy`` (same record key) inside one read transaction and reads,
    in the same snapshot, what belongs with it: slot file, audit head, counts, generation."""
    paths = vault.paths
    with raw_connection(paths.database, vault.record_key) as conn:
        conn.execute(
            "ATTACH DATABASE ? AS backup KEY ?", (str(copy), raw_key_literal(vault.record_key))
        )
        try:
            conn.execute("BEGIN")
            generation = int(conn.execute("PRAGMA main.user_version").fetchone()[0])
            if paths.keyslots_pending.exists():
                raise VaultBusy(
                    "A key rotation is unfinished. Lock the vault, unlock it again, then back up."
                )
            slot_bytes = paths.keyslots.read_bytes()
            if parse_slot_file(slot_bytes, paths.keyslots.name).generation != generation:
                raise VaultBusy("The keys changed while the backup started. Try again.")
            conn.execute("SELECT sqlcipher_export('backup')")
            # sqlcipher_export copies schema and rows, not the header's user_version.
            conn.execute(f"PRAGMA backup.user_version = {generation}")
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM main.sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            rows = {
                t: conn.execute(f'SELECT count(*) FROM main."{t}"').fetchone()[0] for t in tables
            }
            seq, head_hash = conn.execute(
                "SELECT seq, hash FROM main.audit_events ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            schema = conn.execute("SELECT version_num FROM main.alembic_version").fetchone()
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.execute("DETACH DATABASE backup")
    return {
        "generation": generation,
        "keyslots": slot_bytes,
        "audit-head": audit.head_bytes(audit.AuditHead(seq, head_hash)),
        "rows": rows,
        "schema": schema[0] if schema else None,
    }


def _check_copy(copy: Path, record_key: bytes) -> None:
    """Both integrity checks on the copy, through a bare connection (no WAL: one file)."""
    conn = sqlcipher3.connect(str(copy), isolation_level=None)
    try:
        conn.execute(f'PRAGMA key = "{raw_key_literal(record_key)}"')
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [str(r[0]) for r in conn.execute("PRAGMA cipher_integrity_check")]
    except sqlcipher3.DatabaseError as exc:
        problems = [str(exc)]
    finally:
        conn.close()
    if problems:
        raise VaultDamaged(
            "The copy made for the backup failed its integrity check, so the vault itself is"
            f" probably damaged ({problems[0]}). Run 'sim-desk verify'; restore from an earlier"
            " backup if it reports damage."
        )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def backup_vault(
    vault: UnlockedVault, out: Path, *, progress: Progress | None = None, overwrite: bool = False
) -> BackupInfo:
    """Writes a backup of the vault to ``out`` (atomically, mode 0600) and audits it.

    Raises:
        PermissionDenied: only team leads make backups.
        VaultExists: ``out`` exists and ``overwrite`` is false.
        VaultDamaged: the copy failed its integrity checks (the vault is damaged).
    """
    vault.require_role(Role.TEAM_LEAD, doing="make backups")
    out = Path(out).expanduser().absolute()
    if out in vault.paths.all_files:
        raise ValidationError("Backup: choose a file name that is not part of the vault.", "out")
    if out.exists() and not overwrite:
        raise VaultExists(f"A file already exists at {out}. Choose another name for the backup.")
    if not out.parent.is_dir():
        raise ValidationError(f"Backup: the folder {out.parent} does not exist.", "out")
    tell(progress, 0.0, "Starting the backup")
    with vault.write() as session:
        vault.audit(session, Action.BACKUP, "vault", vault.vault_id)
    created_at = vault.now()
    copy = out.with_name(f".{out.name}.{os.getpid()}.db")
    packed = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with removing(copy, copy.with_name(copy.name + "-journal"), packed):
        create_private(copy).close()
        tell(progress, 0.1, "Copying the database")
        snap = _snapshot(vault, copy)
        tell(progress, 0.5, "Checking the copy")
        _check_copy(copy, vault.record_key)
        tell(progress, 0.6, "Writing the backup file")
        manifest = _pack(vault, copy, snap, packed, created_at, progress)
        os.replace(packed, out)
        fsync_directory(out.parent)
    tell(progress, 1.0, "Backup written")
    info = backup_info(out, manifest)
    return BackupInfo(**{**info.__dict__, "sha256": _sha256_file(out)})


def _pack(
    vault: UnlockedVault,
    copy: Path,
    snap: dict[str, Any],
    packed: Path,
    created_at: datetime,
    progress: Progress | None,
) -> dict[str, Any]:
    members: dict[str, dict[str, Any]] = {}
    with create_private(packed) as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as zf:
            total, done = max(copy.stat().st_size, 1), 0
            digest = hashlib.sha256()
            with copy.open("rb") as src, zf.open("database", "w", force_zip64=True) as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    tell(progress, 0.6 + 0.35 * done / total, "Writing the backup file")
            members["database"] = {"sha256": digest.hexdigest(), "size": done}
            for name in ("keyslots", "audit-head"):
                data: bytes = snap[name]
                zf.writestr(name, data)
                members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            manifest = {
                "format": BACKUP_FORMAT,
                "version": BACKUP_VERSION,
                "app_version": __version__,
                "vault_id": str(vault.vault_id),
                "created_at": created_at.astimezone(UTC).isoformat(),
                "generation": snap["generation"],
                "schema": snap["schema"],
                "rows": snap["rows"],
                "checked": ["integrity_check", "cipher_integrity_check"],
                "members": members,
            }
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        handle.flush()
        os.fsync(handle.fileno())
    return manifest


def backup_info(path: Path, manifest: dict[str, Any]) -> BackupInfo:
    return BackupInfo(
        path=path,
        vault_id=uuid.UUID(manifest["vault_id"]),
        created_at=datetime.fromisoformat(manifest["created_at"]),
        generation=int(manifest["generation"]),
        schema=manifest.get("schema"),
        rows={str(k): int(v) for k, v in manifest["rows"].items()},
        size=path.stat().st_size,
    )
