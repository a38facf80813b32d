"""``sim-desk sync``: push this laptop's changes to the team server and pull the team's."""

from __future__ import annotations

import argparse
import uuid
from datetime import timedelta
from typing import Any

from sim_desk.cli.common import (
    EXIT_OK,
    add_auth_arguments,
    open_vault,
    read_secret,
    vault_paths,
    warn_about,
)


def _when(moment: Any) -> str:
    return "never" if moment is None else moment.astimezone().strftime("%d %b %Y %H:%M")


def cmd_sync(args: argparse.Namespace) -> int:
    from sim_desk.records import sync
    from sim_desk.records.sync import standing
    from sim_desk.teamserver.sync import sync_now

    with (
        _open_to_sync(args) as vault,
        standing.syncing_for_its_user(vault),  # the recovery key: as the replica's user
    ):
        if args.refused or args.set_aside:
            return _deal_with_refused(vault, args)
        if args.send_again:
            from sim_desk.records.sync import refused

            queued = refused.send_again(vault, _refused_ids(vault, args.send_again))
            print(f"{queued} refused change(s) put back in the queue: sending them now.")
        if not args.status:
            report = sync_now(vault)
            first = " (first sync: this laptop's replica was filled from the server)"
            print(
                f"Synced{first if report.first_sync else ''}: sent {report.pushed} change(s),"
                f" {report.refused} refused; received {report.pulled_rows} row(s) in"
                f" {report.pages} page(s)."
            )
            if report.taken_off:
                print(
                    f"{report.taken_off} person(s) this laptop may not hold (another pair's,"
                    " moved away, or not sharing with police) were taken off it; what it had"
                    " written about them is kept on the server for your team lead."
                )
            if report.server_restored:
                print(
                    "The team server was restored from a backup or failed over since the last"
                    " sync: this laptop checked its replica against it and sent again what the"
                    " server had lost."
                )
            if report.users_added:
                print(
                    f"{report.users_added} colleague(s) from the team server's users directory"
                    " were added to this laptop (they cannot sign in here: no key slot)."
                )
            for problem in report.problems:
                print(problem)
            if report.removed_people:
                print(
                    f"{report.removed_people} person(s) are no longer on your caseload and were"
                    " removed from this laptop."
                )
        status = sync.status(vault)
        fresh = standing.freshness(vault)
    print(
        f"Waiting to send: {status.waiting}; sent, not yet seen back: {status.sent_not_seen_back};"
        f" refused by the server: {status.refused}."
    )
    print(
        f"Changed on another laptop, not yet looked at: {status.changed_elsewhere}; held (could"
        f" not be applied here): {status.held}; merge proposals: {status.merge_proposals}."
    )
    if status.refused_for_review:
        print(
            f"Changes the server refused from the team's laptops, kept there for a team lead to"
            f" review: {status.refused_for_review}."
        )
    print(f"Last sent {_when(status.last_push_at)}; last received {_when(status.last_pull_at)}.")
    if status.last_error:
        print(status.last_error)
    if fresh.expiry_days is not None and fresh.synced_ok_at is not None:
        locks = fresh.synced_ok_at + timedelta(days=fresh.expiry_days)
        print(
            f"Your team closes a laptop's records {fresh.expiry_days} day(s) after its last"
            f" sync: sync this laptop before {_when(locks)}."
        )
    return EXIT_OK


def _refused_ids(vault: Any, given: list[str]) -> list[uuid.UUID]:
    """The refused changes named by their id, or by its first characters as listed."""
    from sim_desk.records.errors import ValidationError
    from sim_desk.records.sync import review

    listed = [change.id for change in review.refused_changes(vault)]
    chosen: list[uuid.UUID] = []
    for text in given:
        start = text.strip().lower()
        found = [i for i in listed if str(i).startswith(start)] if len(start) >= 8 else []
        if len(found) != 1:
            raise ValidationError(
                f"'{text}' names no refused change ({'several match' if found else 'none'})."
                " Run 'sim-desk sync --refused' to list them with their ids. Nothing was"
                " changed."
            )
        chosen.append(found[0])
    return chosen


def _deal_with_refused(vault: Any, args: argparse.Namespace) -> int:
    """Lists the changes the server refused, or sets some aside (no connection to the server)."""
    from sim_desk.records.sync import refused, review

    if args.set_aside:
        done = refused.set_aside(vault, _refused_ids(vault, args.set_aside))
        print(
            f"{done} refused change(s) set aside: they leave the list and are not sent. The"
            " records on this laptop are not changed; the team server keeps its copy of what"
            " it refused for your team lead."
        )
        return EXIT_OK
    changes = review.refused_changes(vault)
    if not changes:
        print("The team server has refused nothing from this laptop.")
    for change in changes:
        what = f"{change.what}: {', '.join(change.fields)}" if change.fields else change.what
        print(f"{str(change.id)[:8]}  {_when(change.made_at)}  {change.person}: {what}")
        print(f"          {change.why}")
    if changes:
        print(
            "Each is kept on this laptop as you made it. 'sim-desk sync --send-again ID' sends"
            " one again (when the reason has gone); 'sim-desk sync --set-aside ID' takes it off"
            " the list without changing this laptop's record."
        )
    return EXIT_OK


def cmd_leave(args: argparse.Namespace) -> int:
    from sim_desk.teamserver import leaving

    with open_vault(args, for_sync=True) as vault:  # an expired replica may leave too
        last, left = leaving.leave_team(vault, lose_changes=args.lose_changes)
    if not last.synced:
        print(f"The final sync did not complete: {last.problem}")
    print(leaving.left_message(left))
    return EXIT_OK


def _open_to_sync(args: argparse.Namespace) -> Any:
    """Unlocked to sync (an expired replica may): as ``--user``, or with the recovery key for a
    user who has forgotten their passphrase."""
    if not args.recovery_key_file:
        return open_vault(args, for_sync=True)
    from sim_desk.records.vault import unlock

    secret = read_secret(
        args.recovery_key_file,
        prompt="Recovery key: ",
        env=None,
        what="recovery key",
        file_option="--recovery-key-file",
    )
    return warn_about(unlock.unlock_with_recovery_key(vault_paths(args), secret, for_sync=True))


def add_commands(sub: Any) -> None:
    p = sub.add_parser("sync", help="send your changes to the team server and receive the team's")
    p.add_argument("--status", action="store_true", help="only say what is waiting; do not connect")
    dealing = p.add_mutually_exclusive_group()
    dealing.add_argument(
        "--refused",
        action="store_true",
        help="list the changes the server refused, with their ids; do not connect",
    )
    dealing.add_argument(
        "--send-again",
        nargs="+",
        metavar="ID",
        help="put refused changes back in the queue (the same record's go together), then sync",
    )
    dealing.add_argument(
        "--set-aside",
        nargs="+",
        metavar="ID",
        help="take refused changes off the list; this laptop's records are not changed",
    )
    add_auth_arguments(p, user_required=False)
    p.add_argument(
        "--recovery-key-file",
        metavar="FILE",
        help="sync with the recovery key (read from FILE) instead of a user's passphrase: for a"
        " user who has forgotten theirs while the laptop was out of date",
    )
    p.set_defaults(run=cmd_sync)

    p = sub.add_parser(
        "leave", help="leave the team: a final sync, then erase this laptop's copy of its records"
    )
    p.add_argument(
        "--lose-changes",
        action="store_true",
        help="erase even if changes made here could not be sent (they are lost)",
    )
    add_auth_arguments(p)
    p.set_defaults(run=cmd_leave)
