"""Who holds the team's linkage key, and what happens when one of them stops (issue 20).

On a team server the linkage key for analysts' stable pseudonyms is wrapped to the team leads
and to the analysts a lead's laptop granted linkage (teamserver/keys.py). Whoever held it keeps
the epochs they were given; what can be done is to start a new epoch without them, so that
pseudonyms made from then on are ones they cannot compute. This module marks the vault
(``vault_meta.linkage_rotation_due``, in the caller's transaction) whenever a holder stops: a
grant withdrawn, or a holder removed from the vault or the team server, once the key has been
shared as a team epoch. The lead's next sync starts the epoch and clears the mark.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.clinical_epochs import LINKAGE
from sim_desk.records.model import LinkageGrant, TeamKey, VaultMeta
from sim_desk.records.unit_of_work import UnlockedVault

#: Audit action (the user's id only).
LINKAGE_REVOKED = "linkage.revoked"


def live_grant(session: Session, user_id: uuid.UUID | None) -> LinkageGrant | None:
    if user_id is None:
        return None
    return session.execute(
        select(LinkageGrant).where(
            LinkageGrant.user_id == user_id, LinkageGrant.revoked_at.is_(None)
        )
    ).scalar_one_or_none()


def holder_stops(
    vault: UnlockedVault, session: Session, user_id: uuid.UUID, *, lead: bool = False
) -> bool:
    """``user_id`` no longer holds the linkage key: their grant (if any) is withdrawn and a new
    linkage epoch is due. A team lead (``lead``) always held it. Returns whether one is due."""
    grant = live_grant(session, user_id)
    if grant is not None:
        grant.revoked_at = vault.now()
        grant.revoked_by = vault.actor.user_id
        vault.audit(session, LINKAGE_REVOKED, "user", user_id)
    if grant is None and not lead:
        return False
    if session.execute(select(TeamKey.id).where(TeamKey.kind == LINKAGE).limit(1)).first() is None:
        # No team epoch: the key never left this vault (a laptop on its own), and a new one
        # would only break the pseudonyms' continuity when the vault is published.
        return False
    session.execute(select(VaultMeta)).scalar_one().linkage_rotation_due = True
    return True


def holder_left(vault: UnlockedVault, user_id: uuid.UUID, *, role: str) -> bool:
    """A user removed from the team server (on a lead's laptop): as :func:`holder_stops`, in a
    transaction of its own. ``role`` is the role the server knew them by."""
    with vault.write() as session:
        return holder_stops(vault, session, user_id, lead=role == "team_lead")
