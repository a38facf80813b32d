"""The team's keys across laptops (issue 20): one step of every sync, and key rotation.

See records/team/keycrypto.py for the cryptography and docs/team-server.md ("Keys") for the
model. In short, each laptop keeps the public keys it has verified itself (its own, its
inviter's from the invitation file, its invitees' by their proof tag, and those introduced by
a device it already trusts); it wraps the team's keys only to verified keys, and accepts a
wrapped key only from a verified device. The server relays, and can neither read a key nor
have one of its own accepted.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import select

from sim_desk.records.clinical_epochs import CLINICAL, LINKAGE
from sim_desk.records.errors import PermissionDenied
from sim_desk.records.model import LinkageGrant, VaultMeta
from sim_desk.records.team import device, keycrypto, keyring, own_notes
from sim_desk.records.team.device import DeviceCredential
from sim_desk.records.team.keyring import Trusted
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver.connection import ServerAddress
from sim_desk.teamserver.errors import NotJoined, ServerRefused
from sim_desk.teamserver.invitations import Invitation, Inviter, create_invitation

CLINICAL_ROLES = ("clinician", "team_lead")
LINKAGE_ROLES = ("analyst", "team_lead")
_CHUNK = 1000


@dataclass(frozen=True)
class ServerDevice:
    id: uuid.UUID
    user: uuid.UUID
    public_key: bytes
    proof: bytes | None
    role: str
    clinical: bool
    active: bool


@dataclass
class KeyReport:
    newly_trusted: int = 0
    introductions: int = 0
    received: list[tuple[str, int]] = field(default_factory=list)
    wrapped: int = 0
    made: list[tuple[str, int]] = field(default_factory=list)
    #: Devices whose public key on the server is not the one this laptop verified: never
    #: wrapped a key. Said in the sync's problems too.
    mismatched: list[uuid.UUID] = field(default_factory=list)
    #: Notes written here under the vault's own key before the team's key came, now re-sealed
    #: under the current epoch and queued for the next sync (records/team/own_notes.py).
    resealed: int = 0
    problems: list[str] = field(default_factory=list)


def _b64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _state(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    if conn.autocommit:  # one statement is its own transaction: one round trip, not three
        row = conn.execute("SELECT sim.key_state()").fetchone()
    else:
        with conn.transaction():
            row = conn.execute("SELECT sim.key_state()").fetchone()
    assert row is not None
    return dict(row[0])


def _devices(state: dict[str, Any]) -> dict[uuid.UUID, ServerDevice]:
    out = {}
    for d in state["devices"]:
        dev = ServerDevice(
            uuid.UUID(d["id"]),
            uuid.UUID(d["user"]),
            _b64(d["public_key"]) or b"",
            _b64(d.get("proof")),
            d["role"],
            bool(d["clinical"]),
            bool(d["active"]),
        )
        out[dev.id] = dev
    return out


def _may_hold(kind: str, t: Trusted, d: ServerDevice) -> bool:
    """Both this laptop's record (what the inviter asked for) and the server must agree."""
    if not d.active or d.public_key != t.public_key:
        return False
    if kind == CLINICAL:
        return t.clinical and d.clinical and d.role in CLINICAL_ROLES and t.role == d.role
    return t.role in LINKAGE_ROLES and d.role == t.role


# -- inviting and joining -----------------------------------------------------------------------


def invite_from_laptop(
    vault: UnlockedVault,
    credential: DeviceCredential,
    conn: psycopg.Connection[Any],
    address: ServerAddress,
    **details: Any,
) -> Invitation:
    """An invitation made on this laptop: its proof key is kept here, and the file names this
    device and its public key, which the new laptop then trusts (the file does not pass
    through the server)."""
    invitation = create_invitation(conn, address, **details)
    keyring.remember_invitation(
        vault, invitation.invitation_id, invitation.secret, invitation.role, invitation.clinical
    )
    me = keyring.trusted_devices(vault).get(credential.device_id)
    inviter = Inviter(
        device_id=credential.device_id,
        public_key=credential.public_key,
        role=credential.role,
        clinical=me.clinical if me is not None else vault.has_clinical_key,
    )
    return Invitation(**{**invitation.__dict__, "inviter": inviter})


