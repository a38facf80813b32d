"""`backup`, `restore`, `rekey` and `verify`: keeping a vault safe and sound."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim_desk.cli.common import (
    EXIT_OK,
    EXIT_VAULT,
    Parser,
    UsageError,
    add_auth_arguments,
    open_vault,
    read_secret,
    vault_paths,
    warn_about,
)
from sim_desk.records.vault.files import VaultPaths


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("backup", help="write an encrypted backup of the vault (team leads)")
    add_auth_arguments(p)
    p.add_argument("--out", required=True, metavar="FILE", help="the backup file to write")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.set_defaults(run=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup to a new place (never overwrites)")
    p.add_argument("backup", help="the backup file")
    p.add_argument("--to", required=True, metavar="VAULT", help="the new vault file to create")
    p.set_defaults(run=cmd_restore)

    p = sub.add_parser("rekey", help="rotate the vault's keys, e.g. after a leaver (team leads)")
    add_auth_arguments(p, user_required=False)
    p.add_argument(
        "--recovery-key-file",
        metavar="FILE",
        help="use the recovery key (read from FILE) instead of a user",
    )
    p.add_argument(
        "--keep-recovery-key",
        action="store_true",
        help="keep the current recovery key instead of issuing a new one",
    )
    p.add_argument(
        "--recovery-key-only",
        action="store_true",
        help="only issue a new recovery key (a lost or worn sheet); the keys stay as they are",
    )
    p.add_argument(
        "--drop-old-slots",
        action="store_true",
        help="drop old-format slots of users who have not signed in since upgrading",
    )
    p.set_defaults(run=cmd_rekey)

    p = sub.add_parser(
        "verify", help="check the database, encryption, audit chain and key file (reads only)"
    )
    add_auth_arguments(p)
    p.add_argument(
        "--reviewed",
        action="store_true",
        help="team leads: after checking, mark the audit log's tampering findings as looked"
        " into (they are then listed as notes)",
    )
    p.set_defaults(run=cmd_verify)


def cmd_backup(args: argparse.Namespace) -> int:
    from sim_desk.records.vault.backup import backup_vault

    with open_vault(args) as vault:
        info = backup_vault(vault, Path(args.out), overwrite=args.overwrite)
    print(f"Backup written to {info.path} ({info.size / 1e6:.1f} MB, readable by you only).")
    if info.sha256:
        print(f"SHA-256 {info.sha256}")
    print("It opens with the same passphrases and recovery key as the vault had today.")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from sim_desk.records.vault.backup import restore_backup

    target = VaultPaths.at(args.to)
    info = restore_backup(Path(args.backup), target)
    made = info.created_at.astimezone().strftime("%d/%m/%Y %H:%M")
    print(f"Restored the backup of {made} to {target.database}.")
    print("Unlock it with the passphrases that were valid then, and run 'sim-desk verify'.")
    return EXIT_OK


def cmd_rekey(args: argparse.Namespace) -> int:
    from sim_desk.records.vault import unlock
    from sim_desk.records.vault.rekey import confirm_recovery_key, renew_recovery_key, rotate_keys

    paths = vault_paths(args)
    if args.recovery_key_file or not args.user:
        secret = read_secret(
            args.recovery_key_file,
            prompt="Recovery key: ",
            env=None,
            what="recovery key",
            file_option="--recovery-key-file",
        )
        vault = warn_about(unlock.unlock_with_recovery_key(paths, secret))
    else:
        vault = open_vault(args)
    recovery_key: str | None
    slot_id: str | None
    with vault:
        if args.recovery_key_only:
            renewed = renew_recovery_key(vault)
            recovery_key, slot_id = renewed.recovery_key, renewed.slot_id
        else:
            result = rotate_keys(
                vault, new_recovery=not args.keep_recovery_key, drop_old_slots=args.drop_old_slots
            )
            recovery_key, slot_id = result.recovery_key, result.recovery_slot_id
            print(
                f"Keys rotated (generation {result.generation}): {result.notes_reencrypted}"
                f" clinician-only notes re-encrypted, {result.slots_rewrapped} key slots"
                " re-sealed."
            )
            print(
                "Everyone keeps their passphrase; copies of the vault made before now cannot be"
                " opened with keys taken from them."
            )
            if result.dropped_users:
                print(
                    "Slots dropped (those users must be added again): "
                    + ", ".join(result.dropped_users)
                )
        if recovery_key and slot_id:
            print()
            print("NEW RECOVERY KEY (print a new recovery sheet; the old one stops working now):")
            print(f"    {recovery_key}", flush=True)
            # Printed: someone has it now, so the earlier recovery key can go.
            confirm_recovery_key(vault, slot_id)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from sim_desk.records.vault.verify import verify_with_passphrase

    paths = vault_paths(args)
    if not args.user:
        raise UsageError("Say who you are with --user NAME.")
    secret = read_secret(args.passphrase_file, prompt=f"Passphrase for {args.user}: ")
    # Read-only from the key slot: unlocking would write an audit entry (and update the audit
    # head copy) before the check, hiding a truncated log or a deleted head copy.
    report = verify_with_passphrase(paths, args.user, secret)
    for line in report.lines():
        print(line)
    if args.reviewed:
        from sim_desk.records.vault import unlock
        from sim_desk.records.vault.verify import mark_findings_reviewed

        with unlock.unlock(paths, args.user, secret) as vault:
            marked = mark_findings_reviewed(vault)
        print(f"Marked {marked} audit finding(s) as looked into by {args.user}.")
        return EXIT_OK
    if report.ok:
        return EXIT_OK
    print(
        "The vault is damaged or was tampered with. Restore it from a backup"
        " (sim-desk restore BACKUP --to NEW.simvault).",
        file=sys.stderr,
    )
    return EXIT_VAULT
