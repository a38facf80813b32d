"""Team keys on this laptop (issue 20): never synced, never exported.

- ``team_keys``: each key epoch this vault received from (or made for) its team server, sealed
  here: clinical keys under the vault's own clinical key, so a user of the same vault file
  without clinical access (an officer) cannot read them; the linkage key under the record key.
- ``team_trusted_devices``: the public keys this laptop has *verified* without trusting the
  server: its own, its inviter's (from the invitation file), those of devices it invited (their
  proof tag checked) and those introduced by a device it already trusted.
- ``team_invitation_proofs``: for each invitation made here, the proof key derived from the
  invitation's secret, and the role and clinical access the invitation was for.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sim_desk.records.model.base import Base, utcnow


class TeamKey(Base):
    __tablename__ = "team_keys"
    __table_args__ = (UniqueConstraint("kind", "epoch"),)
    #: A UUID key, as every row the write path records has.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    epoch: Mapped[int] = mapped_column(Integer)
    #: nonce (12) || AES-256-GCM of the key (see records.clinical_epochs.seal_team_key).
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamTrustedDevice(Base):
    __tablename__ = "team_trusted_devices"
    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    role: Mapped[str] = mapped_column(String(16))
    clinical: Mapped[bool] = mapped_column(Boolean, default=False)
    #: self, inviter, invitee (its proof checked here) or introduced (by ``via``).
    source: Mapped[str] = mapped_column(String(16))
    via: Mapped[uuid.UUID | None] = mapped_column()
    trusted_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamInvitationProof(Base):
    __tablename__ = "team_invitation_proofs"
    invitation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    proof_key: Mapped[bytes] = mapped_column(LargeBinary)
    role: Mapped[str] = mapped_column(String(16))
    clinical: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
