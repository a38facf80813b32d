"""Backups: one self-contained, encrypted file; restored only to a new place.

A backup is a zip (stored, not compressed: everything in it is already encrypted or holds no
secret) of:

* ``database``: a consistent copy of the SQLCipher database, still encrypted under the record key.
  It is made with ``sqlcipher_export`` inside one read transaction, so the app may go on writing
  (WAL readers never block the writer), and it is checked with ``integrity_check`` and
  ``cipher_integrity_check`` before it goes into the file;
* ``keyslots``: the key-slot file of the same key generation, so the backup opens with the same
  passphrases and the recovery key as the vault did when it was made;
* ``audit-head``: the audit head copy matching the copied audit log;
* ``manifest.json``: format, vault id, time, key generation, schema revision, row counts (numbers
  only, never personal data) and the SHA-256 and size of every member.

The manifest hashes catch damage (a bad disk, a truncated download) without any key; deliberate
tampering with the database is caught by SQLCipher's page HMACs and the audit chain at unlock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlcipher3

from sim_desk import __version__
from sim_desk.records import audit
from sim_desk.records.audit import Action
from sim_desk.records.codes import Role
from sim_desk.records.errors import (
    ValidationError,
    VaultBusy,
    VaultDamaged,
    VaultExists,
    VaultNotFound,
)
from sim_desk.records.fileio import OWNER_ONLY, fsync_directory
from sim_desk.records.store import raw_connection, raw_key_literal
from sim_desk.records.unlocked import Progress, UnlockedVault
from sim_desk.records.vault import VaultPaths, parse_slot_file, refuse_existing

BACKUP_FORMAT = "sim-desk-backup"
BACKUP_VERSION = 1
MANIFEST = "manifest.json"
#: Member name in the zip -> (what it is, in words; which vault file it becomes).
MEMBERS = {
    "database": "the vault database",
    "keyslots": "the key-slot file",
    "audit-head": "the audit head copy",
}
_CHUNK = 1 << 20


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


def _tell(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def _create_private(path: Path) -> IO[bytes]:
    """A new file, owner-only from the first instant; never an existing one."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY), "wb")


@contextlib.contextmanager
def _removing(*paths: Path) -> Iterator[None]:
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
        while chunk := handle.read(_CHUNK):
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
    _tell(progress, 0.0, "Starting the backup")
    with vault.write() as session:
        vault.audit(session, Action.BACKUP, "vault", vault.vault_id)
    created_at = vault.now()
    copy = out.with_name(f".{out.name}.{os.getpid()}.db")
    packed = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with _removing(copy, copy.with_name(copy.name + "-journal"), packed):
        _create_private(copy).close()
        _tell(progress, 0.1, "Copying the database")
        snap = _snapshot(vault, copy)
        _tell(progress, 0.5, "Checking the copy")
        _check_copy(copy, vault.record_key)
        _tell(progress, 0.6, "Writing the backup file")
        manifest = _pack(vault, copy, snap, packed, created_at, progress)
        os.replace(packed, out)
        fsync_directory(out.parent)
    _tell(progress, 1.0, "Backup written")
    info = _info(out, manifest)
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
    with _create_private(packed) as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as zf:
            total, done = max(copy.stat().st_size, 1), 0
            digest = hashlib.sha256()
            with copy.open("rb") as src, zf.open("database", "w", force_zip64=True) as dst:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    _tell(progress, 0.6 + 0.35 * done / total, "Writing the backup file")
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


def _info(path: Path, manifest: dict[str, Any]) -> BackupInfo:
    return BackupInfo(
        path=path,
        vault_id=uuid.UUID(manifest["vault_id"]),
        created_at=datetime.fromisoformat(manifest["created_at"]),
        generation=int(manifest["generation"]),
        schema=manifest.get("schema"),
        rows={str(k): int(v) for k, v in manifest["rows"].items()},
        size=path.stat().st_size,
    )


# -- reading and restoring ---------------------------------------------------------------------


def _not_a_backup(path: Path) -> VaultDamaged:
    if Path(str(path) + "-keys").exists():
        return VaultDamaged(
            f"{path.name} is a vault, not a backup: open it directly instead of restoring it."
        )
    return VaultDamaged(
        f"{path.name} is not a readable SIM Desk backup: it is damaged, or another file was"
        " chosen. Choose a .simbackup file made by 'sim-desk backup'."
    )


