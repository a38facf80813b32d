"""What a laptop sends the team server, read from libpq's own trace of the real connection.

:func:`traced_connections` has every device connection the sync engine opens write libpq's
protocol trace (``PQtrace``) to a file; :func:`round_trips` counts in it the requests the
laptop then waited for: each simple query and each extended query's Sync.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from sim_desk.teamserver import protocol


@contextmanager
def traced_connections(folder: Path | None = None) -> Iterator[list[Path]]:
    """While in use, each new device connection is traced to a file of its own (listed)."""
    traces: list[Path] = []
    real_connect = protocol.connect

    def connect(*args: Any, **kwargs: Any) -> psycopg.Connection[Any]:
        conn = real_connect(*args, **kwargs)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - libpq writes it until close
            prefix="sim-desk-trace-", dir=folder, delete=False
        )
        conn.pgconn.trace(handle.fileno())
        traces.append(Path(handle.name))
        real_close = conn.close

        def close() -> None:
            if not conn.closed:
                conn.pgconn.untrace()  # flushes libpq's buffered trace
            real_close()
            handle.close()

        conn.close = close  # type: ignore[method-assign]
        return conn

    protocol.connect = connect  # type: ignore[assignment]
    try:
        yield traces
    finally:
        protocol.connect = real_connect  # type: ignore[assignment]


def sent(trace: Path) -> list[str]:
    """The requests in a trace, in order: the query text of each (its first 80 characters)."""
    requests: list[str] = []
    pending = ""
    for line in trace.read_text(errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or parts[1] != "F":
            continue
        kind, detail = parts[3], (parts[4].strip() if len(parts) > 4 else "")
        if kind == "Query":
            requests.append(detail[:80])
        elif kind == "Parse":
            pending = detail
        elif kind == "Sync":
            requests.append(pending[:80])
            pending = ""
    return requests


def round_trips(traces: list[Path]) -> int:
    return sum(len(sent(trace)) for trace in traces)
