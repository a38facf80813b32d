"""Team keys across laptops (issue 20), against the real PostgreSQL and real vaults.

Each laptop here is its own copy of the vault, and clinician2's copy has had its keys rotated
first, so its vault's own clinical key differs from the lead's: notes travel between them only
through the team's key epochs. The server's administrator (a superuser) is the attacker.
"""

from __future__ import annotations

import base64
import dataclasses
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sim_desk.records import contacts, people
from sim_desk.records.clinical_epochs import CLINICAL, LINKAGE, frame_epoch
from sim_desk.records.people import PersonDetails
from sim_desk.records.team import device, keycrypto, keyring
from sim_desk.records.vault import rekey
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import keys, protocol
from sim_desk.teamserver.invitations import create_invitation
from sim_desk.teamserver.joining import join_team
from sim_desk.teamserver.schema import init_server
from tests.teamserver.conftest import ServerDatabase
from tests.teamserver.laptops import Laptop

CANARY = "Canary-clinical-Zebedee-4471"


@dataclass
class KeyWorld:
    db: ServerDatabase
    laptops: dict[str, Laptop]
    pair_b: uuid.UUID
    ids: dict[str, uuid.UUID]

    def credential(self, name: str) -> device.DeviceCredential:
        with self.laptops[name].open() as vault:
            found = device.device_credential(vault)
        assert found is not None
        return found

    def keys_step(self, name: str) -> keys.KeyReport:
        with self.laptops[name].open() as vault:
            credential = device.device_credential(vault)
            assert credential is not None
            with protocol.device_connection(credential) as conn:
                return keys.sync_keys(vault, conn)


def _copy(template: Path, folder: Path, name: str) -> VaultPaths:
    target = folder / name
    shutil.copytree(template, target)
    return VaultPaths.at(target / "team.simvault")


@pytest.fixture(scope="module")
def kw(
    new_database: Callable[[], ServerDatabase],
    _team_template: tuple[Path, str, uuid.UUID, uuid.UUID],
    tmp_path_factory: pytest.TempPathFactory,
) -> KeyWorld:
    source, _recovery, _pair_a, pair_b = _team_template
    folder = tmp_path_factory.mktemp("keys")
    db = new_database()
    init_server(db.admin, team_name="North SIM")
    lead_paths = _copy(source, folder, "lead")
    from sim_desk.records.team import users

    laptops: dict[str, Laptop] = {}
    from sim_desk.records.appdirs import AppDirs

    dirs = AppDirs(folder / "d", folder / "s", folder / "c")
    laptops["lead"] = Laptop("lead", lead_paths, dirs)
    with laptops["lead"].open() as lead:
        ids = {u.username: u.id for u in users.list_users(lead)}
        roles = {u.username: (u.role.value, u.clinical_access) for u in users.list_users(lead)}
    with db.admin.connect(autocommit=True) as admin:
        first = create_invitation(
            admin, db.address, username="lead", role="team_lead", clinical=True, user_id=ids["lead"]
        )
    with laptops["lead"].open() as lead:
        join_team(lead, first)
    for name in ("clinician", "clinician2", "officer2", "analyst"):
        role, clinical = roles[name]
        paths = _copy(source, folder, name)
        laptops[name] = Laptop(name, paths, dirs)
        if name == "clinician2":
            # Its own vault clinical key: rotated (as the lead, on that laptop) before joining.
            with _as_lead(paths, dirs) as vault:
                rekey.rotate_keys(vault, new_recovery=False)
        with laptops["lead"].open() as lead:
            credential = device.device_credential(lead)
            assert credential is not None
            with protocol.device_connection(credential) as conn:
                invitation = keys.invite_from_laptop(
                    lead,
                    credential,
                    conn,
                    protocol.address_of(credential),
                    username=name,
                    role=role,
                    clinical=clinical,
                    user_id=ids[name],
                )
        from sim_desk.teamserver.invitations import Invitation

        invitation = Invitation.from_json(invitation.to_json())  # as the file carries it
        with laptops[name].open() as vault:
            join_team(vault, invitation)
    return KeyWorld(db, laptops, pair_b, ids)


def _as_lead(paths: VaultPaths, dirs: Any) -> Any:
    return Laptop("lead", paths, dirs).open()


def _note_on_pair_b(machine: Laptop, pair: uuid.UUID, text: str) -> tuple[uuid.UUID, uuid.UUID]:
    with machine.open() as vault:
        person = people.create_person(
            vault,
            PersonDetails(
                given_name="Keyperson",
                family_name="Testperson",
                referred_on=date(2026, 1, 5),
                pair_id=pair,
            ),
        )
    contact = machine.log_contact(person, "shared words", clinical=text)
    return person, contact


def _clinical_note(machine: Laptop, contact: uuid.UUID) -> str | None:
    with machine.open() as vault:
        return contacts.read_clinical_note(vault, contact)


