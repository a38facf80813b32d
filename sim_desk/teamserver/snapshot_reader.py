"""A bulk snapshot's rows read and made ready in a process of their own.

A lead's first sync brings about a million rows. Each is parsed (JSON) and made ready to go in
bulk (``records.sync.storage.made_ready``: values as the vault stores them, each field's
clock), about 45 s of Python for the 2,000-person stress team when it made each field's hash
as well. On a thread beside the one that writes the vault, that work and the writer's own
Python took turns under one interpreter lock, and the writer waited for the lock after every
SQLite call: about 60 s of a 125 s sync.
Here a second process does it on another core, and the writer receives each page ready.

The sync's connection stays in the app: a thread there passes the server's binary COPY bytes
on to the reader's standard input, unparsed. The reader answers on its standard output with
pages of rows (``marshal``, plain values only), each written as its length (8 bytes) then its
bytes; the app applies each page while the reader makes the next, and a second thread there
reads the next page's bytes meanwhile (a page is about 125 MiB). Nothing is written to disk,
and the reader never sees a passphrase, a key or the vault: only what the server sent.

If the reader cannot be started, the rows are read on a thread as before (:func:`started`
gives None); if it stops half-way, the sync stops with a clear message and keeps nothing
half-done, like a lost connection.
"""

from __future__ import annotations

import gc
import json
import marshal
import os
import queue
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import IO, Any, BinaryIO

import orjson

try:
    import fcntl
except ImportError:  # Windows: pipes keep their size
    fcntl = None  # type: ignore[assignment]

from sim_desk.records.sync.storage import READY, Ready, made_ready
from sim_desk.records.sync.tables import BY_NAME
from sim_desk.teamserver.errors import ServerError

#: The argument that makes ``sim-desk`` (or ``python -m sim_desk``) a snapshot reader.
ARGUMENT = "--snapshot-reader"
#: Bytes passed on to the reader at a time.
_CHUNK = 1 << 20
#: Pages the reader makes ahead of the app.
_PAGES_AHEAD = 1
_LENGTH = struct.Struct(">Q")
#: The buffer asked for the reader's answers (Linux's limit for a user, unless raised).
_PIPE_BYTES = 1 << 20
#: The first page is this part of the others.
_FIRST_PAGE_PART = 10

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_FIELDS = 7  # protocol.SNAPSHOT_TYPES


class CopyFormatError(ValueError):
    """The bytes are not a snapshot in PostgreSQL's binary COPY format."""


# --- In the reader process ------------------------------------------------------------------


def copy_rows(chunks: Iterator[bytes]) -> Iterator[tuple[Any, ...]]:
    """The snapshot rows of a binary COPY stream, as ``(table, row_id, person_id, payload,
    clocks, deleted, clinical)``: UUIDs as 32 hex digits, JSON as its UTF-8 bytes (jsonb's
    version byte taken off), None for NULL."""
    buffer = b""
    at = 0
    header = False
    for chunk in chunks:
        buffer = buffer[at:] + chunk if at < len(buffer) else chunk
        at = 0
        if not header:
            if len(buffer) < 19:
                continue
            if buffer[:11] != _SIGNATURE:
                raise CopyFormatError("not binary COPY")
            extension = _INT32.unpack_from(buffer, 15)[0]
            if len(buffer) < 19 + extension:
                continue
            at = 19 + extension
            header = True
        while True:
            row, end = _row_at(buffer, at)
            if end < 0:
                break
            at = end
            if row is None:
                return
            yield row
    raise CopyFormatError("the snapshot ended before its last row")


