"""What every sub-command shares: exit codes, refusals, passphrases, opening the vault.

A passphrase comes from a prompt without echo, ``--passphrase-file`` or the
``SIM_DESK_PASSPHRASE`` environment variable: never from an argument, where it would sit in
shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    SimDeskError,
    ValidationError,
    VaultBusy,
    VaultDamaged,
    VaultExists,
    VaultNotFound,
)
from sim_desk.records.vault.files import VaultPaths

if TYPE_CHECKING:
    from sim_desk.records.unit_of_work import UnlockedVault

# Exit codes a script can rely on.
EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_DATA = 4
EXIT_VAULT = 5
EXIT_PERMISSION = 6

PASSPHRASE_ENV = "SIM_DESK_PASSPHRASE"

#: A sub-command's handler: the parsed arguments in, the exit code out.
Command = Callable[[argparse.Namespace], int]


class UsageError(SimDeskError):
    """The command was given in a way it cannot run."""


def exit_code_for(error: SimDeskError) -> int:
    if isinstance(error, AuthenticationFailed):
        return EXIT_AUTH
    if isinstance(error, PermissionDenied):
        return EXIT_PERMISSION
    if isinstance(error, VaultDamaged | VaultNotFound | VaultExists | VaultBusy):
        return EXIT_VAULT
    if isinstance(error, ValidationError | NotFound):
        return EXIT_DATA
    if isinstance(error, UsageError):
        return EXIT_USAGE
    return EXIT_DATA


# -- passphrases and the vault -------------------------------------------------------------


def read_secret(
    file: str | None,
    *,
    prompt: str,
    env: str | None = PASSPHRASE_ENV,
    confirm: bool = False,
    what: str = "passphrase",
    file_option: str = "--passphrase-file",
) -> str:
    """A secret (a passphrase, unless ``what`` says otherwise) from a file, the environment or a
    no-echo prompt, in that order. Refusals name the option and variable that would give it."""
    if file:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read the {what} file {file}: {exc.strerror}.") from None
        return text[:-1] if text.endswith("\n") else text
    if env and os.environ.get(env):
        return os.environ[env]
    if not sys.stdin or not sys.stdin.isatty():
        also = f" or set {env}" if env else ""
        raise UsageError(
            f"No {what} given. Use {file_option} FILE{also}, or run the command in a terminal"
            " to be asked."
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Type it again: ") != first:
        raise UsageError(f"The two {what}s differ. Nothing was changed; try again.")
    return first


def vault_paths(args: argparse.Namespace) -> VaultPaths:
    return (
        VaultPaths.at(args.vault) if args.vault else VaultPaths.at(AppDirs.default().default_vault)
    )


def open_vault(args: argparse.Namespace, *, for_sync: bool = False) -> UnlockedVault:
    """Unlocks the vault named by the options (``for_sync``: a replica whose expiry has run
    out may be opened to sync it)."""
    from sim_desk.records.vault import unlock

    paths = vault_paths(args)
    if not args.user:
        raise UsageError("Say who you are with --user NAME.")
    secret = read_secret(args.passphrase_file, prompt=f"Passphrase for {args.user}: ")
    return warn_about(unlock.unlock(paths, args.user, secret, for_sync=for_sync))


def warn_about(vault: UnlockedVault) -> UnlockedVault:
    """Says on stderr, before any work, what unlocking found wrong with the audit log."""
    for finding in vault.opening_findings:
        print(f"sim-desk: WARNING: possible tampering or lost records: {finding}.", file=sys.stderr)
        print(
            "sim-desk: run 'sim-desk verify' and tell your team lead; restore from a backup"
            " if records are missing.",
            file=sys.stderr,
        )
    return vault


def open_app(paths: VaultPaths | None) -> int:
    """Opens the desktop app (on ``paths``, or the remembered vault, or the first-run wizard)."""
    from sim_desk.ui.app import run

    return int(run(paths))


# -- arguments -----------------------------------------------------------------------------


def add_auth_arguments(parser: argparse.ArgumentParser, *, user_required: bool = True) -> None:
    parser.add_argument(
        "--vault", help="vault file (default: the team vault in the user data folder)"
    )
    parser.add_argument("--user", required=user_required, help="your user name")
    parser.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="read the passphrase from FILE (or set SIM_DESK_PASSPHRASE)",
    )


class Parser(argparse.ArgumentParser):
    """No abbreviated options: ``--passphrase x`` must fail, not become ``--passphrase-file x``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def parse_uuid(text: str | None, what: str) -> uuid.UUID | None:
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise UsageError(f"{what}: '{text}' is not a record id (a UUID).") from None


def parse_day(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what}: write the date as YYYY-MM-DD.") from None


def progress_printer() -> Callable[[float, str], None]:
    """A progress callback that prints a line when the step changes (at most every 10%)."""
    shown_percent, shown_step = -10, ""

    def progress(fraction: float, text: str) -> None:
        nonlocal shown_percent, shown_step
        percent = int(fraction * 100)
        step = re.sub(r"\d+ of \d+", "", text).strip()  # "Person 7 of 40" is one step
        if step != shown_step or percent >= shown_percent + 10 or fraction >= 1.0:
            shown_percent, shown_step = percent, step
            print(f"  {percent:3d}%  {text}", flush=True)

    return progress
