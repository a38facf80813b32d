"""A team lead's merge proposals: the same person created on two laptops (one NHS number), as
the server found them at the last sync. Records only, no Qt; the server is told in
``sim_desk.teamserver.merging``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select

from sim_desk.records.codes import Role
from sim_desk.records.model import SyncMergeProposal
from sim_desk.records.sync.review import field_words, names_of
from sim_desk.records.unit_of_work import UnlockedVault

#: What two records of one person were found to share.
MATCHED_ON_WORDS = {"nhs_number": "NHS number", "police_reference": "police reference"}
#: Who deals with merge proposals.
LEADS = (Role.TEAM_LEAD,)


@dataclass(frozen=True)
class MergeProposalView:
    """The same person created twice (one NHS number), for a team lead to deal with."""

    id: uuid.UUID
    person_id: uuid.UUID
    person: str
    other_person_id: uuid.UUID
    other_person: str
    matched_on: str


def merge_proposals(vault: UnlockedVault) -> list[MergeProposalView]:
    """The server's open merge proposals as of the last sync (team leads only)."""
    vault.require_role(Role.TEAM_LEAD, doing="deal with people created twice")
    with vault.read() as session:
        rows = list(session.execute(select(SyncMergeProposal)).scalars())
        names = names_of(
            vault, session, {r.person_id for r in rows} | {r.other_person_id for r in rows}
        )
        return [
            MergeProposalView(
                r.id,
                r.person_id,
                names.get(r.person_id, "(not on this laptop)"),
                r.other_person_id,
                names.get(r.other_person_id, "(not on this laptop)"),
                MATCHED_ON_WORDS.get(r.matched_on, field_words(r.matched_on)),
            )
            for r in rows
        ]


def forget_merge_proposal(vault: UnlockedVault, proposal_id: uuid.UUID) -> None:
    """After the server has marked it dealt with: it leaves this laptop's list at once (the
    next sync would drop it too)."""
    vault.require_role(Role.TEAM_LEAD, doing="deal with people created twice")
    with vault.write() as session:
        session.execute(delete(SyncMergeProposal).where(SyncMergeProposal.id == proposal_id))
        vault.audit(session, "sync.merge_proposal_resolved", "merge_proposal", proposal_id)


__all__ = [
    "LEADS",
    "MATCHED_ON_WORDS",
    "MergeProposalView",
    "forget_merge_proposal",
    "merge_proposals",
]
