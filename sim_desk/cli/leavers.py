"""``sim-desk server set-expiry`` and ``server revoked``: leavers and lost laptops (issue 20).

Added to ``sim-desk server`` by ``cli.server.add_commands``, which hands over its option groups
and its administrator login so that these commands take the same options as the others.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sim_desk.cli.common import EXIT_OK, UsageError, open_vault


def _connected(args: argparse.Namespace, work: Callable[[Any], None]) -> None:
    """Runs ``work`` on a connection as the administrator, or as the lead's own laptop."""
    from sim_desk.records.team import device
    from sim_desk.teamserver import protocol

    if args.admin_user:
        with args.admin_login(args).connect(autocommit=True) as conn:
            work(conn)
        return
    if not args.user:
        raise UsageError("Sign in with --user NAME (a team lead), or use --admin-user.")
    with open_vault(args) as vault:
        credential = device.device_credential(vault)
        with protocol.device_connection(credential) as conn:
            work(conn)


def cmd_set_expiry(args: argparse.Namespace) -> int:
    from sim_desk.teamserver import leavers

    if args.off == (args.days is not None):
        raise UsageError("Say --days N (1 to 365), or --off to have no expiry.")

    def work(conn: Any) -> None:
        days = leavers.set_replica_expiry(conn, None if args.off else args.days)
        if days is None:
            print("Replica expiry is off: laptops open their records however long ago they synced.")
        else:
            print(
                f"Replica expiry set to {days} day(s): a laptop that has not synced for longer"
                " refuses to open its records until it syncs. Each laptop learns this at its"
                " next sync."
            )

    _connected(args, work)
    return EXIT_OK


def cmd_revoked(args: argparse.Namespace) -> int:
    from sim_desk.teamserver import leavers

    def work(conn: Any) -> None:
        answer = leavers.revoked_devices(conn)
        expiry = answer.get("replica_expiry_days")
        print(f"Replica expiry: {'off' if expiry is None else f'{expiry} day(s)'}.")
        devices = answer.get("devices") or []
        if not devices:
            print("No device has been revoked.")
        for found in devices:
            if found.get("erased_at"):
                unsent = int(found.get("unsent_at_erasure") or 0)
                state = f"erased its replica at {found['erased_at'][:16]}"
                state += f" ({unsent} unsent change(s) lost)" if unsent else ""
            else:
                state = "has not connected since: its replica is not yet erased"
            when = str(found["revoked_at"])[:16]
            print(f"{found['id']}  {found['username']}: revoked {when}; {state}.")

    _connected(args, work)
    return EXIT_OK


def add_server_commands(
    server_sub: Any,
    *,
    vault_options: Callable[[argparse.ArgumentParser], None],
    server_options: Callable[..., None],
    admin_login: Callable[[argparse.Namespace], Any],
) -> None:
    p = server_sub.add_parser(
        "set-expiry", help="how many days a laptop may go without syncing before it locks"
    )
    vault_options(p)
    server_options(p, required=False)
    p.add_argument("--days", type=int, metavar="N", help="from 1 to 365")
    p.add_argument("--off", action="store_true", help="no expiry")
    p.set_defaults(run=cmd_set_expiry, admin_login=admin_login)

    p = server_sub.add_parser(
        "revoked", help="revoked laptops, and whether each has erased its replica"
    )
    vault_options(p)
    server_options(p, required=False)
    p.set_defaults(run=cmd_revoked, admin_login=admin_login)
