"""The team's users as the team server lists them, brought into this laptop's ``users`` table.

Pairs name their officer and clinician by user id, and records name who wrote them. A laptop
that joined with a fresh vault of its own knows only its own user, so rows naming the others
would be held back at every pull. The team server's directory fills the table in: users who
arrive this way have no key slot here, so they cannot sign in on this laptop (that is right:
it is not their laptop). A user name already here under another id is a clash to sort out,
never overwritten; a user removed on the server is marked removed here, never deleted (the
history names them).

The teamserver package reads the directory; this module applies it (it knows no psycopg).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sim_desk.records.codes import Role
from sim_desk.records.model import Pair, User
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.files import read_slot_file


@dataclass(frozen=True)
class DirectoryUser:
    """One user as the team server lists them."""

    id: uuid.UUID
    username: str
    display_name: str | None
    role: str
    clinical: bool
    active: bool
    removed_at: datetime | None = None


@dataclass
class DirectoryUpdate:
    """What bringing the users table up to date changed, and what it could not."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    #: Plain-words problems for the sync report (user-name clashes, unknown roles).
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.removed


def can_sign_in_here(vault: UnlockedVault) -> set[uuid.UUID]:
    """Users with a key slot in this vault: the others came from the team's directory and
    cannot sign in on this laptop (lists of users say so)."""
    return {
        uuid.UUID(slot.user_id)
        for slot in read_slot_file(vault.paths).slots
        if slot.user_id is not None
    }


def bring_users_up_to_date(
    vault: UnlockedVault, directory: Iterable[DirectoryUser]
) -> DirectoryUpdate:
    """Adds the team's users this laptop does not know, updates the names and roles of those
    it knows only from the directory, and marks removed those the server removed.

    Users with a key slot here keep the role and clinical access their slot gives them (the
    slot, not the directory, decides what they can open); the signed-in user is never marked
    removed by this (a revoked laptop is dealt with by the leavers step of sync). Nothing is
    written when nothing differs (the usual sync).
    """
    entries = list(directory)
    if not entries:
        return DirectoryUpdate()
    can_sign_in = can_sign_in_here(vault)
    with vault.read() as session:
        looked = _apply(vault, session, entries, can_sign_in, writing=False)
    if not looked.changed:
        return looked
    with vault.write() as session:
        return _apply(vault, session, entries, can_sign_in, writing=True)


def _apply(
    vault: UnlockedVault,
    session: Session,
    entries: list[DirectoryUser],
    can_sign_in: set[uuid.UUID],
    *,
    writing: bool,
) -> DirectoryUpdate:
    """Compares the directory with the users table; ``writing``, also changes it."""
    update = DirectoryUpdate()
    known = {u.id: u for u in session.execute(select(User)).scalars()}
    by_name = {u.username: u for u in known.values()}
    for entry in entries:
        try:
            role = Role(entry.role)
        except ValueError:
            update.problems.append(
                f"The team server lists the user {entry.username} with a role this version"
                " of SIM Desk does not know; they were not added here. Update SIM Desk."
            )
            continue
        shown = (entry.display_name or entry.username).strip()[:200] or entry.username
        mine = known.get(entry.id)
        if mine is None:
            if entry.username in by_name:
                update.problems.append(
                    f"The team server has a user called {entry.username}, and this laptop"
                    " has a different user of that name. Records the server names them in"
                    " are kept aside here until it is sorted out: ask your team lead to"
                    " check the user names on the Team page. Nothing was overwritten."
                )
                continue
            update.added += 1
            if writing:
                _add(vault, session, entry, role, shown)
            continue
        if mine.username != entry.username:
            update.problems.append(
                f"The team server calls the user {mine.username} of this laptop"
                f" {entry.username}. Their name here was left as it is; ask your team lead"
                " which is right."
            )
        changes: dict[str, object] = {}
        if mine.id not in can_sign_in:
            if entry.display_name:  # a server with no name for them keeps the one known here
                changes["display_name"] = shown
            changes.update(role=role.value, clinical_access=entry.clinical)
        changes = {k: v for k, v in changes.items() if getattr(mine, k) != v}
        if not entry.active and mine.active and mine.id != vault.actor.user_id:
            update.removed += 1
            if writing:
                mine.active = False
                mine.removed_at = entry.removed_at or vault.now()
                vault.audit(session, Action.USER_REMOVED, "user", mine.id, source="team_server")
        elif changes:
            update.updated += 1
        if writing:
            for name, value in changes.items():
                setattr(mine, name, value)
    return update


def _add(
    vault: UnlockedVault, session: Session, entry: DirectoryUser, role: Role, shown: str
) -> None:
    user = User(
        id=entry.id,
        username=entry.username,
        display_name=shown,
        role=role.value,
        clinical_access=entry.clinical,
        active=entry.active,
        removed_at=None if entry.active else (entry.removed_at or vault.now()),
        created_by=vault.actor.user_id,
    )
    session.add(user)
    session.flush()
    vault.audit(
        session,
        Action.USER_ADDED,
        "user",
        user.id,
        role=role.value,
        clinical=entry.clinical,
        source="team_server",
    )


def refresh_signed_in_pairs(vault: UnlockedVault) -> bool:
    """Works out again which pairs the signed-in user is in (a sync may have brought their
    pair, or moved them to another), so their caseload is right without signing in again.
    True if it changed."""
    user_id = vault.actor.user_id
    if user_id is None:
        return False
    with vault.read() as session:
        pair_ids = frozenset(
            session.execute(
                select(Pair.id).where(
                    Pair.active, or_(Pair.officer_id == user_id, Pair.clinician_id == user_id)
                )
            ).scalars()
        )
    if pair_ids == vault.actor.pair_ids:
        return False
    vault.actor = dataclasses.replace(vault.actor, pair_ids=pair_ids)
    return True
