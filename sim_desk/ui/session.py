"""The GUI's hold on an unlocked vault: unlock, lock (on demand and after idle time), signals.

Widgets never keep an ``UnlockedVault`` of their own: they ask the session for it each time, so
that once the session locks, nothing can reach the data.

The records layer (SQLAlchemy and all) is imported at the first unlock, not with this module:
the unlock dialog is on screen before it loads (see ``ui.app.warm_up``).
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import VaultLocked
from sim_desk.records.vault.files import VaultPaths
from sim_desk.settings import Settings
from sim_desk.ui.screenfit import prepare_window

if TYPE_CHECKING:
    from sim_desk.records.unit_of_work import UnlockedVault


def _utc_now() -> datetime:
    return datetime.now(UTC)


@functools.cache
def _show() -> QEvent.Type:
    return QEvent.Type.Show


@functools.cache
def _activity() -> frozenset[QEvent.Type]:
    """Input events that count as someone using the app."""
    # Built at the first unlock, not at import: PySide makes QEvent.Type's ~180 members on
    # first use (about 5 ms), and the unlock dialog should not wait for that.
    return frozenset(
        {
            QEvent.Type.KeyPress,
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseMove,
            QEvent.Type.Wheel,
            QEvent.Type.TouchBegin,
        }
    )


class UiSession(QObject):
    """One vault, one signed-in user at a time."""

    unlocked = Signal()
    #: About to lock (on demand or idle), the vault still open: open forms keep their drafts.
    locking = Signal()
    locked = Signal()
    #: Something changed in the vault (an entity kind such as "person", "contact"): views refresh.
    changed = Signal(str)
    #: Ask the main window to open a person's workspace.
    open_person = Signal(uuid.UUID)
    #: A short sentence for the status bar (a form kept as a draft, say).
    notice = Signal(str)
    #: The signed-in user's drafts changed (one kept, carried on or thrown away).
    drafts_changed = Signal()

    def __init__(
        self,
        paths: VaultPaths,
        *,
        dirs: AppDirs,
        settings: Settings,
        clock: Callable[[], datetime] = _utc_now,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.dirs = dirs
        self.settings = settings
        self.clock = clock
        # Wall-clock seconds (time.time), not monotonic: a laptop that slept past the idle
        # time must be locked when it wakes, and the monotonic clock stops during sleep.
        self._wall = wall_clock
        self._vault: UnlockedVault | None = None
        self._last_activity = self._wall()
        self._holds = 0
        self._idle_timer = QTimer(self)
        self._idle_timer.setInterval(5_000)
        self._idle_timer.timeout.connect(self.check_idle)

    # -- state ----------------------------------------------------------------------------
    @property
    def vault(self) -> UnlockedVault:
        if self._vault is None or self._vault.is_locked:
            raise VaultLocked("The vault is locked. Unlock it to go on.")
        return self._vault

    @property
    def is_unlocked(self) -> bool:
        return self._vault is not None and not self._vault.is_locked

    def usernames(self) -> list[str]:
        from sim_desk.records.vault.files import read_slot_file

        return read_slot_file(self.paths).usernames

    # -- unlock / lock --------------------------------------------------------------------
    def unlock(self, username: str, passphrase: str) -> None:
        """Raises AuthenticationFailed and friends; on success emits ``unlocked``."""
        from sim_desk.records.vault import unlock

        self._vault = unlock.unlock(
            self.paths, username, passphrase, dirs=self.dirs, clock=self.clock
        )
        self._after_unlock(username)

    def unlock_in_background(
        self,
        username: str | None,
        secret: str,
        *,
        on_done: Callable[[], None],
        on_failed: Callable[[BaseException], None],
        sync_first: bool = False,
    ) -> None:
        """Unlocks off the GUI thread (Argon2id takes about a second, on purpose); with
        ``username`` None, ``secret`` is the recovery key. ``on_done`` runs (on the GUI thread)
        once ``unlocked`` has been emitted; ``on_failed`` gets AuthenticationFailed and friends.
        With ``sync_first``, a replica whose expiry has run out is synced with the team server
        and then opened (``teamserver.reopening``): ServerUnreachable and friends when not.
        """
        from sim_desk.records.vault import unlock
        from sim_desk.ui.worker import run_in_background

        paths, dirs, clock = self.paths, self.dirs, self.clock

        def work(_progress: Callable[[float, str], None]) -> UnlockedVault:
            if sync_first:  # (the recovery key too, for a forgotten passphrase)
                from sim_desk.teamserver.reopening import sync_then_open

                return sync_then_open(paths, username, secret, dirs=dirs, clock=clock)[0]
            if username is None:
                return unlock.unlock_with_recovery_key(paths, secret, dirs=dirs, clock=clock)
            return unlock.unlock(paths, username, secret, dirs=dirs, clock=clock)

        def adopt(vault: UnlockedVault) -> None:
            if self.is_unlocked:  # unlocked meanwhile (cannot happen from the dialog): keep one
                vault.lock()
            else:
                self._vault = vault
                self._after_unlock(username)
            on_done()

        run_in_background(None, work, on_done=adopt, on_failed=on_failed)

    def use_vault(self, paths: VaultPaths) -> None:
        """Switches to another vault (a restored one) while locked; remembered for next time."""
        if self.is_unlocked:
            raise RuntimeError("lock before switching vaults")
        self.paths = paths
        if self.settings.remember_vault:
            self.settings.last_vault = str(paths.database)
            with contextlib.suppress(OSError):  # not remembered: still the vault in use now
                self.settings.save(self.dirs)

    def adopt(self, vault: UnlockedVault, username: str) -> None:
        """Takes over a vault unlocked elsewhere: the one the first-run wizard made and
        joined to the team, so that the app opens on it without asking the passphrase again."""
        if self.is_unlocked:
            raise RuntimeError("already unlocked")
        self.paths = vault.paths
        self._vault = vault
        self._after_unlock(username)

    def unlock_with_recovery_key(self, recovery_key: str) -> None:
        from sim_desk.records.vault import unlock

        self._vault = unlock.unlock_with_recovery_key(
            self.paths, recovery_key, dirs=self.dirs, clock=self.clock
        )
        self._after_unlock(None)

    def _after_unlock(self, username: str | None) -> None:
        self._last_activity = self._wall()
        self._idle_timer.start()
        # Every event of the app passes through eventFilter while unlocked (to notice activity);
        # while locked there is nothing to time out, and the unlock dialog shows sooner without.
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        if username and self.settings.remember_user:
            self.settings.last_user = username
        if self.settings.remember_vault:
            self.settings.last_vault = str(self.paths.database)
        self.settings.save(self.dirs)
        self.unlocked.emit()

    def lock(self) -> None:
        """Closes the engine and drops the keys, then tells every window to hide its data."""
        self._idle_timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        if self._vault is not None and not self._vault.is_locked:
            self.locking.emit()
        if self._vault is not None:
            vault, self._vault = self._vault, None
            vault.lock()
            self.locked.emit()

    # -- idle -----------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in _activity():
            self._last_activity = self._wall()
        elif kind == _show():
            # Each window, the first time it shows: fitted to a small laptop's screen, Enter
            # pressing only its default button (ui.screenfit). Done here, in the filter that
            # already sees every event, rather than in a second one of its own.
            prepare_window(watched)
        return False

    def check_idle(self) -> None:
        idle = self._wall() - self._last_activity
        if self._holds or not self.is_unlocked:
            return
        if idle >= self.settings.auto_lock_minutes * 60:
            self.lock()

    def hold_open(self) -> None:
        """Keeps the idle lock away while something must not be lost (a new recovery key shown
        once). Pair every call with :meth:`release`."""
        self._holds += 1

    def release(self) -> None:
        self._holds = max(0, self._holds - 1)
        self._last_activity = self._wall()

    def note_activity(self) -> None:
        self._last_activity = self._wall()