def joined(vault: UnlockedVault, credential: DeviceCredential, invitation: Invitation) -> None:
    """After a join: this device, and the inviter the invitation file names, are trusted."""
    found = [
        Trusted(
            credential.device_id,
            credential.public_key,
            credential.role,
            invitation.clinical,
            "self",
        )
    ]
    if invitation.inviter is not None:
        i = invitation.inviter
        found.append(Trusted(i.device_id, i.public_key, i.role, i.clinical, "inviter"))
    keyring.trust_devices(vault, found)


# -- the sync step ---------------------------------------------------------------------------


def sync_keys(vault: UnlockedVault, conn: psycopg.Connection[Any]) -> KeyReport:
    """Verifies new devices, passes introductions on, takes the keys wrapped to this device,
    starts the team's first epochs and wraps what others are waiting for. Safe to repeat."""
    credential = device.device_credential(vault)
    if credential is None or not credential.is_active:
        raise NotJoined("This laptop has not joined a team server for you yet.")
    report = KeyReport()
    state = _state(conn)
    devices = _devices(state)
    trusted = keyring.trusted_devices(vault)
    _verify(vault, credential, state, devices, trusted, report)
    trusted = keyring.trusted_devices(vault)
    for t in trusted.values():
        d = devices.get(t.device_id)
        if d is not None and d.public_key != t.public_key and t.device_id not in report.mismatched:
            report.mismatched.append(t.device_id)
    _introduce(conn, credential, state, devices, trusted, report)
    _receive(vault, credential, state, trusted, report)
    _start_epochs(vault, conn, credential, state, devices, trusted, report)
    _linkage_after_revoking(vault, conn, credential, devices, trusted, report)
    report.resealed = own_notes.reseal_own_notes(vault)
    # Read again only if this laptop may have changed it: introductions sent, or an epoch
    # tried (made, or lost to another laptop's).
    every_kind_begun = {CLINICAL, LINKAGE} <= {e["kind"] for e in state["epochs"]}
    if report.introductions or not every_kind_begun:
        state = _state(conn)
    _wrap_waiting(vault, conn, credential, state, _devices(state), trusted, report)
    if report.mismatched:
        report.problems.append(
            f"{len(report.mismatched)} device(s) on the team server have a public key this"
            " laptop did not verify (it may have been swapped on the server). They were given"
            " no key. Tell your team lead and the trust's IT team."
        )
    return report


def _verify(
    vault: UnlockedVault,
    credential: DeviceCredential,
    state: dict[str, Any],
    devices: dict[uuid.UUID, ServerDevice],
    trusted: dict[uuid.UUID, Trusted],
    report: KeyReport,
) -> None:
    me = credential.device_id
    found: dict[uuid.UUID, Trusted] = {}
    if me not in trusted:
        found[me] = Trusted(
            me,
            credential.public_key,
            credential.role,
            vault.has_clinical_key and credential.role in CLINICAL_ROLES,
            "self",
        )
    proofs = keyring.invitation_proofs(vault)
    for d in devices.values():
        p = proofs.get(d.id)
        if p is None or d.id in trusted:
            continue
        if keycrypto.proof_holds(p.proof_key, d.id, d.public_key, d.proof):
            found[d.id] = Trusted(d.id, d.public_key, p.role, p.clinical, "invitee")
        else:
            report.mismatched.append(d.id)
    known = {**trusted, **found}
    mine = [x for x in state["introductions"] if uuid.UUID(x["to"]) == me]
    grew = True
    while grew:
        grew = False
        for x in mine:
            about, sender = uuid.UUID(x["about"]), uuid.UUID(x["from"])
            if about in known or sender not in known:
                continue
            said, mac = _b64(x["said"]) or b"", _b64(x["mac"]) or b""
            if not keycrypto.introduction_holds(
                credential.private_key, me, known[sender].public_key, sender, said, mac
            ):
                continue
            body = json.loads(said)
            if uuid.UUID(body["about"]) != about:
                continue
            key = bytes.fromhex(body["public_key"])
            listed = devices.get(about)
            if listed is not None and listed.public_key != key:
                report.mismatched.append(about)
                continue
            known[about] = found[about] = Trusted(
                about, key, str(body["role"]), bool(body["clinical"]), "introduced", sender
            )
            grew = True
    report.newly_trusted = keyring.trust_devices(vault, list(found.values()))


