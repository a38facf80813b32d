"""A laptop that syncs, for the parent test to kill: ``python -m tests.teamserver.sync_child
VAULT DATA STATE CONFIG``.

As ``tests.reliability.child``: it imports SIM Desk once, unlocks the vault once (so Argon2id is
worked out here, and each forked worker only looks it up), then forks a worker for each command
line read from stdin; the parent kills the worker with SIGKILL, and this process reaps it and
prints ``reaped``. The worker uses the vault at VAULT with the app folders DATA, STATE, CONFIG
(those of the parent's laptop, so both keep one audit-chain head).

Command (one per line on stdin)::

    loop USER RUN PAIR KILL_AT NTH

Works as the laptop's user would, forever: each round makes one change (a new person in PAIR,
a contact with one of them, or a new preferred name), printing ``made KIND MARKER ROW_ID`` only
after the change has committed, then syncs (``synced``). The markers (``rRUN-ROUND``) are
unique across runs (RUN names the test and the run). It prints ``pushing`` and ``answered
push``, ``pulling`` and ``answered pull`` around each call to the server, so that the parent
can kill it during either. With KILL_AT, the worker kills itself at the NTH time it reaches
that point:

    push-answered    the server accepted a push; its answer is not yet noted here
    push-noted       the answer is noted; nothing pulled yet
    pull-answered    the server answered a pull; nothing of it applied here
    applying         inside the local transaction that applies a pull (not yet committed)

Passphrases come from ``SIM_DESK_CHILD_PASSPHRASES`` (JSON), never from the command line.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records import contacts, people, sync
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.model import Person
from sim_desk.records.sync.outbox import APPLYING
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import slotcrypto, unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import protocol
from sim_desk.teamserver.sync import sync_now
from tests.reliability.child import PASSPHRASES_ENV

#: The family name of the people this laptop makes (and only edits).
FAMILY = "Killtest"
KILL_POINTS = ("push-answered", "push-noted", "pull-answered", "applying")
CONTACT_AT = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Points:
    """Prints where the sync is, and kills this process at the chosen point."""

    def __init__(self, kill_at: str, nth: int) -> None:
        self.kill_at = kill_at
        self.left = nth

    def reached(self, point: str) -> None:
        if point == self.kill_at:
            self.left -= 1
            if self.left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        real_push, real_pull, real_record = protocol.push, protocol.pull, sync.record_push

        def push(conn: Any, changes: Any) -> dict[str, Any]:
            say("pushing")
            answer = real_push(conn, changes)
            say("answered push")
            self.reached("push-answered")
            return answer

        def record_push(*args: Any, **kwargs: Any) -> dict[str, int]:
            counts = real_record(*args, **kwargs)
            self.reached("push-noted")
            return counts

        def pull(conn: Any, after: int, max_changes: int = 500) -> dict[str, Any]:
            say("pulling")
            answer = real_pull(conn, after, max_changes)
            say("answered pull")
            self.reached("pull-answered")
            return answer

        protocol.push = push  # type: ignore[assignment]
        protocol.pull = pull  # type: ignore[assignment]
        sync.record_push = record_push  # type: ignore[assignment]

    def watch(self, vault: UnlockedVault) -> None:
        """The write path's last step before a commit: for a pull's transaction, "applying"."""

        def observer(session: Session, _rows: object) -> None:
            if session.info.get(APPLYING):
                self.reached("applying")

        vault.write_observers.append(observer)


def own_people(vault: UnlockedVault) -> list[uuid.UUID]:
    with vault.read() as session:
        return list(
            session.execute(
                select(Person.id).where(Person.family_name == FAMILY).order_by(Person.given_name)
            ).scalars()
        )


def one_round(vault: UnlockedVault, rng: random.Random, marker: str, pair: uuid.UUID) -> None:
    mine = own_people(vault)
    kind = "person" if not mine else rng.choice(("person", "contact", "contact", "edit", "edit"))
    if kind == "person":
        row = people.create_person(
            vault,
            people.PersonDetails(
                given_name=marker, family_name=FAMILY, referred_on=date(2026, 1, 5), pair_id=pair
            ),
        )
    elif kind == "contact":
        row = contacts.log_contact(
            vault,
            rng.choice(mine),
            contacts.ContactDetails(started_at=CONTACT_AT, shared_note=marker),
        )
    else:
        row = rng.choice(mine)
        details = people.view_person(vault, row).details
        people.update_person(vault, row, dataclasses.replace(details, preferred_name=marker))
    say(f"made {kind} {marker} {row}")


def work(paths: VaultPaths, dirs: AppDirs, command: list[str], passphrase: str) -> None:
    mode, username, run, pair, kill_at, nth = command
    assert mode == "loop" and kill_at in (*KILL_POINTS, "none")
    points = Points(kill_at, int(nth))
    points.install()
    start = datetime.now(UTC)
    began = time.monotonic()

    def clock() -> datetime:  # the laptop's wall clock
        return start + timedelta(seconds=time.monotonic() - began)

    with unlock.unlock(paths, username, passphrase, dirs=dirs, clock=clock) as vault:
        points.watch(vault)
        say("ready")
        rng = random.Random(f"{run}")
        for round_ in range(1, 1_000_000):
            one_round(vault, rng, f"r{run}-{round_}", uuid.UUID(pair))
            sync_now(vault)
            say("synced")


def main(argv: list[str]) -> int:
    paths = VaultPaths.at(argv[0])
    dirs = AppDirs(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    passphrases: dict[str, str] = json.loads(os.environ[PASSPHRASES_ENV])
    # Argon2id once per passphrase in this process; each forked worker looks it up.
    derive: Callable[..., bytes] = functools.lru_cache(maxsize=None)(
        slotcrypto.derive_passphrase_key
    )
    slotcrypto.derive_passphrase_key = derive  # type: ignore[assignment]
    for username, passphrase in passphrases.items():
        with unlock.unlock(paths, username, passphrase, dirs=dirs):
            pass
    say("listening")
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        pid = os.fork()
        if pid == 0:  # the worker: never returns into this loop
            code = 0
            try:
                work(paths, dirs, command, passphrases[command[1]])
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
