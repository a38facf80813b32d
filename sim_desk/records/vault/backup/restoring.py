"""Reading and restoring a backup to a new place, never over an existing vault."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim_desk.records.errors import (
    VaultDamaged,
    VaultExists,
    VaultNotFound,
)
from sim_desk.records.unit_of_work import Progress
from sim_desk.records.vault.backup.making import (
    BACKUP_FORMAT,
    BACKUP_VERSION,
    CHUNK,
    MANIFEST,
    MEMBERS,
    BackupInfo,
    backup_info,
    create_private,
    removing,
    tell,
)
from sim_desk.records.vault.fileio import fsync_directory
from sim_desk.records.vault.files import VaultPaths, parse_slot_file, refuse_existing

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
        backup_info(backup, manifest)  # checks the fields parse
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
    return backup_info(Path(backup), manifest)


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
        with zf.open(name) as src, create_private(dest) as out:
            while chunk := src.read(CHUNK):
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
    info = backup_info(Path(backup), manifest)
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
        tell(progress, 0.95 * (offset + size) / total, f"Restoring {MEMBERS[name]}")

    with zf, removing(*temps.values()):
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
    tell(progress, 1.0, "Restored")
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
