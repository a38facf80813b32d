"""`sim-desk server publish`: a team lead's single-laptop vault onto its new team server, once."""

from __future__ import annotations

import argparse
from typing import Any

from sim_desk.cli.common import EXIT_OK, add_auth_arguments, open_vault


def cmd_server_publish(args: argparse.Namespace) -> int:
    from sim_desk.teamserver.publish import publish

    with open_vault(args) as vault:
        print("Publishing this vault to the team server (run again if it stops: it carries on)…")
        report = publish(vault)
    again = " (carried on from an earlier attempt)" if report.resumed else ""
    print(
        f"Published{again}: {report.pushed} change(s) sent; the team server holds"
        f" {report.rows_on_server} row(s), histories included; {report.users_added} user(s) of"
        " this vault added to the server."
    )
    if report.refused:
        print(
            f"{report.refused} change(s) were refused by the server; they are kept there for a"
            " team lead to review ('sim-desk sync --status')."
        )
    print(
        "Invite each member of the team with 'sim-desk server invite' (their ids come from this"
        " vault); their laptops fill from the server at their first sync."
    )
    return EXIT_OK


def add_publish_command(server_sub: Any) -> None:
    p = server_sub.add_parser(
        "publish",
        help="put this vault's records, histories and users on a new team server (once)",
    )
    add_auth_arguments(p)
    p.set_defaults(run=cmd_server_publish)
