"""Creating a vault and getting in: unlock with a passphrase or the recovery key.

A failed unlock cannot be written into the vault (the keys are exactly what is missing), and the
vault's files must not change on a wrong passphrase. So a failed attempt is noted in the app's
state folder and moved into the audit log by the next successful unlock.
"""

from sim_desk.records.vault.unlock.creating import (
    NewVault,
    create_vault,
)
from sim_desk.records.vault.unlock.opening import (
    unlock,
    unlock_with_recovery_key,
)

__all__ = [
    "NewVault",
    "create_vault",
    "unlock",
    "unlock_with_recovery_key",
]
