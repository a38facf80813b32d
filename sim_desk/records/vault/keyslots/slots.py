"""The key-slot file's records: parsing, writing, digests and the checks that need no secret."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sim_desk.records.codes import Role
from sim_desk.records.errors import VaultDamaged
from sim_desk.records.vault import slotcrypto as sc

SLOT_FORMAT = "sim-desk-keyslots"
SLOT_VERSION = 2  # 1: keys sealed under the passphrase key; 2: X25519 slots (slotcrypto)
#: The slot file's own version: 3 is version 2 with a digest on every slot (required).
FILE_VERSION = 3
KEY_BYTES = sc.KEY_BYTES
NONCE_BYTES = 12
SALT_BYTES = 16
TAG_BYTES = 16


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. The floor is RFC 9106's second recommended option."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4

    def check(self) -> None:
        if self.time_cost < 3 or self.memory_kib < 64 * 1024 or self.parallelism < 4:
            raise VaultDamaged(
                "The key-slot file asks for a weaker passphrase protection than SIM Desk allows;"
                " it may have been tampered with. Restore the vault from a backup."
            )


@dataclass
class Slot:
    """One key slot as stored in the JSON file. Nothing in here is secret.

    Format 2 adds ``public_key`` and the sealed ``private_key``; ``nonce``/``ciphertext`` then hold
    the vault keys sealed to the public key with the ``ephemeral`` key. Format-1 slots leave the
    new fields empty and hold the vault keys sealed under the passphrase key.
    """

    slot_id: str
    kind: Literal["user", "recovery"]
    user_id: str | None
    username: str | None
    role: str | None
    clinical: bool
    kdf: dict[str, int]
    salt: str
    nonce: str
    ciphertext: str
    version: int = 1
    generation: int = 0
    public_key: str | None = None
    private_nonce: str | None = None
    private_key: str | None = None
    ephemeral: str | None = None
    #: Recovery slots only: False until someone has said the key is printed or written down
    #: (see ``rekey.confirm_recovery_key``); until then the earlier recovery slot is kept too.
    confirmed: bool = True
    digest: str | None = None


@dataclass
class SlotFile:
    vault_id: str
    slots: list[Slot] = field(default_factory=list)
    generation: int = 0
    #: Files written since slots carry digests (file version 3) must have one on every slot; an
    #: older file's slots are checked where they have one.
    digests_required: bool = False

    def user_slot(self, username: str) -> Slot | None:
        wanted = normalise_username(username)
        return next(
            (s for s in self.slots if s.kind == "user" and s.username == wanted),
            None,
        )

    @property
    def recovery_slots(self) -> list[Slot]:
        """Confirmed recovery slots first: a vault has one, and briefly two while a new recovery
        key waits to be confirmed as printed."""
        found = [s for s in self.slots if s.kind == "recovery"]
        return sorted(found, key=lambda s: not s.confirmed)

    @property
    def recovery_slot(self) -> Slot | None:
        slots = self.recovery_slots
        return slots[0] if slots else None

    @property
    def usernames(self) -> list[str]:
        return sorted(s.username for s in self.slots if s.kind == "user" and s.username)


@dataclass(frozen=True)
class SlotKey:
    """What a secret unseals from one slot, held only while unlocking."""

    slot_id: str
    passphrase_key: bytes
    private_key: bytes | None  # format 2 only


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes:
    if not isinstance(text, str):
        raise ValueError("missing field")
    return base64.b64decode(text.encode("ascii"), validate=True)


DAMAGED_SLOT = (
    "The key file (the vault's -keys file) is damaged. Restore it from a backup of this vault;"
    " nothing in the vault was changed."
)
ALTERED_SLOT = (
    "This key slot has been altered since it was sealed (its role, keys or generation do not"
    " match). Restore the key-slot file from a backup of this vault."
)


def slot_digest(vault_id: str, slot: Slot) -> str:
    """SHA-256 over the slot's fields (all but the digest) and the vault id."""
    fields = {k: v for k, v in asdict(slot).items() if k != "digest"}
    return sc.digest({"format": SLOT_FORMAT, "vault_id": vault_id, "slot": fields})


def _owner(slot: Slot) -> str:
    return "the recovery-key slot" if slot.kind == "recovery" else f"the slot of {slot.username}"


