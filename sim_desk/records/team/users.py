"""Team members and their key slots: add, list, remove, change or reset a passphrase.

Adding a clinician (or a clinical lead) wraps the clinical key into their slot, so it needs a
signed-in user who holds that key: a clinical lead, or the recovery key. Removing a user deletes
their slot and deactivates them; rotating the keys (``sim-desk rekey``) then makes any copy of
their old slot useless.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.codes import Role
from sim_desk.records.errors import NotFound, ValidationError, VaultBusy
from sim_desk.records.model import User
from sim_desk.records.team import linkage_holders
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import clean_text
from sim_desk.records.vault.audit import Action
from sim_desk.records.vault.files import (
    KdfParams,
    Slot,
    SlotFile,
    check_new_passphrase,
    check_username,
    make_slot,
    read_slot_file,
    write_slot_file,
)


@dataclass(frozen=True)
class UserView:
    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    clinical_access: bool
    active: bool
    #: Has a key slot here. A colleague who arrived from the team server's users directory
    #: has none: they sign in on their own laptop, never on this one.
    signs_in_here: bool = True


def _view(user: User, slots: set[str] | None = None) -> UserView:
    return UserView(
        user.id,
        user.username,
        user.display_name,
        Role(user.role),
        user.clinical_access,
        user.active,
        slots is None or str(user.id) in slots,
    )


def list_users(vault: UnlockedVault, *, include_removed: bool = False) -> list[UserView]:
    slots = {s.user_id for s in read_slot_file(vault.paths).slots if s.user_id is not None}
    with vault.read() as session:
        query = select(User).order_by(User.display_name)
        if not include_removed:
            query = query.where(User.active)
        return [_view(u, slots) for u in session.execute(query).scalars()]


def _wrap_for(
    vault: UnlockedVault,
    slot_file: SlotFile,
    user: User,
    passphrase: str,
    kdf: KdfParams | None,
) -> Slot:
    record_key, clinical_key = vault.keys_to_wrap(clinical=user.clinical_access)
    return make_slot(
        slot_file.vault_id,
        passphrase,
        kind="user",
        record_key=record_key,
        clinical_key=clinical_key,
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        params=kdf,
        generation=slot_file.generation,
    )


def _current_slots(vault: UnlockedVault) -> SlotFile:
    """The slot file, read inside a write transaction (which serialises every key change)."""
    if vault.paths.keyslots_pending.exists():
        raise VaultBusy(
            "A key rotation is unfinished. Lock the vault and unlock it again (which finishes or"
            " undoes the rotation), then try again."
        )
    return read_slot_file(vault.paths)


def add_user(
    vault: UnlockedVault,
    *,
    username: str,
    display_name: str,
    role: Role | str,
    passphrase: str,
    clinical_lead: bool = False,
    kdf: KdfParams | None = None,
) -> uuid.UUID:
    """Adds a member of staff with their own key slot (team leads only)."""
    vault.require_role(Role.TEAM_LEAD, doing="add users")
    name = check_username(username)
    role = Role.parse(str(role), field="role")  # type: ignore[assignment]
    shown = clean_text(
        display_name, field="display_name", label="Name", max_chars=200, required=True
    )
    check_new_passphrase(passphrase)
    clinical = role == Role.CLINICIAN or (role == Role.TEAM_LEAD and clinical_lead)
    vault.keys_to_wrap(clinical=clinical)  # refuses before any work if the key is missing
    with vault.write() as session:
        slot_file = _current_slots(vault)
        existing = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
        if existing is not None:
            raise ValidationError(
                f"User name: '{name}' is taken (perhaps by a removed user). Choose another.",
                "username",
            )
        user = User(
            username=name,
            display_name=shown or name,
            role=role.value,
            clinical_access=clinical,
            created_by=vault.actor.user_id,
        )
        session.add(user)
        session.flush()
        vault.audit(session, Action.USER_ADDED, "user", user.id, role=role.value, clinical=clinical)
        slot = _wrap_for(vault, slot_file, user, passphrase, kdf)
        # A stale slot of the same name (left by an interrupted add) is replaced, not duplicated.
        slot_file.slots = [s for s in slot_file.slots if s.username != name] + [slot]
        # Slot written before the commit: a crash in between leaves a slot whose user does not
        # exist, which unlock refuses, and which the next add of that name replaces.
        write_slot_file(vault.paths, slot_file)
        return user.id


def remove_user(vault: UnlockedVault, user_id: uuid.UUID) -> None:
    """Deactivates a user and deletes their slot. Follow with a key rotation for a leaver."""
    vault.require_role(Role.TEAM_LEAD, doing="remove users")
    if user_id == vault.actor.user_id:
        raise ValidationError("You cannot remove yourself; ask another team lead.", "user")
    with vault.write() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("That user does not exist or was already removed.")
        user.active = False
        user.removed_at = vault.now()
        vault.audit(session, Action.USER_REMOVED, "user", user.id)
        # A holder of the team's linkage key: a new epoch without them at the next sync.
        linkage_holders.holder_stops(
            vault, session, user.id, lead=Role(user.role) is Role.TEAM_LEAD
        )
        slot_file = _current_slots(vault)
        slot_file.slots = [s for s in slot_file.slots if s.user_id != str(user.id)]
        write_slot_file(vault.paths, slot_file)


def set_passphrase(
    vault: UnlockedVault,
    user_id: uuid.UUID,
    new_passphrase: str,
    *,
    kdf: KdfParams | None = None,
) -> None:
    """Changes your own passphrase, or (team leads) resets someone else's."""
    if user_id != vault.actor.user_id:
        vault.require_role(Role.TEAM_LEAD, doing="reset other people's passphrases")
    check_new_passphrase(new_passphrase)
    with vault.write() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("That user does not exist or was removed.")
        slot_file = _current_slots(vault)
        if not any(s.user_id == str(user.id) for s in slot_file.slots) and _in_a_team(session):
            raise ValidationError(
                f"{user.display_name} signs in on their own laptop (they came from the team"
                " server), so their passphrase is set there: a forgotten one is reset there"
                " with that laptop's recovery key. A passphrase set here would let them sign in"
                " on this laptop instead. Nothing was changed.",
                "user",
            )
        slot = _wrap_for(vault, slot_file, user, new_passphrase, kdf)
        slot_file.slots = [s for s in slot_file.slots if s.user_id != str(user.id)] + [slot]
        vault.audit(
            session,
            Action.PASSPHRASE_CHANGED,
            "user",
            user.id,
            by_self=user_id == vault.actor.user_id,
        )
        write_slot_file(vault.paths, slot_file)


def _in_a_team(session: Session) -> bool:
    """Whether this vault syncs with a team server (the only way a user without a key slot
    arrives: the server's users directory)."""
    from sim_desk.records.sync.outbox import sync_state

    return sync_state(session) is not None


def change_own_passphrase(
    vault: UnlockedVault,
    current_passphrase: str,
    new_passphrase: str,
    *,
    kdf: KdfParams | None = None,
) -> None:
    """Changes the signed-in user's passphrase after checking the current one, so a laptop left
    unlocked for a minute cannot have its owner's passphrase changed by someone else."""
    from sim_desk.records.errors import AuthenticationFailed
    from sim_desk.records.vault.files import unlock_user

    if vault.actor.user_id is None:
        raise ValidationError(
            "Signed in with the recovery key: reset a user's passphrase on the Team page.", "user"
        )
    try:
        unlock_user(vault.paths, vault.actor.username, current_passphrase)
    except AuthenticationFailed:
        raise AuthenticationFailed(
            "Your current passphrase is not right, so it was not changed. Try again."
        ) from None
    set_passphrase(vault, vault.actor.user_id, new_passphrase, kdf=kdf)
