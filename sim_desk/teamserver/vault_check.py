"""Publishing once, with no side door (issue 20): a vault's records enter a team only by its
publish, or from the vault it was published from.

``sim-desk server publish`` refuses a second vault, but a lead with another vault full of
records could join the team and run a plain sync: a first sync sends every record the server
lacks. So a laptop tells the server which vault it syncs when it joins (:func:`note_vault`),
and at its first sync, before it pulls or pushes anything, how many records it would send
(:func:`check_first_sync`). The server decides (``sim.check_vault``, schema 0009) and refuses,
for good, a vault that is not the team's and holds records the server lacks; its push then
takes nothing from that laptop. Nothing here is changed by a refusal.
"""

from __future__ import annotations

from typing import Any

import psycopg

from sim_desk.records.codes import Role
from sim_desk.records.sync import publishing
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver.errors import ServerRefused


class SecondVaultRefused(ServerRefused):
    """This vault is not the team's and holds records the server lacks: nothing was sent."""


def _check(conn: psycopg.Connection[Any], vault: UnlockedVault, unsent: int | None) -> Any:
    try:
        with conn.transaction():
            row = conn.execute(
                "SELECT sim.check_vault(%s, %s)", (vault.vault_id, unsent)
            ).fetchone()
    except psycopg.errors.UndefinedFunction:
        return None  # a server before schema 0009 does not check (its guide says to upgrade)
    assert row is not None
    return row[0]


def note_vault(vault: UnlockedVault, conn: psycopg.Connection[Any]) -> None:
    """Tells the server which vault this newly joined laptop syncs."""
    _check(conn, vault, None)


def check_first_sync(vault: UnlockedVault, conn: psycopg.Connection[Any]) -> None:
    """Before a first sync sends anything: may this vault's records come into the team?

    Raises:
        SecondVaultRefused: the server refused them; nothing was sent or changed.
    """
    if not publishing.before_first_sync(vault):
        return
    # An analyst's laptop sends no records (the server takes none from it): a copy's are
    # cleared at its first sync instead (standing.clear_analyst_copy).
    analyst = vault.actor.role is Role.ANALYST
    unsent = 0 if analyst else publishing.records_to_send(vault)
    answer = _check(conn, vault, unsent)
    if answer is None or answer.get("status") != "refused":
        return
    held = f"holds {unsent} records that are not on the team server, and it " if unsent else ""
    raise SecondVaultRefused(
        f"This laptop's vault {held}is not the vault this team was published from, so the team"
        " server will not take its records (a team is published from one vault, once)."
        " Nothing was sent, and nothing in this vault was changed. To work in this team, join"
        " it with a new vault, using a new invitation from your team lead: run 'sim-desk join"
        " FILE --vault NEW-FILE' (a vault that does not exist yet is made for you), or choose"
        " 'Join my team' where SIM Desk starts with no vault. Keep this vault as it is; to"
        " bring its records into a team, ask the trust's IT team."
    )
