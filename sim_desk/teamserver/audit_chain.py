"""This laptop's audit chain, pushed to the team server and verified there (issue 20).

The audit log's files cannot show that an older copy of them was put back; the server can. At
every sync, before any change is pushed, the laptop sends the entries the server has not yet
taken from it (from its first entry, at its first sync), as the canonical bytes it hashed with
the hash it computed. The server recomputes each link from the bytes and its own copy of the
previous hash, keeps the entries and this device's head, and takes a push only if it continues
exactly from that head: the laptop proves it still holds the head by sending its own hash at
the head's seq (the server never tells it). A laptop put back from an older copy, or a second
copy of one laptop's vault, no longer holds the head: the server refuses it and flags the
device for the team lead, and this laptop stops syncing (its replica and changes may be stale),
says why in words and records it in its own audit log. A laptop restored from a backup on
purpose joins as a new device.

Each batch is one server transaction: ``sim.audit_head()`` locks this device's head until
``sim.push_audit(...)`` commits, so two syncs of the same laptop at once push one after the
other, and a kill at any point leaves the server's head where a batch left it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import select

from sim_desk.records.model import AuditEvent
from sim_desk.records.sync.outbox import sync_state
from sim_desk.records.team import device
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.audit.links import ChainSlice, links_after
from sim_desk.teamserver.errors import ServerError, ServerRefused, ServerUnreachable

#: Entries sent in one call (the server takes at most 5000; each is under 1 KB).
BATCH = 2000
#: What this laptop's own audit log records when the server refuses its chain.
REFUSED_ACTION = "audit.refused_by_server"


class AuditChainRefused(ServerError):
    """The team server refused this laptop's audit chain: it was rolled back to an older copy,
    or an entry was changed. The laptop no longer syncs; the message says what to do."""

    def __init__(self, message: str, *, kind: str, server_seq: int, chain_end: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.server_seq = server_seq
        self.chain_end = chain_end


@dataclass(frozen=True)
class AuditPushed:
    #: Entries the server took at this sync.
    entries: int
    #: Where this device's chain ends on the server now.
    server_seq: int
    batches: int


def push_audit_chain(vault: UnlockedVault, conn: psycopg.Connection[Any]) -> AuditPushed:
    """Sends the server every audit entry of this laptop it has not yet taken, in batches.

    Raises:
        AuditChainRefused: the server refused the chain (rolled back or changed entries); the
            refusal is recorded in this laptop's audit log and kept as the sync's last error.
        ServerUnreachable, ServerRefused, ServerError: as any sync step.
    """
    sent = batches = 0
    while True:
        head, chain, answer = _one_batch(vault, conn)
        batches += 1
        if answer.get("status") != "done":
            raise _refused(vault, head, chain, answer)
        sent += int(answer.get("accepted") or 0)
        if len(chain.links) < BATCH:
            return AuditPushed(sent, int(answer["seq"]), batches)


def _one_batch(
    vault: UnlockedVault, conn: psycopg.Connection[Any]
) -> tuple[dict[str, Any], ChainSlice, dict[str, Any]]:
    try:
        with conn.transaction():
            head = dict(_call(conn, "SELECT sim.audit_head()"))
            if head.get("refused"):
                # Flagged before: nothing more is taken from this device.
                return head, ChainSlice(0, None, ()), _as_answer(head)
            server_seq = int(head["seq"])
            # Read with the server's head locked: a second sync of this laptop waits here, and
            # then finds its chain at least as long as what this one sent.
            with vault.read() as session:
                chain = links_after(session, server_seq, BATCH)
            answer = dict(
                _call(
                    conn,
                    "SELECT sim.push_audit(%s, %s, %s, %s)",
                    (
                        server_seq,
                        chain.hash_at_start,
                        chain.end,
                        Jsonb(
                            [
                                {
                                    "seq": link.seq,
                                    "content": base64.b64encode(link.content).decode("ascii"),
                                    "hash": link.hash,
                                }
                                for link in chain.links
                            ]
                        ),
                    ),
                )
            )
            return head, chain, answer
    except psycopg.OperationalError:
        raise ServerUnreachable(
            "The connection to the team server was lost. Nothing half-done was kept; try again."
        ) from None


def _as_answer(head: dict[str, Any]) -> dict[str, Any]:
    refused = head["refused"]
    return {
        "status": "refused",
        "code": refused.get("kind"),
        "seq": head.get("seq"),
        "at_seq": refused.get("seq"),
        "refused": refused,
    }


def _call(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    try:
        row = conn.execute(query, params).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        raise ServerRefused(
            "The team server refused: this laptop may not do that (it may have been revoked)."
        ) from None
    except psycopg.errors.InvalidParameterValue:
        raise ServerError("The team server refused this laptop's audit log as malformed.") from None
    except (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable):
        raise ServerError(
            "The team server took too long to take this laptop's audit log; nothing half-done"
            " was kept. Try again later."
        ) from None
    assert row is not None
    return row[0]


def _refused(
    vault: UnlockedVault, head: dict[str, Any], chain: ChainSlice, answer: dict[str, Any]
) -> ServerError:
    code = str(answer.get("code"))
    if code == "invalid":
        return ServerError(
            f"The team server could not read entry {answer.get('at_seq')} of this laptop's audit"
            " log, so this laptop did not sync. Nothing was lost: your changes wait on this"
            " laptop. Tell your team lead; this needs SIM Desk's support team."
        )
    refused = answer.get("refused") or {}
    server_seq = int(refused.get("seq") or answer.get("at_seq") or 0)
    chain_end = int(refused.get("chain_end") or 0)
    if code == "rolled_back":
        message = (
            "This laptop's vault is older than what it has already sent the team server: the"
            f" server holds this laptop's audit log up to entry {server_seq}, and the log here"
            + (
                f" ends at entry {chain_end}."
                if chain_end < server_seq
                else f" differs from it at entry {server_seq}."
            )
            + " The vault was put back from an older copy (or copied from another laptop), so its"
            " records may be stale. So that nothing stale reaches the team, this laptop no longer"
            " syncs. Nothing here was deleted and you can keep working on this laptop. Tell your"
            " team lead. If you restored this laptop from a backup on purpose, ask your team lead"
            " for a new invitation and join with it in a new vault: it joins the team server as a"
            " new device and receives the team's records afresh (this vault cannot join again)."
        )
    else:
        message = (
            f"The team server refused this laptop's audit log: entry {server_seq} was changed or"
            " removed after it was written, so the log cannot be trusted. This laptop no longer"
            " syncs. Nothing here was deleted and you can keep working on this laptop. Tell your"
            " team lead, and run 'sim-desk verify' to see what the log itself shows."
        )
    _record_refusal(vault, code, server_seq, chain_end, message)
    return AuditChainRefused(message, kind=code, server_seq=server_seq, chain_end=chain_end)


def _record_refusal(
    vault: UnlockedVault, kind: str, server_seq: int, chain_end: int, message: str
) -> None:
    """Records the refusal in this laptop's own audit log (once for each finding, however often
    the laptop tries to sync) and keeps the message as the sync's last error."""
    credential = device.device_credential(vault)
    device_id = credential.device_id if credential is not None else None
    with vault.write() as session:
        last = session.execute(
            select(AuditEvent.detail)
            .where(AuditEvent.action == REFUSED_ACTION)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).scalar_one_or_none()
        finding = {"kind": kind, "server_seq": server_seq}
        if last is None or {k: last.get(k) for k in finding} != finding:
            vault.audit(
                session,
                REFUSED_ACTION,
                "device",
                device_id,
                kind=kind,
                server_seq=server_seq,
                chain_end=chain_end,
            )
        state = sync_state(session)
        if state is not None:
            state.last_error = message
