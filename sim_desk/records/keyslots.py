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

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sim_desk.records import slotcrypto as sc
from sim_desk.records.codes import Role
from sim_desk.records.errors import AuthenticationFailed, VaultDamaged

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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes:
    if not isinstance(text, str):
        raise ValueError("missing field")
    return base64.b64decode(text.encode("ascii"), validate=True)


_DAMAGED_SLOT = (
    "The key file (the vault's -keys file) is damaged. Restore it from a backup of this vault;"
    " nothing in the vault was changed."
)
_ALTERED_SLOT = (
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
        _params(slot)
        if len(_unb64(slot.salt)) != SALT_BYTES or len(_unb64(slot.nonce)) != NONCE_BYTES:
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
            if len(_unb64(value)) != size:
                raise ValueError(name)
    except (ValueError, TypeError, AttributeError, VaultDamaged):
        return f"{owner} is not a readable key slot"
    return None


def check_slot(slot_file: SlotFile, slot: Slot) -> None:
    """Refuses a damaged slot before any passphrase work, with the message for a damaged file."""
    if slot_problem(slot_file.vault_id, slot, digest_required=slot_file.digests_required):
        raise VaultDamaged(_DAMAGED_SLOT)


def _params(slot: Slot) -> KdfParams:
    try:
        if not isinstance(slot.kdf, dict) or any(type(slot.kdf[k]) is not int for k in "tmp"):
            raise TypeError("kdf")
        params = KdfParams(int(slot.kdf["t"]), int(slot.kdf["m"]), int(slot.kdf["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise VaultDamaged(_DAMAGED_SLOT) from exc
    params.check()
    return params


def _derive(secret: str, salt: bytes, params: KdfParams) -> bytes:
    return sc.derive_passphrase_key(
        secret,
        salt,
        time_cost=params.time_cost,
        memory_kib=params.memory_kib,
        parallelism=params.parallelism,
    )


def _v1_bound(vault_id: str, slot: Slot) -> bytes:
    return sc.bound(
        {
            "format": SLOT_FORMAT,
            "vault_id": vault_id,
            "slot_id": slot.slot_id,
            "kind": slot.kind,
            "user_id": slot.user_id,
            "role": slot.role,
            "clinical": slot.clinical,
        }
    )


def _private_bound(vault_id: str, slot: Slot) -> bytes:
    return sc.bound(
        {
            "format": SLOT_FORMAT,
            "part": "private",
            "vault_id": vault_id,
            "slot_id": slot.slot_id,
            "kind": slot.kind,
            "user_id": slot.user_id,
            "public_key": slot.public_key,
        }
    )


def _keys_bound(vault_id: str, slot: Slot) -> bytes:
    return sc.bound(
        {
            "format": SLOT_FORMAT,
            "part": "keys",
            "vault_id": vault_id,
            "slot_id": slot.slot_id,
            "kind": slot.kind,
            "user_id": slot.user_id,
            "role": slot.role,
            "clinical": slot.clinical,
            "generation": slot.generation,
            "public_key": slot.public_key,
        }
    )


def _seal_keys(vault_id: str, slot: Slot, record_key: bytes, clinical_key: bytes | None) -> None:
    """Seals the vault keys to ``slot``'s public key, in place (slot fields already final)."""
    nonce = secrets.token_bytes(12)
    ephemeral, sealed = sc.seal_to(
        _unb64(slot.public_key),
        nonce,
        record_key + (clinical_key or b""),
        _keys_bound(vault_id, slot),
    )
    slot.nonce, slot.ephemeral, slot.ciphertext = _b64(nonce), _b64(ephemeral), _b64(sealed)


def _seal_private(vault_id: str, slot: Slot, passphrase_key: bytes, private: bytes) -> None:
    nonce = secrets.token_bytes(12)
    sealed = sc.seal(passphrase_key, nonce, private, _private_bound(vault_id, slot))
    slot.private_nonce, slot.private_key = _b64(nonce), _b64(sealed)


def make_slot(
    vault_id: str,
    secret: str,
    *,
    kind: Literal["user", "recovery"],
    record_key: bytes,
    clinical_key: bytes | None,
    user_id: uuid.UUID | None = None,
    username: str | None = None,
    role: Role | None = None,
    params: KdfParams | None = None,
    generation: int = 0,
) -> Slot:
    """A new format-2 slot for ``secret`` (a passphrase or the recovery key) holding the keys."""
    params = params or KdfParams()
    salt = secrets.token_bytes(16)
    private, public = sc.new_key_pair()
    slot = Slot(
        slot_id=str(uuid.uuid4()),
        kind=kind,
        user_id=str(user_id) if user_id else None,
        username=normalise_username(username) if username else None,
        role=role.value if role else None,
        clinical=clinical_key is not None,
        kdf={"t": params.time_cost, "m": params.memory_kib, "p": params.parallelism},
        salt=_b64(salt),
        nonce="",
        ciphertext="",
        version=2,
        generation=generation,
        public_key=_b64(public),
    )
    _seal_private(vault_id, slot, _derive(secret, salt, params), private)
    _seal_keys(vault_id, slot, record_key, clinical_key)
    return slot


def reseal_slot(
    vault_id: str,
    slot: Slot,
    *,
    record_key: bytes,
    clinical_key: bytes | None,
    generation: int,
) -> Slot:
    """The same slot (same owner, passphrase and private key) holding new vault keys.

    Needs no passphrase: this is how a key rotation re-wraps every remaining member's slot.
    """
    if slot.version != 2 or slot.public_key is None:
        raise ValueError("only format-2 slots can be resealed without their passphrase")
    new = Slot(**asdict(slot))
    new.clinical, new.generation = clinical_key is not None, generation
    _seal_keys(vault_id, new, record_key, clinical_key)
    return new


def upgrade_slot(
    vault_id: str, slot: Slot, key: SlotKey, record_key: bytes, clinical_key: bytes | None
) -> Slot:
    """A format-2 replacement for a format-1 slot, made while its owner unlocks (same salt and
    passphrase key, so no second Argon2id run)."""
    private, public = sc.new_key_pair()
    new = Slot(**asdict(slot))
    new.version, new.public_key = 2, _b64(public)
    _seal_private(vault_id, new, key.passphrase_key, private)
    _seal_keys(vault_id, new, record_key, clinical_key)
    return new


def unseal_slot(vault_id: str, slot: Slot, secret: str) -> SlotKey:
    """Runs Argon2id once and, for a format-2 slot, unseals its private key.

    Raises:
        AuthenticationFailed: the secret is wrong (format 2; format 1 finds out in slot_keys).
        VaultDamaged: the slot is not one SIM Desk wrote (checked before any Argon2id work).
    """
    if slot_problem(vault_id, slot, digest_required=False):
        raise VaultDamaged(_DAMAGED_SLOT)
    params = _params(slot)
    try:
        salt = _unb64(slot.salt)
        passphrase_key = _derive(secret, salt, params)
        if slot.version == 1:
            return SlotKey(slot.slot_id, passphrase_key, None)
        if slot.version != 2:
            raise ValueError("unknown slot version")
        sealed, nonce, public = (
            _unb64(slot.private_key),
            _unb64(slot.private_nonce),
            _unb64(slot.public_key),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise VaultDamaged(_DAMAGED_SLOT) from exc
    try:
        private = sc.unseal(passphrase_key, nonce, sealed, _private_bound(vault_id, slot))
    except sc.Unsealable:
        raise _wrong_secret() from None
    if len(private) != KEY_BYTES or sc.public_of(private) != public:
        raise VaultDamaged(_ALTERED_SLOT)
    return SlotKey(slot.slot_id, passphrase_key, private)


def _wrong_secret() -> AuthenticationFailed:
    return AuthenticationFailed(
        "That passphrase is not right for this user. Check Caps Lock and the keyboard layout,"
        " then try again. A team lead can reset it with the recovery key."
    )


def slot_keys(vault_id: str, slot: Slot, key: SlotKey) -> tuple[bytes, bytes | None]:
    """The (record key, clinical key or None) sealed in ``slot``, opened with ``key``."""
    try:
        nonce, sealed = _unb64(slot.nonce), _unb64(slot.ciphertext)
        if slot.version == 1:
            payload = sc.unseal(key.passphrase_key, nonce, sealed, _v1_bound(vault_id, slot))
        elif key.private_key is None:
            raise VaultDamaged(_ALTERED_SLOT)
        else:
            payload = sc.open_sealed_to(
                key.private_key, _unb64(slot.ephemeral), nonce, sealed, _keys_bound(vault_id, slot)
            )
    except (ValueError, TypeError, AttributeError) as exc:
        raise VaultDamaged(_DAMAGED_SLOT) from exc
    except sc.Unsealable:
        if slot.version == 1:
            raise _wrong_secret() from None
        raise VaultDamaged(_ALTERED_SLOT) from None
    expected = KEY_BYTES * (2 if slot.clinical else 1)
    if len(payload) != expected:
        raise VaultDamaged("A key slot holds keys of the wrong size. Restore from a backup.")
    return payload[:KEY_BYTES], (payload[KEY_BYTES:] if slot.clinical else None)


def open_slot(vault_id: str, slot: Slot, secret: str) -> tuple[bytes, bytes | None]:
    """Unwraps a slot. Raises AuthenticationFailed for a wrong secret, VaultDamaged for an
    edited slot."""
    return slot_keys(vault_id, slot, unseal_slot(vault_id, slot, secret))


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
