"""A team lead deals with a merge proposal (the same person created twice): the server marks
it dealt with, then this laptop's copy of the list forgets it."""

from __future__ import annotations

import uuid

from sim_desk.records.sync import proposals
from sim_desk.records.team import device
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver import protocol


def resolve_merge_proposal(vault: UnlockedVault, proposal_id: uuid.UUID) -> bool:
    """Marks the proposal dealt with on the team server (team leads). Returns False if it was
    dealt with already (on another laptop); it leaves this laptop's list either way.

    Raises:
        PermissionDenied: not a team lead.
        NotJoined, ServerUnreachable, ServerRefused: as any call to the server.
    """
    vault.require_role(*proposals.LEADS, doing="deal with people created twice")
    with protocol.device_connection(device.device_credential(vault)) as conn:
        resolved = protocol.resolve_merge_proposal(conn, proposal_id)
    proposals.forget_merge_proposal(vault, proposal_id)
    return resolved
