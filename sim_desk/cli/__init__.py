"""The command line: ``sim-desk`` with no command opens the app; sub-commands do the rest.

``entry`` builds the parser and runs a command; ``common`` holds what every command shares
(exit codes, passphrases, opening the vault); each other module is one command group. The
names here are what scripts and the team-server commands use.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sim_desk.cli.common import (
    EXIT_AUTH,
    EXIT_DATA,
    EXIT_OK,
    EXIT_PERMISSION,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    EXIT_VAULT,
    UsageError,
    open_vault,
    read_secret,
)

if TYPE_CHECKING:
    import argparse


def main(argv: Sequence[str] | None = None) -> int:
    """The ``sim-desk`` command (loaded on call, so importing this package stays light)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--snapshot-reader"]:  # the app itself, during a first sync
        from sim_desk.teamserver import snapshot_reader

        return snapshot_reader.main(args[1:])
    from sim_desk.cli.entry import main as run

    return run(argv)


def build_parser() -> argparse.ArgumentParser:
    from sim_desk.cli.entry import build_parser as build

    return build()


__all__ = [
    "EXIT_AUTH",
    "EXIT_DATA",
    "EXIT_OK",
    "EXIT_PERMISSION",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "EXIT_VAULT",
    "UsageError",
    "build_parser",
    "main",
    "open_vault",
    "read_secret",
]
