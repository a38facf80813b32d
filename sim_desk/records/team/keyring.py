"""This laptop's side of the team's keys (issue 20): what it trusts and what it holds.

Use cases over the vault's ``team_keys``, ``team_trusted_devices`` and
``team_invitation_proofs`` (records/model/keys.py); the network side is teamserver/keys.py.
Every write goes through ``vault.write()`` and is audited by ids and epochs only: never a key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sim_desk.records import clinical_epochs
from sim_desk.records.clinical_epochs import CLINICAL, LINKAGE
from sim_desk.records.errors import PermissionDenied
from sim_desk.records.model import TeamInvitationProof, TeamKey, TeamTrustedDevice, VaultMeta
from sim_desk.records.team.keycrypto import proof_key
from sim_desk.records.unit_of_work import UnlockedVault

#: Audit actions (ids and epochs only).
INVITATION_PROOF_KEPT = "team_keys.proof_kept"
DEVICE_TRUSTED = "team_keys.device_trusted"
KEY_RECEIVED = "team_keys.key_received"


@dataclass(frozen=True)
class Trusted:
    device_id: uuid.UUID
    public_key: bytes
    role: str
    clinical: bool
    source: str
    via: uuid.UUID | None = None

    @property
    def direct(self) -> bool:
        """Verified here with a secret of an invitation, not through another device."""
        return self.source in ("self", "inviter", "invitee")


def remember_invitation(
    vault: UnlockedVault, invitation_id: uuid.UUID, secret: str, role: str, clinical: bool
) -> None:
    """Keeps the proof key of an invitation made on this laptop (not the secret itself), so
    that the device joining with it can be checked to have sent its own public key."""
    with vault.write() as session:
        if session.get(TeamInvitationProof, invitation_id) is not None:
            return
        session.add(
            TeamInvitationProof(
                invitation_id=invitation_id,
                proof_key=proof_key(secret),
                role=role,
                clinical=clinical,
            )
        )
        vault.audit(session, INVITATION_PROOF_KEPT, "invitation", invitation_id)


def invitation_proofs(vault: UnlockedVault) -> dict[uuid.UUID, TeamInvitationProof]:
    with vault.read() as session:
        rows = session.execute(select(TeamInvitationProof)).scalars().all()
        session.expunge_all()
        return {row.invitation_id: row for row in rows}


def trusted_devices(vault: UnlockedVault) -> dict[uuid.UUID, Trusted]:
    with vault.read() as session:
        return {
            row.device_id: Trusted(
                row.device_id, row.public_key, row.role, row.clinical, row.source, row.via
            )
            for row in session.execute(select(TeamTrustedDevice)).scalars()
        }


def trust_devices(vault: UnlockedVault, found: list[Trusted]) -> int:
    """Records public keys verified by this laptop. A device already trusted keeps the key it
    was first trusted with (a later, different key is never taken). Returns how many are new."""
    added = 0
    with vault.write() as session:
        for item in found:
            if session.get(TeamTrustedDevice, item.device_id) is not None:
                continue
            session.add(
                TeamTrustedDevice(
                    device_id=item.device_id,
                    public_key=item.public_key,
                    role=item.role,
                    clinical=item.clinical,
                    source=item.source,
                    via=item.via,
                )
            )
            vault.audit(
                session, DEVICE_TRUSTED, "team_server_device", item.device_id, source=item.source
            )
            added += 1
    return added


def _sealing_key(vault: UnlockedVault, kind: str) -> bytes:
    if kind == CLINICAL:
        if not vault.has_clinical_key:
            raise PermissionDenied(
                "Only clinicians and clinical leads can hold the team's clinical key."
            )
        return vault.keys_to_wrap(clinical=True)[1] or b""
    return vault.record_key


def _key_row(session: Session, kind: str, epoch: int) -> TeamKey | None:
    return session.execute(
        select(TeamKey).where(TeamKey.kind == kind, TeamKey.epoch == epoch)
    ).scalar_one_or_none()


def store_team_key(vault: UnlockedVault, kind: str, epoch: int, key: bytes, current: bool) -> None:
    """Keeps one key epoch of the team, sealed (clinical: under the vault's clinical key).

    ``current`` makes it the epoch new notes use (the highest current one wins). A linkage key
    made current also becomes the vault's linkage key for exports' stable pseudonyms."""
    sealing = _sealing_key(vault, kind)
    with vault.write() as session:
        row = _key_row(session, kind, epoch)
        if row is None:
            session.add(
                TeamKey(
                    kind=kind,
                    epoch=epoch,
                    sealed=clinical_epochs.seal_team_key(sealing, kind, epoch, key),
                    current=False,
                )
            )
            vault.audit(session, KEY_RECEIVED, "team_key", None, kind=kind, epoch=epoch)
        session.flush()
        if current:
            highest = session.execute(
                select(TeamKey.epoch)
                .where(TeamKey.kind == kind, TeamKey.current.is_(True))
                .order_by(TeamKey.epoch.desc())
                .limit(1)
            ).scalar_one_or_none()
            if highest is None or highest <= epoch:
                session.execute(  # only the flags that change: most syncs change none
                    update(TeamKey)
                    .where(
                        TeamKey.kind == kind,
                        TeamKey.current.is_distinct_from(TeamKey.epoch == epoch),
                    )
                    .values(current=TeamKey.epoch == epoch)
                )
                if kind == LINKAGE:
                    meta = session.execute(select(VaultMeta)).scalar_one()
                    meta.linkage_key = key
    vault.forget_clinical_keyring()


def team_keys(vault: UnlockedVault, kind: str) -> tuple[dict[int, bytes], int | None]:
    """The epochs of ``kind`` held here (opened) and the current one. Clinical keys need a
    sign-in with clinical access: anyone else gets none."""
    if kind == CLINICAL and not vault.has_clinical_key:
        return {}, None
    sealing = _sealing_key(vault, kind)
    keys: dict[int, bytes] = {}
    current = None
    with vault.read() as session:
        for row in session.execute(select(TeamKey).where(TeamKey.kind == kind)).scalars():
            key = clinical_epochs.open_team_key(sealing, kind, row.epoch, row.sealed)
            if key is not None:
                keys[row.epoch] = key
                if row.current:
                    current = row.epoch
    return keys, current


def forget_team_key(vault: UnlockedVault, kind: str, epoch: int) -> None:
    """Drops an epoch made here that the server did not take (another laptop's came first)."""
    with vault.write() as session:
        row = _key_row(session, kind, epoch)
        if row is not None and not row.current:
            session.delete(row)
    vault.forget_clinical_keyring()


def team_linkage_key(vault: UnlockedVault) -> bytes | None:
    """The current epoch of the team's linkage key held here, if any. A lead's laptop wraps it
    only to leads and to the analysts it granted linkage, so holding it is the permission to
    make linked pseudonyms, the same on every laptop of the team."""
    keys, current = team_keys(vault, LINKAGE)
    return None if current is None else keys[current]
