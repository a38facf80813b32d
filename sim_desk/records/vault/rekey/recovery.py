"""Recovery keys: issuing a new one, and confirming it once it is on paper."""

from __future__ import annotations

from dataclasses import dataclass

from sim_desk.records.codes import Role
from sim_desk.records.errors import (
    NotFound,
    VaultBusy,
)
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.files import (
    VaultPaths,
    read_slot_file,
    write_slot_file,
)
from sim_desk.records.vault.rekey.rotation import new_recovery_slot, require_rotator


@dataclass(frozen=True)
class NewRecoveryKey:
    """A recovery key to show once; confirm it (:func:`confirm_recovery_key`) once printed."""

    recovery_key: str
    slot_id: str


def renew_recovery_key(vault: UnlockedVault) -> NewRecoveryKey:
    """Issues a new recovery key (for a new printed sheet). The earlier one keeps working until
    :func:`confirm_recovery_key` says the new one is printed or written down.

    Needs both keys, so a clinical team lead or the recovery key itself.
    """
    require_rotator(vault)
    record_key, clinical_key = vault.keys_to_wrap(clinical=True)
    assert clinical_key is not None
    with vault.write() as session:
        if vault.paths.keyslots_pending.exists():
            raise VaultBusy("A key rotation is unfinished. Lock the vault, unlock it, try again.")
        slots = read_slot_file(vault.paths)
        recovery_key, slot = new_recovery_slot(
            slots.vault_id, record_key, clinical_key, slots.generation
        )
        confirmed = [s for s in slots.slots if s.kind == "recovery" and s.confirmed]
        # Earlier unconfirmed keys go (nobody said they have them); the confirmed one stays.
        slots.slots = [s for s in slots.slots if s.kind != "recovery"] + confirmed + [slot]
        vault.audit(session, Action.RECOVERY_KEY_RENEWED, "vault", vault.vault_id)
        write_slot_file(vault.paths, slots)
    return NewRecoveryKey(recovery_key, slot.slot_id)


def confirm_recovery_key(vault: UnlockedVault, slot_id: str) -> None:
    """Someone has printed or written down the new recovery key of ``slot_id``: it becomes the
    vault's recovery key and every other recovery key stops working.

    Raises:
        NotFound: that recovery slot is gone (a later rotation or renewal replaced it).
    """
    vault.require_role(Role.TEAM_LEAD, doing="confirm a new recovery key")
    with vault.write() as session:
        if vault.paths.keyslots_pending.exists():
            raise VaultBusy("A key rotation is unfinished. Lock the vault, unlock it, try again.")
        slots = read_slot_file(vault.paths)
        chosen = next(
            (s for s in slots.slots if s.kind == "recovery" and s.slot_id == slot_id), None
        )
        if chosen is None:
            raise NotFound(
                "That recovery key has been replaced by a newer one. Use the newest recovery"
                " sheet, or make a new recovery key."
            )
        if chosen.confirmed and len(slots.recovery_slots) == 1:
            return
        chosen.confirmed = True
        slots.slots = [s for s in slots.slots if s.kind != "recovery"] + [chosen]
        vault.audit(session, Action.RECOVERY_KEY_CONFIRMED, "vault", vault.vault_id)
        write_slot_file(vault.paths, slots)


def unconfirmed_recovery_keys(paths: VaultPaths) -> int:
    """How many recovery keys were made but never confirmed as printed (reads the key file)."""
    return sum(1 for s in read_slot_file(paths).recovery_slots if not s.confirmed)