def _row_at(buffer: bytes, at: int) -> tuple[tuple[Any, ...] | None, int]:
    """The row starting at ``at`` and where the next begins; (None, end) for the trailer;
    (None, -1) if the row is not all in ``buffer`` yet."""
    size = len(buffer)
    if at + 2 > size:
        return None, -1
    count = _INT16.unpack_from(buffer, at)[0]
    if count == -1:
        return None, at + 2
    if count != _FIELDS:
        raise CopyFormatError(f"a row of {count} fields")
    at += 2
    fields: list[bytes | None] = []
    for _ in range(_FIELDS):
        if at + 4 > size:
            return None, -1
        length = _INT32.unpack_from(buffer, at)[0]
        at += 4
        if length < 0:
            fields.append(None)
            continue
        if at + length > size:
            return None, -1
        fields.append(buffer[at : at + length])
        at += length
    table, row_id, person_id, payload, clocks, deleted, clinical = fields
    if table is None or row_id is None or len(row_id) != 16:
        raise CopyFormatError("a row without its table or id")
    row = (
        table.decode("utf-8"),
        row_id.hex(),
        None if person_id is None else person_id.hex(),
        _jsonb(payload),
        _jsonb(clocks),
        deleted == b"\x01",
        _jsonb(clinical),
    )
    return row, at


def _jsonb(value: bytes | None) -> bytes | None:
    if value is None:
        return None
    if value[:1] != b"\x01":
        raise CopyFormatError("a jsonb value of an unknown version")
    return value[1:]


def _made_ready(row: tuple[Any, ...], dialect: Any) -> tuple[Any, ...] | None:
    """What :func:`records.sync.storage.made_ready` makes of ``row``, as plain values:
    ``(columns, values, clocks)``; None where only the row-by-row path can take it."""
    table, _row_id, _person, payload, clocks, deleted, clinical = row
    if table not in BY_NAME or deleted:
        return None
    try:
        # orjson: a fifth of json's time. What it refuses and json takes (a number beyond 64
        # bits, say) leaves the row to the row-by-row path, which reads it with json.
        entry = {
            "payload": orjson.loads(payload) if payload is not None else None,
            "clocks": orjson.loads(clocks) if clocks is not None else None,
            "clinical": orjson.loads(clinical) if clinical is not None else None,
        }
    except ValueError:
        return None
    ready = made_ready(table, entry, dialect)
    if ready is None:
        return None
    return tuple(ready)


