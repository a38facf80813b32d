"""Key slots: the JSON slot file's records and how each one is sealed and opened.

A slot belongs to one user (or to the recovery key). Format 2 (see :mod:`slotcrypto`) seals an
X25519 private key under the owner's passphrase and the vault keys to the public key, so new keys
can be sealed to every remaining member at a rotation without their passphrases. Format-1 slots
(the first release: vault keys sealed directly under the passphrase key) still open and are
replaced by format-2 slots (:func:`upgrade_slot`) the next time their owner unlocks.

Each slot also carries a **digest**: SHA-256 over its other fields and the vault id, written with
the file. It needs no secret, so it is not a seal: someone who edits the file on purpose can
recompute it. What it gives is an honest message. A slot whose salt, cost, public key or version
was changed (by a failing disk, a bad copy or a hand edit) says the key file is damaged, instead of
telling its owner that their passphrase is wrong. The seals (see :mod:`slotcrypto`) are what keep
an attacker out; the user name is checked against the database after unlock.

Nothing in here touches files: :mod:`vault` reads and writes them.
"""

from sim_desk.records.vault.keyslots.sealing import (
    make_slot,
    open_slot,
    reseal_slot,
    slot_keys,
    unseal_slot,
    upgrade_slot,
)
from sim_desk.records.vault.keyslots.slots import (
    ALTERED_SLOT,
    DAMAGED_SLOT,
    FILE_VERSION,
    KEY_BYTES,
    NONCE_BYTES,
    SALT_BYTES,
    SLOT_FORMAT,
    SLOT_VERSION,
    TAG_BYTES,
    KdfParams,
    Slot,
    SlotFile,
    SlotKey,
    b64,
    check_slot,
    kdf_params,
    new_key,
    normalise_username,
    parse_slot_file,
    slot_digest,
    slot_file_bytes,
    slot_file_problems,
    slot_problem,
    unb64,
)

__all__ = [
    "ALTERED_SLOT",
    "DAMAGED_SLOT",
    "FILE_VERSION",
    "KEY_BYTES",
    "NONCE_BYTES",
    "SALT_BYTES",
    "SLOT_FORMAT",
    "SLOT_VERSION",
    "TAG_BYTES",
    "KdfParams",
    "Slot",
    "SlotFile",
    "SlotKey",
    "b64",
    "check_slot",
    "kdf_params",
    "make_slot",
    "new_key",
    "normalise_username",
    "open_slot",
    "parse_slot_file",
    "reseal_slot",
    "slot_digest",
    "slot_file_bytes",
    "slot_file_problems",
    "slot_keys",
    "slot_problem",
    "unb64",
    "unseal_slot",
    "upgrade_slot",
]
