"""Opening a replica whose expiry has run out, by syncing it first (what ``sim-desk sync``
does from a terminal, for the app's unlock screen).

The expiry is a policy lock (``records.sync.standing``): an out-of-date replica may be unlocked
for a sync only, and the sync moves it on. Here the two steps are one use case: unlock for the
sync, sync, then judge the replica again as an ordinary unlock does. The vault comes back open
only if it is no longer out of date; otherwise it is locked and the reason raised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.sync import standing
from sim_desk.records.unit_of_work import UnlockedVault, system_clock
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver.sync import SyncReport, sync_now


def sync_then_open(
    paths: VaultPaths,
    username: str | None,
    secret: str,
    *,
    dirs: AppDirs | None = None,
    clock: Callable[[], datetime] = system_clock,
) -> tuple[UnlockedVault, SyncReport]:
    """Unlocks ``username``'s replica to sync it, syncs, and returns it open with the sync's
    report once it is within its team's expiry again. With ``username`` None, ``secret`` is
    the printed recovery key: the way back for a user who has forgotten their passphrase
    while their replica was out of date (the sync is the laptop's own, with its device
    credential; only the audit log here says the recovery key was used).

    Raises:
        AuthenticationFailed: the passphrase or recovery key is wrong (nothing synced).
        ServerUnreachable, ServerRefused, DeviceRevoked (the replica erased, as at any sync):
            the sync did not complete; the vault is locked again.
        ReplicaExpired: synced, but the server's time still puts it out of date (a server whose
            own clock is wrong); the vault is locked again.
    """
    if username is None:
        vault = unlock.unlock_with_recovery_key(
            paths, secret, dirs=dirs, clock=clock, for_sync=True
        )
    else:
        vault = unlock.unlock(paths, username, secret, dirs=dirs, clock=clock, for_sync=True)
    try:
        with standing.syncing_for_its_user(vault):  # the recovery key: as the replica's user
            report = sync_now(vault)
        standing.check_unlock(vault)  # as an ordinary unlock judges it (locks it if still old)
    except BaseException:
        vault.lock(quietly=True)
        raise
    return vault, report


__all__ = ["sync_then_open"]
