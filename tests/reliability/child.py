"""A SIM Desk worker for the parent test to kill: ``python -m tests.reliability.child VAULT``.

It imports SIM Desk once and then, for each command line read from stdin, forks a worker
process that unlocks the vault itself and does the work; the parent test kills that worker with
SIGKILL at a random moment, and this process reaps it and prints ``reaped``. Forking saves the
second of interpreter start-up and imports per kill, so hundreds of kills take minutes.

Commands (one per line on stdin):
    contacts USER PERSON_ID   log contacts with clinician-only notes in an endless loop,
                              printing "committed <id>" only after log_contact has returned
    rekey USER [KILL_AT]      rotate the keys once, printing "step <text>" for each step, then
                              "shown <recovery key>" (the moment a person sees it), confirm it
                              and print "confirmed"; with KILL_AT, the worker kills itself
                              (SIGKILL) right after printing the step that starts with it

Passphrases come from the ``SIM_DESK_CHILD_PASSPHRASES`` environment variable (JSON, user name to
passphrase), never from the command line, where they would show in the process list. Every line
is written with one flushed write, so a kill never leaves half a line.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta

from sim_desk.records import contacts
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.vault import rekey, unlock
from sim_desk.records.vault.files import VaultPaths

PASSPHRASES_ENV = "SIM_DESK_CHILD_PASSPHRASES"
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def work(paths: VaultPaths, command: list[str], passphrases: dict[str, str]) -> None:
    mode, username = command[:2]
    vault = unlock.unlock(
        paths, username, passphrases[username], dirs=AppDirs.default(), clock=lambda: NOW
    )
    say("ready")
    if mode == "contacts":
        person_id = uuid.UUID(command[2])
        for i in range(10_000_000):
            contact_id = contacts.log_contact(
                vault,
                person_id,
                contacts.ContactDetails(
                    started_at=NOW - timedelta(seconds=i + 1),
                    shared_note=f"contact {i}",
                    clinical_note=f"clinical note {i}",
                ),
            )
            say(f"committed {contact_id}")
    elif mode == "rekey":
        kill_at = command[2].replace("_", " ") if len(command) > 2 else None

        def step(text: str) -> None:
            say(f"step {text}")
            if kill_at is not None and text.startswith(kill_at):
                os.kill(os.getpid(), signal.SIGKILL)

        result = rekey.rotate_keys(vault, progress=lambda _fraction, text: step(text))
        say(f"rotated {result.generation}")
        step("Showing the recovery key")
        say(f"shown {result.recovery_key}")
        step("Confirming the recovery key")
        assert result.recovery_slot_id is not None
        rekey.confirm_recovery_key(vault, result.recovery_slot_id)
        say("confirmed")
        step("Done")


def main(argv: list[str]) -> int:
    paths = VaultPaths.at(argv[0])
    passphrases = json.loads(os.environ[PASSPHRASES_ENV])
    say("listening")
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        pid = os.fork()
        if pid == 0:  # the worker: never returns into this loop
            code = 0
            try:
                work(paths, command, passphrases)
            except BaseException as exc:  # reported to the parent, which fails the test
                say(f"error {type(exc).__name__}: {exc}")
                code = 1
            finally:
                os._exit(code)
        say(f"pid {pid}")
        os.waitpid(pid, 0)
        say(f"reaped {pid}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
