"""Syncing with the team server from the app: on demand, every few minutes, and shortly after
each save, always off the GUI thread, never two at once, and never while locked.

The sync uses the same ``UnlockedVault`` as the GUI, from a pool thread. That is safe: each
``read()`` and ``write()`` checks its own connection out of the engine's pool (SQLite in WAL:
readers never wait, writers take turns with BEGIN IMMEDIATE), and a batch is per thread. What
needs care is locking, which drops the keys and closes the engine: the sync is handed a
:class:`StoppableVault`, which starts no new local transaction once the app begins to lock,
and :meth:`SyncRunner.stop` waits for the one in flight (one short local step: no network
call is made inside a local transaction) before the vault is locked. The sync then stops at
its next step (a lost server transaction is rolled back there, and retried at the next sync).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QObject, QThread, QThreadPool, QTimer, Signal

from sim_desk.records.errors import PermissionDenied, SimDeskError, VaultLocked
from sim_desk.ui.session import UiSession
from sim_desk.ui.worker import Cancelled, run_in_background

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sim_desk.records.unit_of_work import UnlockedVault
    from sim_desk.teamserver.sync import SyncReport

log = logging.getLogger(__name__)

#: Background sync while unlocked and reachable.
EVERY_MS = 3 * 60_000
#: After a save, this long of quiet before syncing (a burst of saves makes one sync).
AFTER_SAVE_MS = 10_000
#: Changes announced by a sync itself, which must not set off another.
FROM_SYNC = "sync"
#: Refused changes sent again or set aside (sending again syncs at once by itself).
REFUSED_DEALT_WITH = "refused_changes"
#: Changes that send nothing to the team (looking at what another laptop changed).
NOTHING_TO_SEND = frozenset({FROM_SYNC, "changed_elsewhere", REFUSED_DEALT_WITH})


class StoppableVault:
    """The vault as a sync sees it: once :meth:`stop` is called, every new local transaction
    raises :class:`Cancelled`; :meth:`stop` returns once the one in flight has finished."""

    def __init__(self, vault: UnlockedVault) -> None:
        self._vault = vault
        self._stopped = threading.Event()
        self._in_step = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._vault, name)

    @contextmanager
    def _step(self) -> Iterator[None]:
        with self._in_step:
            if self._stopped.is_set():
                raise Cancelled()
            yield

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._step(), self._vault.read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._step(), self._vault.write() as session:
            yield session

    def stop(self) -> None:
        self._stopped.set()
        with self._in_step:  # waits for a local transaction of the sync's to end
            pass

    @property
    def as_vault(self) -> UnlockedVault:
        return cast("UnlockedVault", self)


@dataclass
class SyncOutcome:
    """What the last sync attempt came to, for the status line."""

    #: ok, unreachable, refused, failed.
    state: str = "never"
    message: str = ""
    at: datetime | None = None
    #: When the server first could not be reached, in the run of failures now going on.
    unreachable_since: datetime | None = None


class SyncRunner(QObject):
    """One per main window. ``started`` and ``finished`` bracket each sync; ``finished`` also
    follows a failure (see :attr:`outcome`). ``revoked`` carries the message when the team lead
    revoked this laptop (its replica has been erased)."""

    started = Signal()
    finished = Signal()
    revoked = Signal(str)

    def __init__(
        self,
        session: UiSession,
        *,
        every_ms: int = EVERY_MS,
        after_save_ms: int = AFTER_SAVE_MS,
        sync: Callable[[UnlockedVault], SyncReport] | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.outcome = SyncOutcome()
        self.last_report: SyncReport | None = None
        self.in_team = False
        self._sync = sync
        self._running: StoppableVault | None = None
        self._job: object | None = None
        self._again = False
        self._manual = False
        self._timer = QTimer(self)
        self._timer.setInterval(every_ms)
        self._timer.timeout.connect(self.sync_soon)
        self._after_save = QTimer(self)
        self._after_save.setSingleShot(True)
        self._after_save.setInterval(after_save_ms)
        self._after_save.timeout.connect(self.sync_soon)
        # A sync spends most of its time waiting on the network (up to the connect timeout
        # when the server cannot be reached): one more pool thread, so that it never holds back
        # the person's own background work (unlocking, reports) on a two-core laptop.
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), QThread.idealThreadCount() + 1))
        session.unlocked.connect(self.start)
        session.locking.connect(self.stop)
        session.locked.connect(self.stop)
        session.changed.connect(self._saved)
        if session.is_unlocked:
            self.start()

    # -- state ------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self._job is not None

    def start(self) -> None:
        """After unlocking: syncs at once (if this vault is in a team), then every few minutes."""
        from sim_desk.records.team import device

        self.outcome = SyncOutcome()
        try:
            credential = device.device_credential(self.session.vault)
        except (PermissionDenied, VaultLocked):  # the recovery key is no team member
            credential = None
        self.in_team = credential is not None and credential.is_active
        if not self.in_team:
            return
        self._timer.start()
        self.sync_soon()

    def stop(self) -> None:
        """As the app locks: no more syncs; one running stops at its next step, and this
        returns once it has no local transaction open."""
        self._timer.stop()
        self._after_save.stop()
        self._again = False
        if self._running is not None:
            self._running.stop()

    # -- syncing ------------------------------------------------------------------------------
    def _saved(self, kind: str) -> None:
        if kind in NOTHING_TO_SEND or not self.in_team or not self.session.is_unlocked:
            return
        if self.outcome.state in ("unreachable", "refused"):
            return  # offline: the timer tries again; every save need not wait on a timeout
        self._after_save.start()

    def sync_soon(self) -> None:
        """Starts a sync now, or once the one running has finished."""
        if not self.in_team or not self.session.is_unlocked:
            return
        if self._job is not None:
            self._again = True
            return
        self._begin()

    def sync_now(self) -> None:
        """Sync now (the button, F5): as :meth:`sync_soon`; an unexpected error is shown."""
        self._after_save.stop()
        if self.in_team and self._job is None:
            self._manual = True
        self.sync_soon()

    def _begin(self) -> None:
        from sim_desk.teamserver.sync import sync_now

        run = self._sync or sync_now
        stoppable = StoppableVault(self.session.vault)
        self._running = stoppable
        self._again = False

        def work(_progress: Callable[[float, str], None]) -> SyncReport:
            return run(stoppable.as_vault)

        self._job = run_in_background(
            None,
            work,
            on_done=lambda report: self._ended(stoppable, report, None),
            on_failed=lambda error: self._ended(stoppable, None, error),
            on_cancelled=lambda: self._ended(stoppable, None, Cancelled()),
        )
        self.started.emit()

    def _ended(
        self, stoppable: StoppableVault, report: SyncReport | None, error: BaseException | None
    ) -> None:
        self._job = None
        manual, self._manual = self._manual, False
        if self._running is stoppable:
            self._running = None
        unlocked = self.session.is_unlocked
        now = self.session.vault.now() if unlocked else None
        if report is not None:
            self.last_report = report
            self.outcome = SyncOutcome("ok", "", now)
            if _changed_anything(report) and unlocked:
                self.session.changed.emit(FROM_SYNC)
        elif error is not None and not isinstance(error, Cancelled | VaultLocked):
            self._manual = manual
            self._failed(error, now)
            self._manual = False
        if unlocked:
            self.finished.emit()
            if self._again:
                self._begin()

    def _failed(self, error: BaseException, now: datetime | None) -> None:
        from sim_desk.teamserver.errors import ServerError, ServerUnreachable
        from sim_desk.teamserver.leavers import DeviceRevoked

        if isinstance(error, DeviceRevoked):
            self.in_team = False
            self._timer.stop()
            self.outcome = SyncOutcome("revoked", str(error), now)
            self.session.changed.emit(FROM_SYNC)  # the replica is gone: views empty
            self.revoked.emit(str(error))
            return
        if isinstance(error, ServerUnreachable):
            since = self.outcome.unreachable_since or now
            self.outcome = SyncOutcome("unreachable", str(error), now, since)
            return
        if isinstance(error, ServerError) and type(error).__name__ == "ServerError":
            # Busy, or a connection lost half-way: tried again at the next sync.
            self.outcome = SyncOutcome("failed", str(error), now)
            return
        if isinstance(error, SimDeskError):  # refused: login, revoked, versions, clock
            self.outcome = SyncOutcome("refused", str(error), now)
            return
        # A bug. Sync now (the person waiting for it) gets the app's error window; a background
        # sync says it in the status line only, rather than a window every few minutes.
        if self._manual:
            from sim_desk.ui.messages import show_error

            show_error(None, error)
        else:
            log.error("unexpected %s in a background sync", type(error).__name__)
        self.outcome = SyncOutcome(
            "failed",
            "The sync stopped on an unexpected error. Nothing half-done was kept; your changes"
            " wait on this laptop. If it happens again, tell your team lead.",
            now,
        )


def _changed_anything(report: SyncReport) -> bool:
    return bool(
        report.pulled_rows or report.removed_people or report.taken_off or report.first_sync
    )