def test_a_clinician_with_its_own_vault_key_reads_the_teams_notes(kw: KeyWorld) -> None:
    lead, c2 = kw.laptops["lead"], kw.laptops["clinician2"]
    # Written before the team had keys: under the lead's vault key, unframed.
    _person, old_contact = _note_on_pair_b(lead, kw.pair_b, CANARY + " old")
    lead.sync()  # the first clinical device: epoch 1 is its vault key; wraps to verified devices
    c2.sync()  # takes epoch 1 (wrapped by the lead, whom its invitation file named)
    _person, new_contact = _note_on_pair_b(lead, kw.pair_b, CANARY + " new")
    lead.sync()
    c2.sync()
    assert _clinical_note(c2, old_contact) == CANARY + " old"
    assert _clinical_note(c2, new_contact) == CANARY + " new"
    with c2.open() as vault:
        held, current = keyring.team_keys(vault, CLINICAL)
    assert list(held) == [1] and current == 1
    # The officer's replica holds no clinical ciphertext, and the officer got no clinical wrap.
    kw.laptops["officer2"].sync()
    with kw.laptops["officer2"].open() as vault:
        assert keyring.team_keys(vault, CLINICAL) == ({}, None)
        with vault.read() as session:
            from sqlalchemy import select

            from sim_desk.records.model import Contact

            notes = session.execute(select(Contact.clinical_note)).scalars().all()
    assert all(n is None for n in notes) or not any(
        n is not None and frame_epoch(n) == 1 for n in notes
    )


def test_the_analyst_and_lead_hold_the_linkage_key_and_no_clinical_key(kw: KeyWorld) -> None:
    kw.laptops["lead"].sync()
    kw.laptops["analyst"].sync()  # not granted linkage in the lead's vault: nothing yet
    with kw.laptops["lead"].open() as lead:
        lead_linkage, current = keyring.team_keys(lead, LINKAGE)
    assert current == 1 and len(lead_linkage[1]) == 32
    with kw.laptops["analyst"].open() as vault:
        assert keyring.team_keys(vault, CLINICAL) == ({}, None)
        assert keyring.team_keys(vault, LINKAGE)[1] is None
    from sim_desk.records.errors import PermissionDenied
    from sim_desk.records.read_models import export_data

    with kw.laptops["analyst"].open() as vault, pytest.raises(PermissionDenied):
        export_data.pseudonym_key(vault, linkage=True)

    with kw.laptops["lead"].open() as lead:
        export_data.grant_linkage(lead, kw.ids["analyst"])
    kw.laptops["lead"].sync()
    kw.laptops["analyst"].sync()
    with kw.laptops["analyst"].open() as vault:
        held, current = keyring.team_keys(vault, LINKAGE)
        # The analyst's own vault holds no grant row: the wrapped key is the permission, and
        # its pseudonyms are the lead's (stable across laptops).
        assert export_data.pseudonym_key(vault, linkage=True) == lead_linkage[1]
    assert current == 1 and held[1] == lead_linkage[1]


def test_a_public_key_swapped_on_the_server_is_caught(kw: KeyWorld) -> None:
    """The administrator replaces clinician's public key with one of their own before the
    lead's laptop has verified it: no key is wrapped to it, and the sync says so."""
    lead = kw.laptops["lead"]
    victim = kw.credential("clinician").device_id
    # The lead must not have verified it yet: forget that (a fresh look, as at first sync).
    with lead.open() as vault, vault.write() as session:
        from sim_desk.records.model import TeamTrustedDevice

        row = session.get(TeamTrustedDevice, victim)
        if row is not None:
            session.delete(row)
    attacker = X25519PrivateKey.generate()
    with kw.db.admin_connect(autocommit=True) as admin:
        admin.execute(
            "UPDATE sim.devices SET public_key = %s WHERE id = %s",
            (attacker.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), victim),
        )
        admin.execute("DELETE FROM sim.key_wraps WHERE device_id = %s", (victim,))
    report = kw.keys_step("lead")
    assert victim in report.mismatched
    assert any("swapped" in p for p in report.problems)
    with kw.db.admin_connect(autocommit=True) as admin:
        wraps = admin.execute(
            "SELECT count(*) FROM sim.key_wraps WHERE device_id = %s", (victim,)
        ).fetchone()
    assert wraps == (0,)