def slot_problem(vault_id: str, slot: Slot, *, digest_required: bool) -> str | None:
    """Why ``slot`` cannot be what SIM Desk wrote, or None. Checks only what needs no secret:
    the digest, field types, and the sizes of salts, nonces, keys and sealed keys."""
    owner = _owner(slot)
    if slot.digest is None:
        if digest_required:
            return f"{owner} has lost its digest"
    elif slot.digest != slot_digest(vault_id, slot):
        return f"{owner} was changed after it was written (its digest does not match)"
    try:
        if slot.kind not in ("user", "recovery") or not isinstance(slot.clinical, bool):
            raise ValueError("kind")
        if slot.kind == "user":
            uuid.UUID(str(slot.user_id))
            if not isinstance(slot.username, str) or not slot.username:
                raise ValueError("username")
            Role(str(slot.role))
        kdf_params(slot)
        if len(unb64(slot.salt)) != SALT_BYTES or len(unb64(slot.nonce)) != NONCE_BYTES:
            raise ValueError("salt or nonce")
        keys = KEY_BYTES * (2 if slot.clinical else 1) + TAG_BYTES
        sizes: dict[str, tuple[str | None, int]]
        if slot.version == 1:
            sizes = {"ciphertext": (slot.ciphertext, keys)}
        elif slot.version == 2:
            sizes = {
                "ciphertext": (slot.ciphertext, keys),
                "public_key": (slot.public_key, KEY_BYTES),
                "ephemeral": (slot.ephemeral, KEY_BYTES),
                "private_nonce": (slot.private_nonce, NONCE_BYTES),
                "private_key": (slot.private_key, KEY_BYTES + TAG_BYTES),
            }
        else:
            raise ValueError("version")
        for name, (value, size) in sizes.items():
            if len(unb64(value)) != size:
                raise ValueError(name)
    except (ValueError, TypeError, AttributeError, VaultDamaged):
        return f"{owner} is not a readable key slot"
    return None


def check_slot(slot_file: SlotFile, slot: Slot) -> None:
    """Refuses a damaged slot before any passphrase work, with the message for a damaged file."""
    if slot_problem(slot_file.vault_id, slot, digest_required=slot_file.digests_required):
        raise VaultDamaged(DAMAGED_SLOT)


def kdf_params(slot: Slot) -> KdfParams:
    try:
        if not isinstance(slot.kdf, dict) or any(type(slot.kdf[k]) is not int for k in "tmp"):
            raise TypeError("kdf")
        params = KdfParams(int(slot.kdf["t"]), int(slot.kdf["m"]), int(slot.kdf["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise VaultDamaged(DAMAGED_SLOT) from exc
    params.check()
    return params


def parse_slot_file(data: bytes, name: str) -> SlotFile:
    """Parses and checks a key-slot file's content (the file as a whole; each slot is checked
    by :func:`check_slot` when it is used, so one damaged slot does not lock out everyone)."""
    try:
        raw = json.loads(data.decode("utf-8"))
        if not isinstance(raw, dict) or raw.get("format") != SLOT_FORMAT:
            raise ValueError("not a key-slot file")
        version = raw.get("version")
        if version not in (1, SLOT_VERSION, FILE_VERSION):
            raise VaultDamaged(
                "The key-slot file was written by another version of SIM Desk. Install the"
                " version that made it."
            )
        slots = raw["slots"]
        if not isinstance(slots, list) or not all(isinstance(slot, dict) for slot in slots):
            raise ValueError("slots")
        generation = raw.get("generation", 0)
        if type(generation) is not int or generation < 0:
            raise ValueError("generation")
        slot_file = SlotFile(
            vault_id=str(uuid.UUID(raw["vault_id"])),
            slots=[Slot(**slot) for slot in slots],
            generation=generation,
            digests_required=version == FILE_VERSION,
        )
        if any(
            type(s.version) is not int or type(s.generation) is not int for s in slot_file.slots
        ):
            raise ValueError("slot version")
    except VaultDamaged:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VaultDamaged(
            f"{name} is not a readable SIM Desk key-slot file (damaged, or another"
            " file chosen). Restore it from a backup of this vault."
        ) from exc
    if any(s.generation != slot_file.generation for s in slot_file.slots if s.version == 2):
        raise VaultDamaged(
            f"{name} mixes key slots of different key generations. Restore it from a backup."
        )
    return slot_file


def slot_file_problems(slot_file: SlotFile) -> list[str]:
    """Every damaged slot in the file, in words (for ``verify``)."""
    found = [
        slot_problem(slot_file.vault_id, slot, digest_required=slot_file.digests_required)
        for slot in slot_file.slots
    ]
    problems = [p for p in found if p]
    if not slot_file.recovery_slots:
        problems.append("there is no recovery-key slot")
    names = [s.username or "" for s in slot_file.slots if s.kind == "user"]
    problems += [
        f"two slots are named {n}" for n in sorted({n for n in names if names.count(n) > 1})
    ]
    return problems


def slot_file_bytes(slot_file: SlotFile) -> bytes:
    slots = []
    for slot in slot_file.slots:
        fields = asdict(slot)
        fields["digest"] = slot_digest(slot_file.vault_id, slot)
        slots.append(fields)
    doc: dict[str, Any] = {
        "format": SLOT_FORMAT,
        "version": FILE_VERSION,
        "vault_id": slot_file.vault_id,
        "generation": slot_file.generation,
        "slots": slots,
    }
    return json.dumps(doc, indent=2).encode("utf-8")


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)
