"""Publishing a single-laptop vault to a new team server, once (issue 20): ``sim-desk server
publish``.

The team lead's laptop has joined the new server (``server init --lead-user-id``, then
``sim-desk join``). Publishing then:

1. asks the server to take this vault (``sim.publish_begin``): refused if the server was
   published from this or another vault already, or holds records that did not come from this
   laptop; otherwise it puts the vault's users on the server with their ids (pairs name their
   officer and clinician by id, and invitations must match), removed users as removed;
2. syncs: the first sync queues every record and every revision this vault holds, parents
   first, and pushes them; a sync cut short is carried on by the next, and rows a first sync
   cut short never queued are queued now;
3. once everything was sent and seen back, tells the server the publish is finished
   (``sim.publish_finish``) and notes it in the vault, so that it is never published again.

Run again after any interruption: each step carries on where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sim_desk.records import sync
from sim_desk.records.codes import Role
from sim_desk.records.sync import publishing
from sim_desk.records.team import device
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver import protocol
from sim_desk.teamserver.errors import NotJoined, ServerError, ServerRefused, ServerUnreachable
from sim_desk.teamserver.sync import SyncReport, sync_now


class PublishRefused(ServerError):
    """The server (or this vault) refuses the publish; nothing was sent."""


class PublishIncomplete(ServerError):
    """The publish stopped before everything was on the server; running it again carries on."""


@dataclass
class PublishReport:
    resumed: bool
    users_added: int
    syncs: list[SyncReport]
    rows_on_server: int
    published_at: datetime
    refused: int

    @property
    def pushed(self) -> int:
        return sum(s.pushed for s in self.syncs)


def _day(moment: Any) -> str:
    if moment is None:
        return "an earlier day"
    when = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    when = when.astimezone(UTC)
    return f"{when.day} {when:%B %Y}"


def _call(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    try:
        row = conn.execute(query, params).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        raise ServerRefused(
            "The team server refused: only a team lead's laptop can publish the team's vault"
            " (or this laptop was revoked)."
        ) from None
    except psycopg.errors.UndefinedFunction:
        raise ServerError(
            "The team server's schema is older than this SIM Desk: ask the trust's IT team to"
            " run 'sim-desk server upgrade', then publish again. Nothing was sent."
        ) from None
    except psycopg.errors.InvalidParameterValue:
        raise ServerError("The team server refused the request as malformed.") from None
    except psycopg.OperationalError:
        raise ServerUnreachable(
            "The connection to the team server was lost. Run 'sim-desk server publish' again:"
            " it carries on where it stopped."
        ) from None
    return None if row is None else row[0]


def _refusal(answer: dict[str, Any], where: str) -> str:
    reason = answer.get("reason")
    nothing = "Nothing was sent and nothing on this laptop changed."
    if reason == "published":
        return (
            f"This vault was published to {where} already ({_day(answer.get('published_at'))})."
            f" A vault is published once. {nothing} Its laptops keep in step with"
            " 'sim-desk sync'."
        )
    if reason == "another_vault":
        return (
            f"{where} was published from another vault ({_day(answer.get('published_at'))}):"
            f" a team server holds one team's records. {nothing} Ask the trust's IT team for a"
            " new, empty team database for this vault, or join that team with an invitation"
            " from its lead."
        )
    if reason == "records":
        return (
            f"{where} already holds a team's records that did not come from this vault."
            f" {nothing} Ask the trust's IT team for a new, empty team database for this vault."
        )
    if reason in ("user_differs", "user_clash"):
        return (
            f"The user name {answer.get('username')} is on {where} as someone else (another id"
            f" or role) than in this vault. {nothing} Check the user in this vault ('sim-desk"
            " users list --ids'); the trust's IT team can set the server up again with the"
            " team lead's id from this vault."
        )
    return f"The team server refused to take this vault. {nothing}"


def publish(vault: UnlockedVault, *, page_size: int = 1000) -> PublishReport:
    """Publishes the signed-in team lead's vault to the team server this laptop joined."""
    vault.require_role(Role.TEAM_LEAD, doing="publish the team's vault")
    credential = device.device_credential(vault)
    if credential is None or not credential.is_active:
        raise NotJoined(
            "This laptop has not joined the team server yet. Run 'sim-desk join' with the"
            " invitation the trust's IT team gave you, then publish."
        )
    where = f"the team server {credential.host}/{credential.database}"
    done = publishing.published(vault)
    if done is not None:
        raise PublishRefused(
            f"This vault was published on {_day(done.at)} to {done.to}. A vault is published"
            " once: nothing was sent. Its laptops keep in step with 'sim-desk sync'."
        )
    users = publishing.team_users(vault)
    with protocol.device_connection(credential) as conn:
        me = protocol.hello(conn)["user"]
        if not me.get("clinical") and publishing.holds_clinical_notes(vault):
            # The server takes clinical ciphertext from clinical laptops only: the contacts
            # would be refused, and the notes left out of the team's records.
            raise PublishRefused(
                "This vault holds clinical notes, which only a clinical lead's laptop can send"
                " to the team server, and you joined it as a team lead without clinical access."
                " Nothing was sent. A clinical lead publishes this vault (the trust's IT team"
                " sets the server up with --clinical-lead for them)."
            )
        answer = dict(
            _call(
                conn,
                "SELECT sim.publish_begin(%s, %s)",
                (vault.vault_id, Jsonb(users)),
            )
        )
    if answer.get("status") == "refused":
        if answer.get("reason") == "published":
            # This vault's publish finished on the server (from here, or from a copy of it,
            # or before a crash kept this laptop from noting it): note it here too.
            publishing.mark_published(vault, where, credential.team_id, 0)
        raise PublishRefused(_refusal(answer, where))
    publishing.note_started(vault, credential.team_id)
    syncs = [sync_now(vault, page_size=page_size)]
    # A first sync cut short after it began never queued this vault's records: queue them now
    # (only those the server has not seen), and send them.
    if sync.queue_unsynced_records(vault):
        syncs.append(sync_now(vault, page_size=page_size))
    status = sync.status(vault)
    if status.waiting or status.sent_not_seen_back:
        raise PublishIncomplete(
            f"The publish has not finished: {status.waiting} change(s) still to send and"
            f" {status.sent_not_seen_back} not yet confirmed by the server. Run 'sim-desk"
            " server publish' again: it carries on where it stopped."
        )
    with protocol.device_connection(credential) as conn:
        finish = dict(_call(conn, "SELECT sim.publish_finish(%s)", (vault.vault_id,)))
    if not finish.get("finished"):
        raise PublishIncomplete(
            "The team server did not record the publish as finished. Run 'sim-desk server"
            " publish' again."
        )
    rows = int(finish.get("rows") or 0)
    marked = publishing.mark_published(vault, where, credential.team_id, rows)
    return PublishReport(
        resumed=answer.get("status") == "resumed",
        users_added=int(answer.get("users_added") or 0),
        syncs=syncs,
        rows_on_server=rows,
        published_at=marked.at,
        refused=status.refused,
    )
