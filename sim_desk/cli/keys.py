"""`sim-desk server rotate-key`: a new epoch of the team's clinical or linkage key (issue 20)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sim_desk.cli.common import EXIT_OK, UsageError, open_vault


def cmd_server_rotate_key(args: argparse.Namespace) -> int:
    from sim_desk.records.team import device
    from sim_desk.teamserver import keys, protocol
    from sim_desk.teamserver.errors import NotJoined

    if not args.user:
        raise UsageError(
            "Sign in with --user NAME: a clinician or clinical lead (clinical key), or a team"
            " lead (linkage key). The trust's administrator cannot rotate keys: they never hold"
            " them."
        )
    with open_vault(args) as vault:
        credential = device.device_credential(vault)
        if credential is None or not credential.is_active:
            raise NotJoined(
                "This laptop has not joined a team server for you yet, so there is no team key"
                " to rotate. Join with 'sim-desk join FILE' first."
            )
        with protocol.device_connection(credential) as conn:
            epoch = keys.rotate_key(vault, conn, args.kind)
            holders = keys.epoch_holders(conn, args.kind, epoch, credential.device_id)
    print(
        f"Started epoch {epoch} of the team's {args.kind} key, wrapped to {holders} other"
        " device(s) whose keys this laptop has verified (revoked devices get nothing)."
    )
    print(
        "New notes use it from now on; notes already written keep their epoch and are not"
        " rewritten. Colleagues' laptops take it at their next sync; a device this laptop has"
        " not verified yet is given it by whoever verifies it first."
    )
    return EXIT_OK


def add_rotate_key_command(
    server_sub: Any, vault_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    p = server_sub.add_parser(
        "rotate-key",
        help="start a new epoch of the team's clinical (or linkage) key, e.g. after a leaver",
    )
    vault_options(p)
    p.add_argument(
        "--kind",
        choices=["clinical", "linkage"],
        default="clinical",
        help="clinical (a clinician or clinical lead; the default) or linkage (a team lead)",
    )
    p.set_defaults(run=cmd_server_rotate_key)