def _introduce(
    conn: psycopg.Connection[Any],
    credential: DeviceCredential,
    state: dict[str, Any],
    devices: dict[uuid.UUID, ServerDevice],
    trusted: dict[uuid.UUID, Trusted],
    report: KeyReport,
) -> None:
    """Tells every device this laptop trusts about the devices it verified itself."""
    me = credential.device_id
    done = {
        (uuid.UUID(x["to"]), uuid.UUID(x["about"]))
        for x in state["introductions"]
        if uuid.UUID(x["from"]) == me
    }
    items = []
    for about in trusted.values():
        if not about.direct or about.device_id == me:
            continue
        said = keycrypto.statement(about.device_id, about.public_key, about.role, about.clinical)
        for to in trusted.values():
            d = devices.get(to.device_id)
            if (
                to.device_id in (me, about.device_id)
                or (to.device_id, about.device_id) in done
                or d is None
                or not d.active
                or d.public_key != to.public_key
            ):
                continue
            mac = keycrypto.introduce(credential.private_key, me, to.public_key, to.device_id, said)
            items.append(
                {
                    "to": str(to.device_id),
                    "about": str(about.device_id),
                    "said": base64.b64encode(said).decode("ascii"),
                    "mac": base64.b64encode(mac).decode("ascii"),
                }
            )
    for start in range(0, len(items), _CHUNK):
        with conn.transaction():
            conn.execute(
                "SELECT sim.put_introductions(%s)", (Jsonb(items[start : start + _CHUNK]),)
            )
    report.introductions = len(items)


def _receive(
    vault: UnlockedVault,
    credential: DeviceCredential,
    state: dict[str, Any],
    trusted: dict[uuid.UUID, Trusted],
    report: KeyReport,
) -> None:
    me = credential.device_id
    current = {(e["kind"], e["epoch"]) for e in state["epochs"] if e["current"]}
    held = {kind: keyring.team_keys(vault, kind)[0] for kind in (CLINICAL, LINKAGE)}
    for w in state["wraps"]:
        kind, epoch = w["kind"], int(w["epoch"])
        if uuid.UUID(w["device"]) != me or w.get("wrapped") is None:
            continue
        if kind == CLINICAL and not vault.has_clinical_key:
            continue  # another user of this vault file (an officer) never takes it
        if epoch in held[kind]:
            if (kind, epoch) in current:
                keyring.store_team_key(vault, kind, epoch, held[kind][epoch], True)
            continue
        sender = trusted.get(uuid.UUID(w["wrapped_by"]))
        if sender is None or not (
            (kind == CLINICAL and sender.clinical)
            or (kind == LINKAGE and sender.role == "team_lead")
        ):
            continue  # not (yet) verified here: taken once it is
        try:
            key = keycrypto.unwrap(
                _b64(w["wrapped"]) or b"",
                kind=kind,
                epoch=epoch,
                recipient=me,
                recipient_private=credential.private_key,
                sender=sender.device_id,
                sender_public=sender.public_key,
            )
        except keycrypto.KeyCryptoError:
            report.problems.append(
                f"A {kind} key sent to this laptop does not open; it was not taken."
            )
            continue
        keyring.store_team_key(vault, kind, epoch, key, (kind, epoch) in current)
        report.received.append((kind, epoch))


def _start_epochs(
    vault: UnlockedVault,
    conn: psycopg.Connection[Any],
    credential: DeviceCredential,
    state: dict[str, Any],
    devices: dict[uuid.UUID, ServerDevice],
    trusted: dict[uuid.UUID, Trusted],
    report: KeyReport,
) -> None:
    """The first clinical device to sync makes epoch 1 of the team's clinical key from its
    vault's own key (its notes stay readable everywhere); the first team lead the linkage key
    (its vault's, if it has one)."""
    kinds = {e["kind"] for e in state["epochs"]}
    me = devices.get(credential.device_id)
    if me is None:
        return
    if CLINICAL not in kinds and me.clinical and vault.has_clinical_key:
        own = vault.keys_to_wrap(clinical=True)[1]
        assert own is not None
        _new_epoch(vault, conn, credential, CLINICAL, 1, own, devices, trusted, report)
    if LINKAGE not in kinds and me.role == "team_lead":
        with vault.read() as session:
            existing = session.execute(select(VaultMeta.linkage_key)).scalar_one()
        key = bytes(existing) if existing else secrets.token_bytes(keycrypto.KEY_BYTES)
        _new_epoch(vault, conn, credential, LINKAGE, 1, key, devices, trusted, report)


