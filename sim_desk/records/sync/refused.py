"""Dealing with a change the team server refused: send it again, or set it aside.

A refused change stays in the outbox (state ``refused``) and in the Team sync window until
somebody deals with it. Records only, no network: the next sync does the sending.

**Sending again keeps the change as it was made** (same change id, same clock). The server
decides a refused change id afresh: its push answers "duplicate" only for ids in
``sim.changes``, which holds accepted changes alone, and keeps a refusal once in
``sim.refused_changes`` whatever is sent again (schema 0002, ``sim._apply_change`` and
``sim.push``). Keeping the clock matters: the change merges field by field where it belongs
in time, so a later edit made on this laptop or another one still wins over it, as it did.

The other refused changes of the same record go with it, in the order they were made: a
record added and then deleted here, both refused, must not reach the server added alone.

**Setting aside** takes a change off the list and the count; the record on this laptop is
not changed, and the server never receives the change (its copy of the refusal stays there
for the team lead). The entry is kept, marked ``set_aside``, so that a later resend after a
server restore (``rebuild``) does not bring it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.errors import NotFound, ValidationError
from sim_desk.records.model import SyncOutboxEntry
from sim_desk.records.unit_of_work import UnlockedVault

#: Audit actions (the change's id, table, record id and refusal code: no values).
SENT_AGAIN = "sync.refused_sent_again"
SET_ASIDE = "sync.refused_set_aside"
#: The outbox state of a refused change somebody has read and set aside.
SET_ASIDE_STATE = "set_aside"


def _refused(session: Session, ids: Sequence[uuid.UUID]) -> list[SyncOutboxEntry]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise ValidationError("Choose one or more refused changes first. Nothing was changed.")
    found = list(
        session.execute(
            select(SyncOutboxEntry).where(
                SyncOutboxEntry.id.in_(wanted), SyncOutboxEntry.state == "refused"
            )
        ).scalars()
    )
    if len(found) != len(wanted):
        raise NotFound(
            "That change is no longer on the list of refused changes (sent again or set aside"
            " already, or its person is no longer on this laptop). Nothing was changed."
        )
    return found


def send_again(vault: UnlockedVault, ids: Sequence[uuid.UUID]) -> int:
    """Puts refused changes back in the queue, with the other refused changes of the same
    records; the next sync sends them. Returns how many changes were queued again. If the
    server refuses one again, it comes back to the list with the reason.

    Raises:
        ValidationError: signed in with the recovery key, or a change someone else made here.
        NotFound: a change is no longer refused.
    """
    me = vault.actor.user_id
    if me is None:
        raise ValidationError(
            "Sign in as yourself to send a change again, not with the recovery key."
        )
    with vault.write() as session:
        chosen = _refused(session, ids)
        if any(entry.author_id != me for entry in chosen):
            raise ValidationError(
                "A change made by another user on this laptop is sent only when they sync: ask"
                " them to sign in and send it again. Nothing was changed."
            )
        rows = {entry.row_id for entry in chosen}
        together = session.execute(
            select(SyncOutboxEntry)
            .where(
                SyncOutboxEntry.row_id.in_(rows),
                SyncOutboxEntry.state == "refused",
                SyncOutboxEntry.author_id == me,
            )
            .order_by(SyncOutboxEntry.seq)
        ).scalars()
        queued = 0
        for entry in together:
            vault.audit(
                session,
                SENT_AGAIN,
                entry.table_name,
                entry.row_id,
                change=str(entry.id),
                code=entry.code,
            )
            entry.state, entry.code = "pending", None
            queued += 1
        return queued


def set_aside(vault: UnlockedVault, ids: Sequence[uuid.UUID]) -> int:
    """Takes refused changes off the list (and the count): the records on this laptop stay as
    they are, and the changes are never sent. Returns how many."""
    with vault.write() as session:
        chosen = _refused(session, ids)
        for entry in chosen:
            vault.audit(
                session,
                SET_ASIDE,
                entry.table_name,
                entry.row_id,
                change=str(entry.id),
                code=entry.code,
            )
            entry.state = SET_ASIDE_STATE
        return len(chosen)


__all__ = ["SENT_AGAIN", "SET_ASIDE", "SET_ASIDE_STATE", "send_again", "set_aside"]
