"""The team: the vault itself, its users, pairs, linkage grants, team-server devices."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sim_desk.records.model.base import Base, Tracked


class VaultMeta(Base, Tracked):
    """One row: which vault this database belongs to, checked against the key-slot file."""

    __tablename__ = "vault_meta"
    vault_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    team_name: Mapped[str] = mapped_column(String(200))
    #: Secret key (32 bytes) for longitudinal-linkage pseudonyms in anonymised exports; made
    #: when a team lead first grants linkage. It never leaves the (encrypted) database.
    linkage_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: When this vault was published to a team server, and which (it is published once).
    published_at: Mapped[datetime | None] = mapped_column()
    published_to: Mapped[str | None] = mapped_column(String(400))
    #: A linkage grant was revoked here: the next sync starts a new linkage epoch without the
    #: revoked user (teamserver/keys.py), then clears this.
    linkage_rotation_due: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Every note written here under the vault's own key has been re-sealed under the team's
    #: epoch (records/team/own_notes.py); a note sealed under the own key later clears it.
    own_notes_resealed: Mapped[bool] = mapped_column(Boolean, default=False)


class User(Base, Tracked):
    """A member of staff. Their keys live in the key-slot file, never here."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    clinical_access: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    removed_at: Mapped[datetime | None] = mapped_column()


class LinkageGrant(Base, Tracked):
    """A team lead's permission for one user to pseudonymise exports with the linkage key.

    ``created_by`` is the lead who granted it; a revoked grant is kept, with when and by whom.
    """

    __tablename__ = "linkage_grants"
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[uuid.UUID | None] = mapped_column()


class Pair(Base, Tracked):
    """A police officer and a clinician who mentor a caseload together."""

    __tablename__ = "pairs"
    name: Mapped[str] = mapped_column(String(200))
    officer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    clinician_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TeamServerDevice(Base, Tracked):
    """This laptop's device credential for a team server, kept inside the encrypted vault.

    One per local user. ``secret`` is the device's random login credential (the server holds
    only its SCRAM verifier); ``private_key`` is the device's X25519 key, to which clinical
    keys are wrapped. ``state`` is ``pending`` from just before the server is asked to create
    the device until it has answered, so a join cut short can be carried on, not repeated.
    """

    __tablename__ = "team_server_devices"
    local_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    team_id: Mapped[uuid.UUID] = mapped_column()
    team_name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    database: Mapped[str] = mapped_column(String(63))
    ca_pem: Mapped[str] = mapped_column(Text)
    device_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    login_role: Mapped[str] = mapped_column(String(63))
    server_user_id: Mapped[uuid.UUID] = mapped_column()
    server_username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    secret: Mapped[str] = mapped_column(String(100))
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10))
    joined_at: Mapped[datetime | None] = mapped_column()
