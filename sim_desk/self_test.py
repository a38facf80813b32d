"""`sim-desk self-test`: proves on this machine that every layer works, on a throwaway vault.

IT teams run it after installing; it touches the real SQLCipher library, Argon2id, AES-GCM,
migrations, the use cases and the integrity checks, and leaves nothing behind.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sim_desk import __version__


def run_self_test(say: Callable[[str], object]) -> bool:
    from sim_desk.records import access, contacts, people, users
    from sim_desk.records.appdirs import AppDirs
    from sim_desk.records.codes import PersonStatus, Role
    from sim_desk.records.errors import PermissionDenied
    from sim_desk.records.vault import VaultPaths
    from sim_desk.records.verify import verify_vault

    say(f"SIM Desk {__version__} self-test")
    checks: list[tuple[str, bool]] = []

    def check(name: str, passed: bool) -> None:
        checks.append((name, passed))
        say(f"  {'ok  ' if passed else 'FAIL'} {name}")

    with tempfile.TemporaryDirectory(prefix="sim-desk-self-test-") as folder:
        root = Path(folder)
        dirs = AppDirs(root / "data", root / "state", root / "config")
        paths = VaultPaths.at(root / "vault" / "self-test.simvault")
        started = time.perf_counter()
        access.create_vault(
            paths,
            team_name="Self-test",
            username="lead",
            display_name="Self-test lead",
            passphrase="self-test passphrase",
            clinical_lead=True,
        )
        check("create an encrypted vault", not paths.database.read_bytes().startswith(b"SQLite"))
        with access.unlock(paths, "lead", "self-test passphrase", dirs=dirs) as lead:
            officer_id = users.add_user(
                lead,
                username="officer",
                display_name="Officer",
                role=Role.OFFICER,
                passphrase="officer passphrase",
            )
            clinician_id = users.add_user(
                lead,
                username="clinician",
                display_name="Clinician",
                role=Role.CLINICIAN,
                passphrase="clinician passphrase",
            )
            people.create_pair(lead, name="Pair", officer_id=officer_id, clinician_id=clinician_id)
        with access.unlock(paths, "clinician", "clinician passphrase", dirs=dirs) as clinician:
            today = clinician.today()
            person_id = people.create_person(
                clinician,
                people.PersonDetails(
                    given_name="Zofia",
                    family_name="Wójcik",
                    nhs_number="9434765919",
                    referred_on=today - timedelta(days=30),
                ),
            )
            people.change_status(
                clinician, person_id, PersonStatus.ACTIVE, on=today - timedelta(days=20)
            )
            contact_id = contacts.log_contact(
                clinician,
                person_id,
                contacts.ContactDetails(
                    started_at=datetime.now(UTC) - timedelta(days=1),
                    shared_note="shared",
                    clinical_note="clinician only",
                ),
            )
            check(
                "clinician writes and reads a clinician-only note",
                contacts.read_clinical_note(clinician, contact_id) == "clinician only",
            )
        with access.unlock(paths, "officer", "officer passphrase", dirs=dirs) as officer:
            record = people.view_person(officer, person_id)
            check("officer reads the shared record", record.details.family_name == "Wójcik")
            try:
                contacts.read_clinical_note(officer, contact_id)
                check("officer cannot read the clinician-only note", False)
            except PermissionDenied:
                check("officer cannot read the clinician-only note", True)
            report = verify_vault(officer)
            check("integrity, encryption and audit chain verify", report.ok)
        check(
            "vault files hold no plaintext name",
            all(b"W\xc3\xb3jcik" not in p.read_bytes() for p in paths.all_files if p.exists()),
        )
        say(f"  took {time.perf_counter() - started:.1f} s")
    passed = all(ok for _, ok in checks)
    say("self-test passed" if passed else "self-test FAILED")
    return passed
