"""What a pull that brings nothing leaves alone (issue 19): most syncs bring nothing, and each
row a transaction touches is a page written and an fsync. So an empty page does not rewrite a
lead's merge proposals when the server lists the same ones, nor stamp the time of the pull,
which the sync's last transaction stamps instead (``standing.record_check_in``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.model import SyncMergeProposal


def carried_anything(answer: Mapping[str, Any]) -> bool:
    """The page held someone removed, a snapshot or a change."""
    return bool(answer.get("removed") or answer.get("snapshots") or answer.get("changes"))


def proposals_differ(session: Session, answer: Mapping[str, Any]) -> bool:
    """The server's open merge proposals are not exactly those kept here."""
    theirs = {
        (str(p["id"]), str(p["person_id"]), str(p["other_person_id"]), str(p["matched_on"]))
        for p in answer.get("merge_proposals") or ()
    }
    held = session.execute(
        select(
            SyncMergeProposal.id,
            SyncMergeProposal.person_id,
            SyncMergeProposal.other_person_id,
            SyncMergeProposal.matched_on,
        )
    ).all()
    return theirs != {(str(a), str(b), str(c), str(d)) for a, b, c, d in held}
