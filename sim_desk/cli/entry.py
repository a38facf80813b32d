"""`sim-desk`: the GUI by default, headless sub-commands for everything else.

Every sub-command calls the same use cases the GUI calls. Each command group is a module in this
package that adds its own sub-parser (``add_commands``); they are loaded only when a command is
given, so opening the app does not wait for them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sim_desk import __version__
from sim_desk.cli import common
from sim_desk.cli.common import (
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_VAULT,
    Command,
    Parser,
    exit_code_for,
)
from sim_desk.records.errors import SimDeskError
from sim_desk.records.vault.files import VaultPaths


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sim-desk",
        description="SIM Desk: encrypted case management for Serenity Integrated Mentoring teams."
        " With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"SIM Desk {__version__}")
    parser.add_argument("--vault", help="vault to open in the desktop app")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    from sim_desk.cli import imports as import_commands
    from sim_desk.cli import maintenance, outputs, setup, team
    from sim_desk.cli import sync as sync_commands
    from sim_desk.cli.server import add_commands as add_team_server_commands

    for commands in (setup, team, import_commands, outputs, maintenance):
        commands.add_commands(sub)
    add_team_server_commands(sub, Parser)  # `server ...` and `join`
    sync_commands.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    # Opening the app is most starts: they skip building the parser of every sub-command (a
    # tenth of a bare Qt window's start-up time, before the unlock dialog can show).
    if not given:
        return common.open_app(None)
    if len(given) == 2 and given[0] == "--vault" and not given[1].startswith("-"):
        return common.open_app(VaultPaths.at(given[1]))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return common.open_app(VaultPaths.at(args.vault) if args.vault else None)
    if args.command == "import" and not args.template and not args.user:
        parser.error("import needs --user NAME")
    run: Command = args.run
    try:
        return run(args)
    except SimDeskError as error:
        print(f"sim-desk: {error}", file=sys.stderr)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("sim-desk: stopped; nothing half-written was kept.", file=sys.stderr)
        return EXIT_UNEXPECTED
    except BrokenPipeError:
        # Output piped into `head` or a closed pager: the work itself was done (each use case
        # commits before anything about it is printed); say nothing more to a closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # a bug, or damage met where no use case expected it
        return _unexpected(error)


def _unexpected(error: Exception) -> int:
    """Damage gets the same exit code and words wherever it is met; anything else is a bug,
    reported by type and place only (an exception's text may quote record data)."""
    import traceback

    from sim_desk.records.vault.store import DAMAGED_DATABASE, is_damage

    if is_damage(error) or is_damage(error.__cause__ or error):
        print(f"sim-desk: {DAMAGED_DATABASE}", file=sys.stderr)
        return EXIT_VAULT
    frames = traceback.extract_tb(error.__traceback__)
    where = "; ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames[-4:])
    print(
        f"sim-desk: something went wrong inside SIM Desk ({type(error).__name__} at {where})."
        " Nothing saved before was lost. Please tell whoever looks after SIM Desk.",
        file=sys.stderr,
    )
    return EXIT_UNEXPECTED