def test_a_key_the_administrator_wraps_is_not_taken(kw: KeyWorld) -> None:
    """A wrap made by the administrator (with a key of their own, claiming to be the lead) is
    refused by the clinician's laptop: new notes stay under the team's real epoch."""
    c2 = kw.laptops["clinician2"]
    c2_cred = kw.credential("clinician2")
    lead_id = kw.credential("lead").device_id
    evil_key = b"\x42" * 32
    fake_sender = X25519PrivateKey.generate().private_bytes_raw()
    with kw.db.admin_connect(autocommit=True) as admin:
        latest = admin.execute(
            "SELECT max(epoch) FROM sim.team_keys WHERE kind = 'clinical'"
        ).fetchone()
        assert latest is not None
        epoch = int(latest[0]) + 1
        wrapped = keycrypto.wrap(
            evil_key,
            kind=CLINICAL,
            epoch=epoch,
            sender=lead_id,
            sender_private=fake_sender,
            recipient=c2_cred.device_id,
            recipient_public=c2_cred.public_key,
        )
        admin.execute("UPDATE sim.team_keys SET current = false WHERE kind = 'clinical'")
        admin.execute(
            "INSERT INTO sim.team_keys (kind, epoch, created_by) VALUES ('clinical', %s, %s)",
            (epoch, lead_id),
        )
        admin.execute(
            "INSERT INTO sim.key_wraps (kind, epoch, device_id, wrapped, wrapped_by)"
            " VALUES ('clinical', %s, %s, %s, %s)",
            (epoch, c2_cred.device_id, wrapped, lead_id),
        )
    report = kw.keys_step("clinician2")
    assert (CLINICAL, epoch) not in report.received
    with c2.open() as vault:
        held, current = keyring.team_keys(vault, CLINICAL)
        assert epoch not in held and current == 1
        assert frame_epoch(vault.encrypt_clinical("x", uuid.uuid4())) == 1
    with kw.db.admin_connect(autocommit=True) as admin:  # put the server right again
        admin.execute("DELETE FROM sim.key_wraps WHERE epoch = %s AND kind = 'clinical'", (epoch,))
        admin.execute("DELETE FROM sim.team_keys WHERE epoch = %s AND kind = 'clinical'", (epoch,))
        admin.execute(
            "UPDATE sim.team_keys SET current = true WHERE kind = 'clinical' AND epoch = 1"
        )


def test_the_administrator_can_read_no_note_and_no_key(kw: KeyWorld) -> None:
    """Every table of the schema, dumped as the administrator (a superuser), searched for the
    canary note text and for every team key in any encoding. One canary note was replaced by
    an amendment of the note alone: its words are on the server only in the clinical history."""
    _person, replaced = _note_on_pair_b(kw.laptops["lead"], kw.pair_b, CANARY + " replaced")
    with kw.laptops["lead"].open() as lead:
        details = contacts.contact_details(lead, replaced)
        contacts.amend_contact(
            lead, replaced, dataclasses.replace(details, clinical_note="Later words")
        )
    kw.laptops["lead"].sync()
    with kw.db.admin_connect(autocommit=True) as admin:
        fields = admin.execute(
            "SELECT field FROM sim.clinical_fields WHERE row_id = %s ORDER BY field", (replaced,)
        ).fetchall()
    assert fields == [("clinical_history",), ("clinical_note",)]
    with kw.laptops["lead"].open() as lead:
        secrets_held = [
            *keyring.team_keys(lead, CLINICAL)[0].values(),
            *keyring.team_keys(lead, LINKAGE)[0].values(),
        ]
        secrets_held.append(lead.keys_to_wrap(clinical=True)[1] or b"")
    assert len(secrets_held) >= 3
    dump = bytearray()
    with kw.db.admin_connect(autocommit=True) as admin:
        tables = [
            r[0]
            for r in admin.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'sim'"
            ).fetchall()
        ]
        assert {"key_wraps", "team_keys", "clinical_fields", "changes"} <= set(tables)
        for table in tables:
            with admin.cursor().copy(f'COPY sim."{table}" TO STDOUT') as copy:
                for block in copy:
                    dump += bytes(block)
    assert len(dump) > 1000
    text = bytes(dump)
    assert CANARY.encode() not in text
    for key in secrets_held:
        for form in (key, key.hex().encode(), base64.b64encode(key), b"\\\\x" + key.hex().encode()):
            assert form not in text


def test_rotation_after_a_leaver_starts_an_epoch_the_leaver_never_gets(kw: KeyWorld) -> None:
    lead, c2 = kw.laptops["lead"], kw.laptops["clinician2"]
    leaver = kw.credential("clinician").device_id
    with protocol.device_connection(kw.credential("lead")) as conn:
        conn.execute("SELECT sim.revoke_device(%s)", (leaver,))
    with lead.open() as vault:
        credential = device.device_credential(vault)
        assert credential is not None
        with protocol.device_connection(credential) as conn:
            epoch = keys.rotate_key(vault, conn)
    assert epoch == 2
    _person, contact = _note_on_pair_b(lead, kw.pair_b, CANARY + " after")
    lead.sync()
    c2.sync()
    assert _clinical_note(c2, contact) == CANARY + " after"
    with kw.db.admin_connect(autocommit=True) as admin:
        got = admin.execute(
            "SELECT count(*) FROM sim.key_wraps WHERE device_id = %s AND epoch = 2", (leaver,)
        ).fetchone()
        note_epoch = admin.execute(
            "SELECT key_epoch FROM sim.clinical_fields WHERE row_id = %s", (contact,)
        ).fetchone()
    assert got == (0,)
    assert note_epoch == (2,)