def _linkage_after_revoking(
    vault: UnlockedVault,
    conn: psycopg.Connection[Any],
    credential: DeviceCredential,
    devices: dict[uuid.UUID, ServerDevice],
    trusted: dict[uuid.UUID, Trusted],
    report: KeyReport,
) -> None:
    """A linkage grant revoked on this (lead's) laptop since the last sync: a new linkage epoch
    without the revoked user, whose laptop holds the old one. The mark stays until the server
    has taken the epoch (a race with another lead: the next sync tries again)."""
    me = devices.get(credential.device_id)
    if me is None or me.role != "team_lead":
        return
    with vault.read() as session:
        due = session.execute(select(VaultMeta.linkage_rotation_due)).scalar_one()
    if not due:
        return
    epoch = _next_epoch(_state(conn), LINKAGE)
    key = secrets.token_bytes(keycrypto.KEY_BYTES)
    if _new_epoch(vault, conn, credential, LINKAGE, epoch, key, devices, trusted, report):
        _linkage_rotated(vault)


def _linkage_rotated(vault: UnlockedVault) -> None:
    with vault.write() as session:
        session.execute(select(VaultMeta)).scalar_one().linkage_rotation_due = False


def _next_epoch(state: dict[str, Any], kind: str) -> int:
    return max((int(e["epoch"]) for e in state["epochs"] if e["kind"] == kind), default=0) + 1


def _granted_linkage(vault: UnlockedVault) -> set[uuid.UUID]:
    with vault.read() as session:
        return set(
            session.execute(
                select(LinkageGrant.user_id).where(LinkageGrant.revoked_at.is_(None))
            ).scalars()
        )


def _recipients(
    vault: UnlockedVault,
    kind: str,
    me: uuid.UUID,
    devices: dict[uuid.UUID, ServerDevice],
    trusted: dict[uuid.UUID, Trusted],
) -> list[Trusted]:
    granted = _granted_linkage(vault) if kind == LINKAGE else set()
    out = []
    for t in trusted.values():
        d = devices.get(t.device_id)
        if t.device_id == me or d is None or not _may_hold(kind, t, d):
            continue
        if kind == LINKAGE and d.role != "team_lead" and d.user not in granted:
            continue
        out.append(t)
    return out


def _wrap_item(
    credential: DeviceCredential, kind: str, epoch: int, key: bytes, to: uuid.UUID, public: bytes
) -> dict[str, Any]:
    wrapped = keycrypto.wrap(
        key,
        kind=kind,
        epoch=epoch,
        sender=credential.device_id,
        sender_private=credential.private_key,
        recipient=to,
        recipient_public=public,
    )
    return {
        "kind": kind,
        "epoch": epoch,
        "device": str(to),
        "wrapped": base64.b64encode(wrapped).decode("ascii"),
    }


def _new_epoch(
    vault: UnlockedVault,
    conn: psycopg.Connection[Any],
    credential: DeviceCredential,
    kind: str,
    epoch: int,
    key: bytes,
    devices: dict[uuid.UUID, ServerDevice],
    trusted: dict[uuid.UUID, Trusted],
    report: KeyReport,
) -> bool:
    me = credential.device_id
    items = [_wrap_item(credential, kind, epoch, key, me, credential.public_key)]
    for t in _recipients(vault, kind, me, devices, trusted):
        items.append(_wrap_item(credential, kind, epoch, key, t.device_id, t.public_key))
    # Kept here first: a crash after the server took the epoch must not lose the key.
    keyring.store_team_key(vault, kind, epoch, key, False)
    with conn.transaction():
        row = conn.execute(
            "SELECT sim.new_key_epoch(%s, %s, %s)", (kind, epoch, Jsonb(items))
        ).fetchone()
    assert row is not None
    if not row[0]["created"]:
        keyring.forget_team_key(vault, kind, epoch)
        return False
    keyring.store_team_key(vault, kind, epoch, key, True)
    report.made.append((kind, epoch))
    report.wrapped += len(items) - 1
    return True


