"""Atomic, owner-only file writes (temp file, fsync, rename), as Electrum's wallet storage does."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

OWNER_ONLY = 0o600


def write_atomic(path: Path, data: bytes, *, mode: int = OWNER_ONLY) -> None:
    """Replaces ``path`` with ``data`` so that a crash leaves either the old or the new file.

    The temporary file is created with ``mode`` from the start, so the content is never readable
    by others even for an instant.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
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
