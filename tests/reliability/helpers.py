"""Shared helpers for the reliability tests: seeded vaults, child processes, file fingerprints."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sim_desk.records import clinical_epochs, contacts, people
from sim_desk.records.errors import AuthenticationFailed
from sim_desk.records.unit_of_work import UnlockedVault, open_clinical
from sim_desk.records.vault.files import VaultPaths
from sim_desk.records.vault.store import connect_raw, raw_connection
from tests.conftest import FIXED_NOW
from tests.reliability.child import PASSPHRASES_ENV

REPO = Path(__file__).resolve().parents[2]


def file_hashes(*roots: Path) -> dict[str, str]:
    """SHA-256 of every file under the given folders (or of the given files)."""
    out = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class Seeded:
    person_id: uuid.UUID
    notes: dict[uuid.UUID, str] = field(default_factory=dict)  # contact id -> clinical note
    first_notes: dict[uuid.UUID, str] = field(default_factory=dict)  # revision 1's note


def seed_contacts(clinician: UnlockedVault, pair_id: uuid.UUID, count: int = 6) -> Seeded:
    """A person with ``count`` contacts, each with a clinician-only note; every other one amended,
    alternately the note alone (the earlier note goes into the contact's clinical history) and
    the note with a shared field (it goes into a revision), so both carry encrypted notes too."""
    person = people.create_person(
        clinician,
        people.PersonDetails(
            given_name="Seren",
            family_name="Testperson",
            referred_on=date(2026, 1, 5),
            pair_id=pair_id,
        ),
    )
    seeded = Seeded(person)
    for i in range(count):
        started = FIXED_NOW - timedelta(days=i + 1)
        details = contacts.ContactDetails(started_at=started, clinical_note=f"note {i}")
        contact = contacts.log_contact(clinician, person, details)
        seeded.notes[contact] = f"note {i}"
        if i % 2 == 0:
            details.clinical_note = f"note {i}, amended"
            if i % 4 == 2:
                details.shared_note = f"shared {i}"
            contacts.amend_contact(clinician, contact, details, reason="correction")
            seeded.first_notes[contact] = f"note {i}"
            seeded.notes[contact] = f"note {i}, amended"
    return seeded


def contact_ids(paths: VaultPaths, record_key: bytes) -> set[uuid.UUID]:
    with raw_connection(paths.database, record_key) as conn:
        return {uuid.UUID(row[0]) for row in conn.execute("SELECT id FROM contacts")}


def integrity(paths: VaultPaths, record_key: bytes) -> tuple[list[str], list[str]]:
    """(integrity_check rows, cipher_integrity_check rows): (["ok"], []) when clean."""
    with raw_connection(paths.database, record_key) as conn:
        return (
            [row[0] for row in conn.execute("PRAGMA integrity_check")],
            [str(row[0]) for row in conn.execute("PRAGMA cipher_integrity_check")],
        )


class Workers:
    """``python -m tests.reliability.child VAULT``: forks a worker per command; passphrases go
    in through the environment. A thread collects the output lines. Another child module that
    speaks the same lines (``tests.teamserver.sync_child``) is named by ``module``, with its
    extra arguments in ``args``."""

    def __init__(
        self,
        paths: VaultPaths,
        passphrases: dict[str, str],
        tmpdir: Path,
        *,
        module: str = "tests.reliability.child",
        args: tuple[str, ...] = (),
    ) -> None:
        tmpdir.mkdir(exist_ok=True)
        env = {**os.environ, PASSPHRASES_ENV: json.dumps(passphrases)}
        env.update(TMPDIR=str(tmpdir), SQLITE_TMPDIR=str(tmpdir))
        self._stderr = tmpdir / "child-stderr.txt"
        with self._stderr.open("ab") as errors:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, str(paths.database), *args],
                cwd=REPO,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for("listening")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if raw.endswith(b"\n"):  # a line cut off by a kill was never fully printed
                line = raw.decode().strip()
                self.lines.append(line)
                self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout: float = 60) -> str | None:
        """Waits for a line starting with ``prefix`` and returns it; None if a worker ended (or
        failed) first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty as exc:
                raise TimeoutError(f"no {prefix!r} from the worker in {timeout}s") from exc
            if line is None:
                raise RuntimeError(f"the worker process ended: {self.stderr()}")
            if line.startswith(prefix):
                return line
            if line.startswith(("reaped", "error")):
                if line.startswith("error"):
                    raise RuntimeError(line)
                return None

    def start(self, *command: str) -> int:
        """Starts a worker; returns its pid. Output lines before this call are forgotten."""
        self.lines.clear()
        assert self.proc.stdin is not None
        self.proc.stdin.write((" ".join(command) + "\n").encode())
        self.proc.stdin.flush()
        line = self.wait_for("pid ")
        assert line is not None
        return int(line.split()[1])

    def kill(self, pid: int) -> list[str]:
        """SIGKILLs the worker (if it is still running), waits until it is reaped, and returns
        every line it printed."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self.wait_for("reaped ")
        return [line for line in self.lines if not line.startswith(("pid ", "reaped "))]

    def finish(self, timeout: float = 120) -> list[str]:
        """Waits for the worker to end by itself (or kill itself) and returns its lines."""
        self.wait_for("reaped ", timeout)
        return [line for line in self.lines if not line.startswith(("pid ", "reaped "))]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()

    def stderr(self) -> str:
        return self._stderr.read_text(errors="replace")


def clinical_notes(paths: VaultPaths, record_key: bytes, clinical_key: bytes) -> dict[str, str]:
    """Every clinician-only note in the vault, decrypted: "contact id" for a contact's current
    note and "contact id@revision" for the note of an earlier revision, or of the revision an
    amendment of the note alone left the contact at (its clinical history)."""
    out = {}
    with raw_connection(paths.database, record_key) as conn:
        rows = conn.execute("SELECT id, clinical_note, clinical_history FROM contacts")
        for cid, blob, history in rows:
            if blob is not None:
                out[str(uuid.UUID(cid))] = open_clinical(
                    clinical_key, blob, uuid.UUID(cid)
                ).decode()
            if history is not None:
                bound = clinical_epochs.history_bound_to(uuid.UUID(cid))
                for entry in json.loads(open_clinical(clinical_key, history, bound)):
                    out[f"{uuid.UUID(cid)}@{entry['contact_revision']}"] = entry["note"]
        for cid, revision, blob in conn.execute(
            "SELECT contact_id, revision, clinical_note FROM contact_revisions"
        ):
            if blob is not None:
                key = f"{uuid.UUID(cid)}@{revision}"
                out[key] = open_clinical(clinical_key, blob, uuid.UUID(cid)).decode()
    return out


def opens(paths: VaultPaths, record_key: bytes) -> bool:
    """Whether ``record_key`` opens the vault database."""
    try:
        connect_raw(paths.database, record_key).close()
    except AuthenticationFailed:
        return False
    return True


def flip(path: Path, offset: int, count: int = 16) -> None:
    """Damages ``count`` bytes of a file in place (each XORed), as a failing disk might."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        data = handle.read(count)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xA5 for b in data))
