"""Atomic, owner-only file writes (temp file, fsync, rename), as Electrum's wallet storage does."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

OWNER_ONLY = 0o600
#: Temporary files are named ``.<target name>.<random>.tmp`` beside their target.
_TEMP_SUFFIX = ".tmp"


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def write_atomic(path: Path, data: bytes, *, mode: int = OWNER_ONLY) -> None:
    """Replaces ``path`` with ``data`` so that a crash leaves either the old or the new file.

    The temporary file is created owner-only (and widened to ``mode`` only if asked), so the
    content is never readable by others even for an instant.
    """
    path = Path(path)
    # A unique name (not the process id: a killed writer's file would clash with a later
    # process that got the same id). mkstemp creates it 0600; a wider mode is set after.
    fd, name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX, dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode != OWNER_ONLY:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_directory(path.parent)


def fsync_directory(folder: Path) -> None:
    """Makes a rename durable. Not every platform can open a directory (Windows cannot)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temp_files(*targets: Path) -> int:
    """Deletes temporary files that a killed :func:`write_atomic` left beside ``targets``.

    Only call this while no other process can be writing those targets (the vault's files are
    written under its database write lock). Returns how many were removed.
    """
    removed = 0
    for target in targets:
        prefix = _temp_prefix(target)
        try:
            names = os.listdir(target.parent)
        except OSError:
            continue
        for name in names:
            if name.startswith(prefix) and name.endswith(_TEMP_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target.parent / name)
                    removed += 1
    return removed