def _wrap_waiting(
    vault: UnlockedVault,
    conn: psycopg.Connection[Any],
    credential: DeviceCredential,
    state: dict[str, Any],
    devices: dict[uuid.UUID, ServerDevice],
    trusted: dict[uuid.UUID, Trusted],
    report: KeyReport,
) -> None:
    me = credential.device_id
    existing = {(w["kind"], int(w["epoch"]), uuid.UUID(w["device"])) for w in state["wraps"]}
    mine = {(k, e) for k, e, d in existing if d == me}
    items = []
    for kind in (CLINICAL, LINKAGE):
        if me not in devices or not _may_hold(
            kind, trusted.get(me) or _self(credential), devices[me]
        ):
            continue
        if kind == LINKAGE and devices[me].role != "team_lead":
            continue
        held, _current = keyring.team_keys(vault, kind)
        recipients = _recipients(vault, kind, me, devices, trusted)
        for epoch, key in held.items():
            if (kind, epoch) not in mine:
                continue
            for t in recipients:
                if (kind, epoch, t.device_id) not in existing:
                    items.append(
                        _wrap_item(credential, kind, epoch, key, t.device_id, t.public_key)
                    )
    for start in range(0, len(items), _CHUNK):
        with conn.transaction():
            conn.execute("SELECT sim.put_wraps(%s)", (Jsonb(items[start : start + _CHUNK]),))
    report.wrapped += len(items)


def _self(credential: DeviceCredential) -> Trusted:
    return Trusted(credential.device_id, credential.public_key, credential.role, False, "self")


def epoch_holders(conn: psycopg.Connection[Any], kind: str, epoch: int, me: uuid.UUID) -> int:
    """How many devices other than ``me`` the server holds a wrap of ``kind`` ``epoch`` for (as
    this device may see them: those it wrapped, or of a kind it may hold)."""
    return sum(
        1
        for w in _state(conn)["wraps"]
        if w["kind"] == kind and int(w["epoch"]) == epoch and uuid.UUID(w["device"]) != me
    )


# -- rotation --------------------------------------------------------------------------------


def rotate_key(vault: UnlockedVault, conn: psycopg.Connection[Any], kind: str = CLINICAL) -> int:
    """Starts a new epoch of the team's ``kind`` key, wrapped to every device that may hold
    it, whose key this laptop verified, and that is not revoked. Notes already written keep
    their epoch; new notes use the new one. Returns the new epoch.

    Raises:
        PermissionDenied: clinical: not a clinician or clinical lead; linkage: not a team lead.
        ServerRefused: another laptop started an epoch at the same moment (try again).
    """
    credential = device.device_credential(vault)
    if credential is None or not credential.is_active:
        raise NotJoined("This laptop has not joined a team server for you yet.")
    if kind == CLINICAL and not (vault.has_clinical_key and credential.role in CLINICAL_ROLES):
        raise PermissionDenied(
            "Only a clinician or a clinical lead can rotate the clinical key: it is wrapped to"
            " clinical devices only, and this sign-in does not hold it. Ask a clinician or"
            " clinical lead of your team to rotate it (after a leaver, as soon as they are"
            " revoked)."
        )
    if kind == LINKAGE and credential.role != "team_lead":
        raise PermissionDenied(
            "Only a team lead can rotate the linkage key. Ask your team lead to rotate it."
        )
    sync_keys(vault, conn)  # verified keys and received epochs first
    state = _state(conn)
    epoch = _next_epoch(state, kind)
    report = KeyReport()
    made = _new_epoch(
        vault,
        conn,
        credential,
        kind,
        epoch,
        secrets.token_bytes(keycrypto.KEY_BYTES),
        _devices(state),
        keyring.trusted_devices(vault),
        report,
    )
    if not made:
        raise ServerRefused(
            "Another laptop started a new key epoch at the same moment. Sync, then try again."
        )
    if kind == LINKAGE:
        _linkage_rotated(vault)  # done by hand: no second epoch at the next sync
    return epoch
