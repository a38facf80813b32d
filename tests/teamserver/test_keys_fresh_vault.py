"""A laptop that joins with a fresh vault of its own (not a copy of the team's), invited from the
command line (issue 20), against the real PostgreSQL.

Its vault's clinical key is its own, so the team's notes reach it only through the team's key
epochs: the lead's `server invite` must keep the invitation's proof key and name the lead's
device in the file, the lead's next sync verifies the new device and wraps the key to it, and
notes the new laptop wrote before the key came are moved to the team's epoch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import select

from sim_desk.records import contacts, people
from sim_desk.records.clinical_epochs import CLINICAL, frame_epoch
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import VaultDamaged
from sim_desk.records.model import Contact, User
from sim_desk.records.people import PersonDetails
from sim_desk.records.team import device, keyring, users
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver.invitations import Invitation
from tests.conftest import FIXED_NOW, PASSPHRASES
from tests.teamserver.laptops import Laptop, LaptopClock
from tests.teamserver.test_cli_server import run, server  # noqa: F401  (fixture)

CANARY = "Canary-fresh-vault-Quillon-5582"
NIA_PASSPHRASE = "nia passphrase fresh vault"


@dataclass
class NewLaptop(Laptop):
    """A laptop whose vault was made on it (``sim-desk init``), for a user the test names."""

    passphrase: str = ""

    def open(self) -> UnlockedVault:
        return unlock.unlock(
            self.paths, self.name, self.passphrase, dirs=self.dirs, clock=self.clock
        )


def _note(vault: UnlockedVault, person: uuid.UUID, text: str) -> uuid.UUID:
    return contacts.log_contact(
        vault,
        person,
        ContactDetails(
            started_at=datetime(2026, 10, 1, 10, 0, tzinfo=FIXED_NOW.tzinfo),
            shared_note="shared words",
            clinical_note=text,
        ),
    )


def _read(machine: Laptop, contact: uuid.UUID) -> str | None:
    with machine.open() as vault:
        return contacts.read_clinical_note(vault, contact)


@pytest.fixture
def fresh(server, team, tmp_path, capsys, monkeypatch):  # noqa: F811
    """The lead set the team up from the command line and wrote a note; Nia, a new clinical
    lead, made her own vault on her own laptop and joined with a `server invite` file."""
    db, admin = server
    with team.unlock("lead") as lead_vault:
        lead_id = next(u.id for u in users.list_users(lead_vault) if u.username == "lead")
    first = tmp_path / "lead.siminvite"
    code, _out, err = run(
        capsys,
        "server",
        "init",
        *admin,
        "--team",
        "North SIM",
        "--lead",
        "lead",
        "--clinical-lead",
        "--lead-user-id",
        str(lead_id),
        "--invitation-out",
        str(first),
    )
    assert code == 0, err
    lead_vault_args = ["--vault", str(team.paths.database), "--user", "lead"]
    code, _out, err = run(
        capsys,
        "join",
        str(first),
        *lead_vault_args,
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    lead = Laptop("lead", team.paths, team.dirs, LaptopClock())
    with lead.open() as vault:
        person = people.create_person(
            vault,
            PersonDetails(
                given_name="Freshperson",
                family_name="Testperson",
                referred_on=date(2026, 1, 5),
                pair_id=team.other_pair_id,
            ),
        )
        old = _note(vault, person, CANARY + " lead")
    lead.sync()  # the first clinical device: epoch 1 of the team's key is its vault key

    # Nia's own vault, made on her laptop: its own record and clinical keys, her own user id.
    nia_paths = VaultPaths.at(tmp_path / "nia" / "team.simvault")
    unlock.create_vault(
        nia_paths,
        team_name="North Team",
        username="nia",
        display_name="Nia New",
        passphrase=NIA_PASSPHRASE,
        clinical_lead=True,
    )
    nia = NewLaptop("nia", nia_paths, team.dirs, LaptopClock(), NIA_PASSPHRASE)
    with nia.open() as vault:
        nia_id = vault.actor.user_id
        assert vault.keys_to_wrap(clinical=True)[1] != _vault_key(lead)
    _know_colleagues(nia, lead)
    invitation = tmp_path / "nia.siminvite"
    code, _out, err = run(
        capsys,
        "server",
        "invite",
        *lead_vault_args,
        "--invite",
        "nia",
        "--role",
        "team_lead",
        "--clinical",
        "--user-id",
        str(nia_id),
        "--out",
        str(invitation),
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    written = Invitation.read(invitation)
    with lead.open() as vault:
        lead_credential = device.device_credential(vault)
        proofs = keyring.invitation_proofs(vault)
    assert lead_credential is not None
    # The file names the inviting laptop, and the lead's vault kept the proof key.
    assert written.inviter is not None
    assert written.inviter.device_id == lead_credential.device_id
    assert written.inviter.public_key == lead_credential.public_key
    assert written.invitation_id in proofs
    code, _out, err = run(
        capsys,
        "join",
        str(invitation),
        "--vault",
        str(nia_paths.database),
        "--user",
        "nia",
        passphrase=NIA_PASSPHRASE,
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    return db, lead, nia, person, old


def _know_colleagues(nia: Laptop, lead: Laptop) -> None:
    """Users are not replicated (yet: not this part's work), and rows naming a user this vault
    does not know are held. So Nia's vault is told the team's users as a directory, with their
    ids and no key slot (none of them can sign in there); her vault and keys stay her own."""
    with lead.open() as vault, vault.read() as session:
        team_users = [
            (u.id, u.username, u.display_name, u.role, u.clinical_access)
            for u in session.execute(select(User)).scalars()
        ]
    with nia.open() as vault, vault.write() as session:
        for user_id, username, shown, role, clinical in team_users:
            session.add(
                User(
                    id=user_id,
                    username=username,
                    display_name=shown,
                    role=role,
                    clinical_access=clinical,
                    created_by=vault.actor.user_id,
                )
            )


def _vault_key(machine: Laptop) -> bytes | None:
    with machine.open() as vault:
        return vault.keys_to_wrap(clinical=True)[1]


def test_a_laptop_invited_from_the_command_line_with_its_own_vault_reads_the_teams_notes(
    fresh,
):
    _db, lead, nia, _person, old = fresh
    nia.sync()  # the team's rows arrive; no key yet: the lead has not verified Nia's laptop
    with nia.open() as vault:
        assert keyring.team_keys(vault, CLINICAL) == ({}, None)
        with pytest.raises(VaultDamaged):
            contacts.read_clinical_note(vault, old)
    lead.sync()  # verifies Nia's public key by the invitation's proof, wraps epoch 1 to it
    nia.sync()  # takes epoch 1 (wrapped by the lead the invitation file named)
    assert _read(nia, old) == CANARY + " lead"
    with lead.open() as vault:
        _person = people.create_person(
            vault,
            PersonDetails(
                given_name="Laterperson",
                family_name="Testperson",
                referred_on=date(2026, 1, 6),
            ),
        )
        new = _note(vault, _person, CANARY + " later")
    lead.sync()
    nia.sync()
    assert _read(nia, new) == CANARY + " later"


def test_notes_written_before_the_teams_key_came_move_to_its_epoch(fresh):
    db, lead, nia, person, _old = fresh
    nia.sync()
    with nia.open() as vault:
        early = _note(vault, person, CANARY + " nia early")
        with vault.read() as session:
            blob = session.get(Contact, early).clinical_note
        assert blob is not None and frame_epoch(blob) == 0  # under Nia's own vault key
    nia.sync()  # pushed as it is: no colleague can open it yet
    lead.sync()  # wraps epoch 1 to Nia
    with pytest.raises(VaultDamaged):
        _read(lead, early)
    nia.sync()  # takes epoch 1 and re-seals its own note under it (queued as a change)
    with nia.open() as vault:
        with vault.read() as session:
            blob = session.get(Contact, early).clinical_note
        assert blob is not None and frame_epoch(blob) == 1
        assert contacts.read_clinical_note(vault, early) == CANARY + " nia early"
    nia.sync()  # the re-sealed note goes as an ordinary change
    lead.sync()
    assert _read(lead, early) == CANARY + " nia early"
    with db.admin_connect(autocommit=True) as admin:
        row = admin.execute(
            "SELECT key_epoch FROM sim.clinical_fields WHERE row_id = %s", (early,)
        ).fetchone()
    assert row == (1,)
    # Nothing more to move: a second pass changes nothing and queues nothing.
    from sim_desk.records.team import own_notes

    with nia.open() as vault:
        assert own_notes.reseal_own_notes(vault) == 0