def _open_backup(backup: Path) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    backup = Path(backup)
    if not backup.is_file():
        raise VaultNotFound(f"There is no backup file at {backup}.")
    try:
        zf = zipfile.ZipFile(backup)
    except (zipfile.BadZipFile, OSError):
        raise _not_a_backup(backup) from None
    try:
        manifest = json.loads(zf.read(MANIFEST))
        if manifest.get("format") != BACKUP_FORMAT:
            raise ValueError("not a backup manifest")
        if manifest.get("version") != BACKUP_VERSION:
            zf.close()
            raise VaultDamaged(
                f"{backup.name} was made by another version of SIM Desk. Install that version"
                " (or a newer one) to restore it."
            )
        _info(backup, manifest)  # checks the fields parse
        if set(manifest["members"]) != set(MEMBERS):
            raise ValueError("members")
    except VaultDamaged:
        raise
    except (KeyError, ValueError, TypeError, AttributeError, zipfile.BadZipFile):
        zf.close()
        raise _not_a_backup(backup) from None
    return zf, manifest


def read_backup(backup: Path) -> BackupInfo:
    """What a backup holds (from its manifest), without restoring it. Needs no key."""
    zf, manifest = _open_backup(backup)
    zf.close()
    return _info(Path(backup), manifest)


def _extract(
    zf: zipfile.ZipFile,
    name: str,
    expected: dict[str, Any],
    dest: Path,
    tick: Callable[[int, str], None],
) -> None:
    """Copies one member out, owner-only, and checks its size and SHA-256 against the manifest."""
    digest, size = hashlib.sha256(), 0
    try:
        with zf.open(name) as src, _create_private(dest) as out:
            while chunk := src.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                tick(size, name)
            out.flush()
            os.fsync(out.fileno())
    except (zipfile.BadZipFile, KeyError, EOFError):
        raise VaultDamaged(
            f"The backup is damaged: {MEMBERS[name]} in it cannot be read ({name}). Use another"
            " backup."
        ) from None
    if size != expected.get("size") or digest.hexdigest() != expected.get("sha256"):
        raise VaultDamaged(
            f"The backup is damaged: {MEMBERS[name]} in it does not match the SHA-256 recorded"
            " when the backup was made. Use another backup; nothing was restored."
        )


def _place(source: Path, target: Path) -> None:
    """Moves ``source`` to ``target`` without ever replacing an existing file."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise VaultExists(
            f"{target} appeared while restoring. Choose another place; nothing was overwritten."
        ) from None
    except OSError:  # no hard links on this file system (FAT on a USB stick): check, then move
        if target.exists():
            raise VaultExists(f"{target} already exists; nothing was overwritten.") from None
        os.replace(source, target)
        return
    source.unlink()


def restore_backup(
    backup: Path, target: VaultPaths, *, progress: Progress | None = None
) -> BackupInfo:
    """Restores a backup as a new vault at ``target``; it opens with the passphrases and the
    recovery key that opened the vault when the backup was made.

    Raises:
        VaultExists: any file of a vault is already at ``target`` (nothing is ever overwritten).
        VaultNotFound: there is no file at ``backup``.
        VaultDamaged: the file is not a backup, or a member fails its manifest check; the message
            names which.
    """
    refuse_existing(target)
    zf, manifest = _open_backup(backup)
    info = _info(Path(backup), manifest)
    folder = target.database.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    finals = {
        "audit-head": target.audit_head,
        "keyslots": target.keyslots,
        "database": target.database,  # last: the vault appears only when complete
    }
    temps = {name: folder / f".{path.name}.restore-{os.getpid()}" for name, path in finals.items()}
    sizes = {name: int(manifest["members"][name]["size"]) for name in temps}
    total, placed, offset = max(sum(sizes.values()), 1), [], 0

    def tick(size: int, name: str) -> None:
        _tell(progress, 0.95 * (offset + size) / total, f"Restoring {MEMBERS[name]}")

    with zf, _removing(*temps.values()):
        for name, temp in temps.items():
            _extract(zf, name, manifest["members"][name], temp, tick)
            offset += sizes[name]
        _check_restored(temps, info)
        try:
            for name, final in finals.items():
                _place(temps[name], final)
                placed.append(final)
        except BaseException:
            for path in placed:
                path.unlink(missing_ok=True)
            raise
        fsync_directory(folder)
    _tell(progress, 1.0, "Restored")
    return info


def _check_restored(temps: dict[str, Path], info: BackupInfo) -> None:
    """Checks what can be checked without a key: the members belong together."""
    slots = parse_slot_file(temps["keyslots"].read_bytes(), "The backup's key-slot file")
    if uuid.UUID(slots.vault_id) != info.vault_id or slots.generation != info.generation:
        raise VaultDamaged(
            "The backup's key-slot file belongs to another vault or key generation than its"
            " database. Use another backup."
        )
    with temps["database"].open("rb") as handle:
        start = handle.read(16)
    if len(start) < 16 or start.startswith(b"SQLite format 3"):
        raise VaultDamaged("The backup's database is not an encrypted SIM Desk database.")
