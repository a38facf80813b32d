"""Key rotation for leavers: new record key, new clinical key, every remaining slot re-wrapped.

After ``users.remove_user`` a leaver has no slot, but they may have copied the vault (with the
keys their slot gave them) before they left. Rotation makes such a copy worthless for anything
written afterwards: the database is re-encrypted under a new record key (SQLCipher ``rekey``),
every clinician-only note is re-encrypted under a new clinical key, and the new keys are sealed to
the public key of every remaining slot (format-2 slots, :mod:`slotcrypto`), which needs nobody's
passphrase. Nobody's passphrase changes. By default a new recovery key is issued as well, since a
leaver may have seen the printed sheet.

A new recovery key is only worth something once a person has it on paper. So it is made *before*
the journal and travels in it, as an extra recovery slot marked unconfirmed; the earlier recovery
slot is re-wrapped and kept beside it. Only :func:`confirm_recovery_key`, called once someone has
said the new key is printed or written down, removes the earlier one. Killed at any point, the
vault therefore opens with a recovery key that somebody has seen: the earlier one until the
confirmation, the new one after it. (Until then a leaver's copy of the old sheet still opens the
vault: confirm promptly.)

Order of operations (safe if killed at any point; the vault opens with exactly one key set):

1. Under the database write lock, the next generation's slot file is written beside the vault
   (``-keys.next``: the journal).
2. One transaction (still under the old record key) re-encrypts every clinical note under the new
   clinical key and sets ``PRAGMA user_version`` to the new generation. This commit is the point
   of no return: before it the journal is simply dropped, after it the rotation is finished.
3. ``PRAGMA rekey`` re-encrypts every page under the new record key, atomically (rollback
   journal).
4. The journal replaces the slot file (an atomic rename).

:func:`settle_rotation`, called by every unlock that finds a journal, finishes steps 3-4 or drops
the journal, depending on the database's generation.
"""

from sim_desk.records.vault.rekey.recovery import (
    NewRecoveryKey,
    confirm_recovery_key,
    renew_recovery_key,
    unconfirmed_recovery_keys,
)
from sim_desk.records.vault.rekey.rotation import (
    RotationResult,
    new_recovery_slot,
    require_rotator,
    rotate_keys,
    settle_rotation,
)

__all__ = [
    "NewRecoveryKey",
    "RotationResult",
    "confirm_recovery_key",
    "new_recovery_slot",
    "renew_recovery_key",
    "require_rotator",
    "rotate_keys",
    "settle_rotation",
    "unconfirmed_recovery_keys",
]