def serve(page_size: int, source: BinaryIO, sink: BinaryIO) -> int:
    """The reader: binary COPY bytes from ``source``, pages of rows made ready to ``sink``.
    Each page is marshalled ``(rows, more)``, a row ``(table, row_id, person_id, deleted,
    payload, clocks, clinical, ready)``; ``ready`` is absent (False) for a row the app need
    not make ready (an unknown table, a tombstone), None for one that cannot go in bulk."""
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    names: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per column list: sent once
    pages: queue.Queue[bytes | None] = queue.Queue(_PAGES_AHEAD)

    def send() -> None:
        try:
            while (page := pages.get()) is not None:
                sink.write(_LENGTH.pack(len(page)))
                sink.write(page)
                sink.flush()
        except (BrokenPipeError, ValueError):
            # The app stopped reading (it was closed or killed): nothing to finish. Leave at
            # once, so that no reader is left waiting to hand over its next page.
            os._exit(1)

    sender = threading.Thread(target=send, name="snapshot-pages", daemon=True)
    sender.start()

    def chunks() -> Iterator[bytes]:
        while chunk := os.read(source.fileno(), _CHUNK):
            yield chunk

    # Nothing the reader makes refers to itself: a garbage collection would only walk its
    # million short-lived tuples again and again.
    gc.disable()
    try:
        page: list[tuple[Any, ...]] = []
        # The first page small: the app starts applying while the reader makes the second.
        size = max(1, page_size // _FIRST_PAGE_PART)
        for row in copy_rows(chunks()):
            if len(page) >= size:
                pages.put(marshal.dumps((page, True)))
                page, size = [], page_size
            ready: Any = False
            if row[0] in BY_NAME and not row[5]:
                ready = _made_ready(row, dialect)
                if ready is not None:
                    ready = (names.setdefault(ready[0], ready[0]), *ready[1:])
            table, row_id, person_id, payload, clocks, deleted, clinical = row
            page.append((table, row_id, person_id, deleted, payload, clocks, clinical, ready))
        pages.put(marshal.dumps((page, False)))
    except (CopyFormatError, UnicodeDecodeError) as error:
        pages.put(marshal.dumps(("error", type(error).__name__)))
    pages.put(None)
    sender.join()
    return 0


def main(argv: list[str]) -> int:
    """``sim-desk --snapshot-reader PAGE_SIZE``, started by the app (never by a person)."""
    try:
        page_size = int(argv[0])
        if page_size < 1:
            raise ValueError(page_size)
    except (IndexError, ValueError):
        print("This is run by SIM Desk itself during a first sync.", file=sys.stderr)
        return 2
    try:
        return serve(page_size, sys.stdin.buffer, sys.stdout.buffer)
    except (BrokenPipeError, KeyboardInterrupt):
        return 1  # the app stopped (or was killed): nothing to tell it


# --- In the app -----------------------------------------------------------------------------


class ReadRow(Mapping[str, Any]):
    """A snapshot row as the reader sent it, read as ``protocol.snapshot``'s entries are
    (``table``, ``row_id``, ``person_id``, ``deleted``, ``payload``, ``clocks``, ``clinical``,
    and ``storage.READY`` where the reader made it ready). Nothing is built until asked for
    (a million are made in a lead's first sync, most read for four keys): JSON is decoded only
    for a row that takes the row-by-row path."""

    __slots__ = ("_json", "_made", "_row")

    def __init__(self, row: tuple[Any, ...]) -> None:
        # (table, row_id, person_id, deleted, payload, clocks, clinical, ready): see serve().
        self._row = row
        self._made: Ready | None = None
        self._json: dict[str, Any] | None = None

    def __getitem__(self, key: str) -> Any:
        row = self._row
        if key == "table":
            return row[0]
        if key == "row_id":
            return uuid.UUID(hex=row[1])
        if key == "person_id":
            return None if row[2] is None else _person(row[2])
        if key == "deleted":
            return row[3]
        if key == READY and row[7] is not False:
            if row[7] is None:
                return None
            if self._made is None:
                self._made = Ready(*row[7])
            return self._made
        if key in _JSON_KEYS:
            if self._json is None:
                self._json = {
                    "payload": _decoded(row[4]),
                    "clocks": _decoded(row[5]),
                    "clinical": _decoded(row[6]),
                }
            return self._json[key]
        raise KeyError(key)

    @property
    def hex_ids(self) -> tuple[str, str | None]:
        """The row's and its person's ids as 32 hex digits, as the vault stores them."""
        return self._row[1], self._row[2]

    def __contains__(self, key: object) -> bool:
        return key in _KEYS or (key == READY and self._row[7] is not False)

    def __iter__(self) -> Iterator[str]:
        yield from ("table", "row_id", "person_id", "deleted")
        if self._row[7] is not False:
            yield READY
        yield from ("payload", "clocks", "clinical")

    def __len__(self) -> int:
        return len(_KEYS) + (self._row[7] is not False)


_JSON_KEYS = frozenset({"payload", "clocks", "clinical"})
_KEYS = frozenset({"table", "row_id", "person_id", "deleted"}) | _JSON_KEYS


@lru_cache(maxsize=4096)
def _person(hex_digits: str) -> uuid.UUID:
    """A person's id (their rows come together: hundreds a person in a first sync)."""
    return uuid.UUID(hex=hex_digits)


def _decoded(value: bytes | None) -> Any:
    return None if value is None else json.loads(value)


def _command(page_size: int) -> list[str]:
    if getattr(sys, "frozen", False):  # the installed app: its own executable
        return [sys.executable, ARGUMENT, str(page_size)]
    return [sys.executable, "-m", "sim_desk", ARGUMENT, str(page_size)]


@contextmanager
def started(page_size: int) -> Iterator[subprocess.Popen[bytes] | None]:
    """The reader process (None if it cannot be started here: a single core, or no way to
    run it), stopped when the ``with`` ends, however it ends."""
    process = None
    if (os.cpu_count() or 1) > 1:
        try:
            process = subprocess.Popen(
                _command(page_size),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # Its errors could quote what it was reading: never in a log or a terminal.
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError:
            process = None
    try:
        yield process
    finally:
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    with suppress(OSError):  # the reader had stopped
                        pipe.close()


def _page_bytes(out: IO[bytes]) -> bytes | None:
    """The bytes of the reader's next answer, or None if it stopped before giving all of it
    (killed, out of memory): a page cut short is never applied."""
    head = out.read(_LENGTH.size)
    if len(head) != _LENGTH.size:
        return None
    size = _LENGTH.unpack(head)[0]
    body = out.read(size)
    if not body or len(body) != size:
        return None
    return body


def _page_in(body: bytes | None) -> Any:
    """The answer these bytes hold, or None."""
    if body is None:
        return None
    try:
        return marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None


def _wider(pipe: IO[bytes]) -> None:
    """The pipe's buffer as large as Linux allows a user (1 MiB unless set otherwise): the
    snapshot's bytes go to the reader a MiB at a time, and a page of rows comes back as about
    125 MiB; through 64 KiB, the two sides took turns thousands of times a page."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if size is None:
        return
    with suppress(OSError):  # (refused: the default size serves, more slowly)
        fcntl.fcntl(pipe.fileno(), size, _PIPE_BYTES)


@contextmanager
def pages_of(
    process: subprocess.Popen[bytes], chunks: Iterator[bytes]
) -> Iterator[Iterator[tuple[list[ReadRow], bool]]]:
    """Pages of the rows in ``chunks`` (binary COPY bytes), each with whether more follow,
    made by ``process``. A thread passes the bytes on; an error there is raised here, and an
    error here (or leaving early) stops both the thread and the process."""
    assert process.stdin is not None and process.stdout is not None
    into, out = process.stdin, process.stdout
    failed: list[BaseException] = []
    stop = threading.Event()

    def passed(data: bytes) -> bool:
        try:
            into.write(data)
        except (BrokenPipeError, ValueError):
            return False  # the reader stopped: the caller hears so from its answer
        return True

    def pass_on() -> None:
        waiting: list[bytes] = []
        size = 0
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                waiting.append(chunk)
                size += len(chunk)
                if size >= _CHUNK:
                    if not passed(b"".join(waiting)):
                        return
                    waiting, size = [], 0
            passed(b"".join(waiting))
        except BaseException as error:  # (the server's) raised by the caller
            failed.append(error)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # an unfinished COPY ends here, on this thread
            with suppress(OSError):  # the reader had stopped
                into.close()

    # The next page's bytes (about 125 MiB) come through the pipe on a thread of their own,
    # while this one's are applied: read here, they held the applying up for a second a page.
    fetched: queue.Queue[bytes | None] = queue.Queue(1)

    def fetch() -> None:
        body: bytes | None = None
        try:
            while not stop.is_set():
                body = _page_bytes(out)
                while not stop.is_set():
                    try:
                        fetched.put(body, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if body is None:
                    return
        except (OSError, ValueError):  # the pipe closed under it: as the reader stopping
            with suppress(queue.Full):
                fetched.put_nowait(None)

    def taken() -> Iterator[tuple[list[ReadRow], bool]]:
        while True:
            item = _page_in(fetched.get())
            if item is None:  # the reader stopped, maybe half-way through a page
                passer.join()
                if failed:
                    raise failed[0]
                raise ServerError(
                    "The first sync stopped while reading what the team server sent; nothing"
                    " half-done was kept. Try again."
                )
            if item[0] == "error":
                passer.join()
                if failed:
                    raise failed[0]
                raise ServerError(
                    "The team server sent a first sync this laptop could not read; nothing"
                    " half-done was kept. Try again, and if it happens again, tell the trust's IT"
                    " team."
                )
            rows, more = item
            yield [ReadRow(row) for row in rows], more
            if not more:
                return

    _wider(into)
    _wider(out)
    passer = threading.Thread(target=pass_on, name="snapshot-bytes", daemon=True)
    fetcher = threading.Thread(target=fetch, name="snapshot-pages-in", daemon=True)
    passer.start()
    fetcher.start()
    try:
        yield taken()
    finally:
        stop.set()
        if process.poll() is None:
            process.kill()  # so that neither thread is left writing to it or reading from it
        passer.join()
        fetcher.join()
        _person.cache_clear()  # nothing of the replica kept in the process once it is in
