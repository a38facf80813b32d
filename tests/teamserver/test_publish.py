"""Publishing a single-laptop vault to a new team server, once (issue 20): real vaults, a real
PostgreSQL. The lead's vault holds several users (one removed), two pairs, people with two years
of contacts (clinical notes, corrections), incidents and their revisions, status histories."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sim_desk.records import contacts, incidents, people, sync
from sim_desk.records.codes import PersonStatus, Role
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.incidents import IncidentDetails
from sim_desk.records.model import Contact, Person, VaultMeta
from sim_desk.records.people import PersonDetails
from sim_desk.records.sync import completeness
from sim_desk.records.sync.tables import REPLICATED
from sim_desk.records.team import users
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import protocol
from sim_desk.teamserver.errors import ServerRefused, ServerUnreachable
from sim_desk.teamserver.invitations import create_invitation
from sim_desk.teamserver.joining import join_team
from sim_desk.teamserver.publish import PublishRefused, publish
from sim_desk.teamserver.schema import init_server
from tests.conftest import PASSPHRASES
from tests.teamserver.conftest import ServerDatabase
from tests.teamserver.laptops import Laptop, LaptopClock

START = datetime(2024, 11, 4, 10, 0, tzinfo=UTC)
CONTACTS_EACH = 24  # one a month for two years
HISTORIES = ("contacts", "contact_revisions", "incident_revisions", "person_status_changes")


@dataclass
class Published:
    db: ServerDatabase
    lead: Laptop
    #: Copies of the vault taken before any record was entered (users and pairs only).
    blank: Callable[[str], Laptop]
    ids: dict[str, uuid.UUID]
    pair_a: uuid.UUID
    pair_b: uuid.UUID
    people_a: list[uuid.UUID]
    person_b: uuid.UUID


def _copy(source: Path, folder: Path, name: str, lead: Laptop) -> Laptop:
    target = folder / f"{name}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(source, target)
    return Laptop(name, VaultPaths.at(target / lead.paths.database.name), lead.dirs)


def _fill(lead: Laptop, pair_a: uuid.UUID, pair_b: uuid.UUID) -> tuple[list[uuid.UUID], uuid.UUID]:
    """Two years of work on three people (two on pair A, one on pair B)."""
    made = []
    with lead.open() as vault:
        for given, pair in (("Aisha", pair_a), ("Bram", pair_a), ("Cora", pair_b)):
            person = people.create_person(
                vault,
                PersonDetails(
                    given_name=given,
                    family_name="Published",
                    referred_on=date(2024, 10, 1),
                    pair_id=pair,
                ),
            )
            people.change_status(vault, person, PersonStatus.ACTIVE, on=date(2024, 10, 20))
            for month in range(CONTACTS_EACH):
                contacts.log_contact(
                    vault,
                    person,
                    ContactDetails(
                        started_at=START + timedelta(days=30 * month),
                        shared_note=f"Contact {month} with {given}",
                        clinical_note=f"Clinical note {month} for {given}",
                    ),
                )
            first = contacts.list_contacts(vault, person)[0]
            contacts.amend_contact(
                vault,
                first.id,
                ContactDetails(
                    started_at=first.started_at,
                    shared_note=f"Corrected first contact with {given}",
                    clinical_note=f"Corrected clinical note for {given}",
                ),
                reason="typo",
            )
            incident = incidents.record_incident(
                vault,
                person,
                IncidentDetails(START + timedelta(days=100), "call_999", "police"),
            )
            incidents.update_incident(
                vault,
                incident,
                IncidentDetails(START + timedelta(days=100), "call_999", "police", summary="Seen"),
                reason="more known",
            )
            made.append(person)
    return made[:2], made[2]


@pytest.fixture
def published(
    new_database: Callable[[], ServerDatabase],
    _team_template: tuple[Path, str, uuid.UUID, uuid.UUID],
    tmp_path: Path,
) -> Published:
    source, _recovery, pair_a, pair_b = _team_template
    shutil.copytree(source, tmp_path / "blank")
    shutil.copytree(source, tmp_path / "lead")
    db = new_database()
    lead = Laptop("lead", VaultPaths.at(tmp_path / "lead" / "team.simvault"), _dirs(tmp_path))
    with lead.open() as vault:
        leaver = users.add_user(
            vault,
            username="leaver",
            display_name="Lou Leaver",
            role=Role.OFFICER,
            passphrase="leaver passphrase five",
        )
        users.remove_user(vault, leaver)
        ids = {u.username: u.id for u in users.list_users(vault, include_removed=True)}
    people_a, person_b = _fill(lead, pair_a, pair_b)
    init_server(db.admin, team_name="North SIM")
    with db.admin.connect(autocommit=True) as admin:
        first = create_invitation(
            admin, db.address, username="lead", role="team_lead", clinical=True, user_id=ids["lead"]
        )
    with lead.open() as vault:
        join_team(vault, first)

    def blank(name: str) -> Laptop:
        return _copy(tmp_path / "blank", tmp_path, name, lead)

    return Published(db, lead, blank, ids, pair_a, pair_b, people_a, person_b)


def _dirs(folder: Path):  # the laptops' own user folders, never the real ones
    from sim_desk.records.appdirs import AppDirs

    return AppDirs(folder / "data", folder / "state", folder / "config")


def local_counts(machine: Laptop) -> dict[str, int]:
    with machine.open() as vault, vault.read() as session:
        return {
            spec.name: session.execute(select(func.count()).select_from(spec.table)).scalar_one()
            for spec in REPLICATED
        }


def server_counts(db: ServerDatabase) -> dict[str, int]:
    with db.admin_connect() as admin:
        return dict(
            admin.execute(
                "SELECT table_name, count(*) FROM sim.rows GROUP BY table_name"
            ).fetchall()
        )


def invite_and_join(p: Published, name: str, role: str, clinical: bool) -> Laptop:
    """The lead invites ``name`` from the lead's laptop (ids from the vault, as the CLI does);
    the new laptop is a copy of the vault from before any record was entered."""
    with p.lead.open() as vault:
        credential = vault_credential(vault)
        with protocol.device_connection(credential) as conn:
            invitation = create_invitation(
                conn,
                protocol.address_of(credential),
                username=name,
                role=role,
                clinical=clinical,
                user_id=p.ids[name],
            )
    machine = p.blank(name)
    with machine.open() as vault:
        join_team(vault, invitation)
    return machine


def publish_from(machine: Laptop):
    with machine.open() as vault:
        return publish(vault)


def vault_credential(vault):
    from sim_desk.records.team import device

    return device.device_credential(vault)


def test_a_published_vault_arrives_whole_with_its_users_and_histories(published: Published):
    p = published
    before = local_counts(p.lead)
    assert before["contact_revisions"] >= 3 and before["incident_revisions"] >= 3
    assert before["person_status_changes"] >= 3

    report = publish_from(p.lead)

    assert not report.resumed
    assert report.users_added == len(p.ids) - 1  # everyone but the lead, who was there
    on_server = server_counts(p.db)
    assert {t: n for t, n in before.items() if n} == on_server  # every row, every history row
    assert report.rows_on_server == sum(before.values())
    with p.db.admin_connect() as admin:
        server_users = {
            row[0]: (row[1], row[2], row[3])
            for row in admin.execute("SELECT username, id, role, active FROM sim.users")
        }
        clinical_rows = admin.execute("SELECT count(*) FROM sim.clinical_fields").fetchone()
    assert {name: server_users[name][0] for name in p.ids} == p.ids
    assert server_users["leaver"][2] is False  # removed in the vault: removed on the server
    assert server_users["officer"][1:] == ("officer", True)
    assert clinical_rows is not None and clinical_rows[0] >= 3 * CONTACTS_EACH
    with p.lead.open() as vault:
        assert sync.status(vault).waiting == 0
        with vault.read() as session:
            assert session.execute(select(VaultMeta.published_at)).scalar_one() is not None


def test_a_second_laptop_sees_what_its_role_may_histories_included(published: Published):
    p = published
    publish_from(p.lead)
    officer = invite_and_join(p, "officer", "officer", False)
    clinician = invite_and_join(p, "clinician", "clinician", True)
    officer.sync()
    clinician.sync()

    lead_rows = _rows_of(p.lead, p.people_a)
    for machine in (officer, clinician):
        with machine.open() as vault, vault.read() as session:
            names = set(session.execute(select(Person.given_name)).scalars())
        assert names == {"Aisha", "Bram"}  # pair A's, not Cora of pair B
        mine = _rows_of(machine, p.people_a)
        # Every history row of pair A's people, as the lead's vault holds it.
        for table in HISTORIES:
            assert set(mine[table]) == set(lead_rows[table]), table
    with officer.open() as vault, vault.read() as session:
        assert (
            session.execute(
                select(func.count()).select_from(Contact).where(Contact.clinical_note.is_not(None))
            ).scalar_one()
            == 0
        )  # an officer never receives clinical ciphertext
        history = contacts.contact_history(vault, _first_contact(vault, p.people_a[0]))
        assert len(history) >= 1
    with p.lead.open() as vault, vault.read() as session:
        theirs = dict(session.execute(select(Contact.id, Contact.clinical_note)).all())
    with clinician.open() as vault, vault.read() as session:
        arrived = dict(session.execute(select(Contact.id, Contact.clinical_note)).all())
    assert arrived and all(arrived[c] == theirs[c] for c in arrived)  # the same ciphertext
    assert all(arrived.values())


def _first_contact(vault, person: uuid.UUID) -> uuid.UUID:
    return contacts.list_contacts(vault, person)[0].id


def _rows_of(machine: Laptop, persons: list[uuid.UUID]) -> dict[str, dict[uuid.UUID, tuple]]:
    from sim_desk.records.sync.tables import BY_NAME

    out: dict[str, dict[uuid.UUID, tuple]] = {}
    with machine.open() as vault, vault.read() as session:
        contact_ids = set(
            session.execute(select(Contact.id).where(Contact.person_id.in_(persons))).scalars()
        )
        for name in ("contacts", "person_status_changes", "contact_revisions"):
            table = BY_NAME[name].table
            key = table.c.contact_id if name == "contact_revisions" else table.c.person_id
            wanted = contact_ids if name == "contact_revisions" else set(persons)
            out[name] = {
                row.id: _plain(row, table, skip=("clinical_note",))
                for row in session.execute(select(table).where(key.in_(wanted)))
            }
        incident_table = BY_NAME["incidents"].table
        revisions = BY_NAME["incident_revisions"].table
        incident_ids = set(
            session.execute(
                select(incident_table.c.id).where(incident_table.c.person_id.in_(persons))
            ).scalars()
        )
        out["incident_revisions"] = {
            row.id: _plain(row, revisions)
            for row in session.execute(
                select(revisions).where(revisions.c.incident_id.in_(incident_ids))
            )
        }
    return out


def _plain(row, table, skip: tuple[str, ...] = ()) -> tuple:
    return tuple(
        (c.name, getattr(row, c.name))
        for c in table.columns
        if c.name not in skip and c.name != "updated_at"
    )


def test_a_second_publish_is_refused(published: Published, tmp_path: Path):
    p = published
    # A copy of the same vault taken before it was published (so not marked published there).
    copy = _copy(p.lead.paths.database.parent, tmp_path, "lead", p.lead)
    publish_from(p.lead)
    with pytest.raises(PublishRefused, match="published once"):
        publish_from(p.lead)
    # With its own lead device, the copy is refused by the server, and marked published too.
    with copy.open() as vault:
        from sim_desk.records.team import device

        device.forget(vault)
    with p.db.admin.connect(autocommit=True) as admin:
        again = create_invitation(
            admin,
            p.db.address,
            username="lead",
            role="team_lead",
            clinical=True,
            user_id=p.ids["lead"],
        )
    with copy.open() as vault:
        join_team(vault, again)
    changes_before = server_counts(p.db)
    with pytest.raises(PublishRefused, match=r"published to .* already"):
        publish_from(copy)
    assert server_counts(p.db) == changes_before
    with pytest.raises(PublishRefused, match="published once"):
        publish_from(copy)  # now refused on the laptop itself


def test_a_server_published_from_another_vault_refuses_a_second_vault(
    published: Published, tmp_path: Path
):
    p = published
    publish_from(p.lead)
    other = VaultPaths.at(tmp_path / "other" / "team.simvault")
    (tmp_path / "other").mkdir()
    unlock.create_vault(
        other,
        team_name="South",
        username="boss",
        display_name="Bo Boss",
        passphrase="boss passphrase six",
        clinical_lead=True,
    )
    with unlock.unlock(other, "boss", "boss passphrase six", dirs=_dirs(tmp_path)) as vault:
        boss_id = vault.actor.user_id
        people.create_person(
            vault,
            PersonDetails(given_name="Dee", family_name="Other", referred_on=date(2026, 1, 1)),
        )
    with p.db.admin.connect(autocommit=True) as admin:
        invitation = create_invitation(
            admin, p.db.address, username="boss", role="team_lead", clinical=True, user_id=boss_id
        )
    with unlock.unlock(other, "boss", "boss passphrase six", dirs=_dirs(tmp_path)) as vault:
        join_team(vault, invitation)
        rows_before = server_counts(p.db)
        with pytest.raises(PublishRefused, match="another vault"):
            publish(vault)
        assert sync.status(vault).syncing is False  # not a single record was sent
    assert server_counts(p.db) == rows_before


def test_only_a_team_lead_publishes(published: Published):
    p = published
    publish_from(p.lead)
    officer = invite_and_join(p, "officer", "officer", False)
    with officer.open() as vault, pytest.raises(Exception, match="team lead"):
        publish(vault)
    with officer.open() as vault, protocol.device_connection(vault_credential(vault)) as conn:
        for query in ("SELECT sim.publish_begin(%s, '[]'::jsonb)", "SELECT sim.publish_finish(%s)"):
            with pytest.raises(Exception) as refused:
                conn.execute(query, (uuid.uuid4(),))
            assert getattr(refused.value, "sqlstate", None) == "42501"
    assert ServerRefused  # the CLI's words for the same refusal


def test_a_publish_cut_short_is_carried_on(published: Published, monkeypatch):
    p = published
    expected = local_counts(p.lead)

    # Killed right after the first sync began and pulled: nothing was queued yet.
    def killed(vault):
        raise ServerUnreachable("killed")

    with monkeypatch.context() as m:
        m.setattr(sync, "queue_unsynced_records", killed)
        with pytest.raises(ServerUnreachable):
            publish_from(p.lead)
    assert server_counts(p.db) == {}
    with p.lead.open() as vault, vault.read() as session:
        assert session.execute(select(VaultMeta.published_at)).scalar_one() is None

    report = publish_from(p.lead)
    assert report.resumed
    assert server_counts(p.db) == {t: n for t, n in expected.items() if n}
    with pytest.raises(PublishRefused):
        publish_from(p.lead)


def test_reports_say_how_complete_they_are_after_syncs(published: Published):
    p = published
    publish_from(p.lead)
    officer = invite_and_join(p, "officer", "officer", False)
    clinician = invite_and_join(p, "clinician", "clinician", True)
    with officer.open() as vault:
        said = completeness.describe(completeness.completeness(vault), vault.now())
    assert said is not None and "never synced" in said
    clinician.clock = LaptopClock(step=timedelta(seconds=1))
    officer.sync()
    with officer.open() as vault:
        known = completeness.completeness(vault)
    assert known is not None and known.last_synced_at is not None
    # The lead synced (publishing); the clinician never has. Times only, never who.
    assert len(known.others) == 2
    assert all(o.user is None and o.device is None for o in known.others)
    assert sum(o.last_synced is None for o in known.others) == 1
    text = completeness.describe(known, known.last_synced_at)
    assert text is not None and text.startswith("As of the last sync at ")
    assert "1 laptop of the team never synced" in text
    # A lead is told whose laptops are behind.
    p.lead.sync()
    with p.lead.open() as vault:
        lead_view = completeness.completeness(vault)
    assert completeness.who_is_behind(lead_view) == ["clinician"]
    assert PASSPHRASES  # the laptops' passphrases come from the shared test set


def test_team_mode_reports_exports_and_summary_say_how_complete_they_are(
    published: Published, tmp_path: Path
):
    import json
    import os
    import subprocess
    import sys

    from sim_desk.exchange import export
    from sim_desk.reports.cohort_report import cohort_report_pdf
    from sim_desk.reports.person_report import person_report_pdf
    from tests.reports.conftest import pages

    p = published
    with p.lead.open() as vault:  # single-laptop mode: no word about syncs
        assert not any("last sync" in t for t in pages(cohort_report_pdf(vault)))
    publish_from(p.lead)
    invite_and_join(p, "officer", "officer", False)  # joined, never synced
    p.lead.sync()  # the lead learns of it at its next sync
    with p.lead.open() as vault:
        person_pdf = person_report_pdf(vault, p.people_a[0])
        cohort_pdf = cohort_report_pdf(vault)
        plan = export.plan_export(vault, k=3)
        export.write_export(vault, plan, tmp_path / "export")
    for pdf in (person_pdf, cohort_pdf):
        first = pages(pdf)[0]
        assert "How complete this is (team mode)" in first
        assert "As of the last sync at" in first
        assert "1 laptop of the team never synced" in first
    (tmp_path / "page.pdf").write_bytes(person_pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "page.pdf"),
            str(Path(os.environ.get("SIM_DESK_PAGE_PNG", tmp_path / "page"))),
        ],
        check=False,
    )
    dictionary = json.loads((tmp_path / "export" / "data_dictionary.json").read_text())
    team = dictionary["team_mode_completeness"]
    assert team["statement"].startswith("As of the last sync at")
    assert team["laptops_never_synced"] == 1 and team["other_laptops"] == 1
    summary = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim_desk",
            "summary",
            "--vault",
            str(p.lead.paths.database),
            "--user",
            "lead",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "SIM_DESK_PASSPHRASE": PASSPHRASES["lead"]},
        timeout=120,
    )
    assert "As of the last sync at" in summary.stdout, summary.stdout + summary.stderr
    assert "1 laptop of the team never synced" in summary.stdout


def _cli(*args: str):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "sim_desk", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SIM_DESK_PASSPHRASE": PASSPHRASES["lead"]},
        timeout=300,
    )


def test_the_lead_publishes_from_the_command_line_once(published: Published):
    p = published
    where = ("--vault", str(p.lead.paths.database), "--user", "lead")
    first = _cli("server", "publish", *where)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Published:" in first.stdout and "histories included" in first.stdout
    assert PASSPHRASES["lead"] not in first.stdout + first.stderr
    again = _cli("server", "publish", *where)
    assert again.returncode != 0
    assert "published once" in again.stderr and "sim-desk sync" in again.stderr


def test_an_officer_is_told_times_only_and_a_bad_publish_changes_nothing(published: Published):
    from psycopg.types.json import Jsonb

    p = published
    publish_from(p.lead)
    officer = invite_and_join(p, "officer", "officer", False)
    officer.sync()
    with officer.open() as vault, protocol.device_connection(vault_credential(vault)) as conn:
        row = conn.execute("SELECT sim.sync_done()").fetchone()
    assert row is not None
    answer = row[0]
    assert answer["lead"] is False and answer["laptops"]
    assert all(set(laptop) == {"last_synced"} for laptop in answer["laptops"])  # never who
    with p.lead.open() as vault, protocol.device_connection(vault_credential(vault)) as conn:
        row = conn.execute("SELECT sim.sync_done()").fetchone()
        assert row is not None and {lap["user"] for lap in row[0]["laptops"]} == {"officer"}
        with p.db.admin_connect() as admin:
            before = admin.execute(
                "SELECT (SELECT count(*) FROM sim.users), (SELECT finished_at FROM sim.publication)"
            ).fetchone()
        for bad in (
            [{"id": "not an id", "username": "x", "role": "officer"}],
            [
                {
                    "id": str(uuid.uuid4()),
                    "username": "two words",
                    "role": "officer",
                    "clinical": False,
                    "active": True,
                }
            ],
            [
                {
                    "id": str(uuid.uuid4()),
                    "username": "mallory",
                    "role": "officer",
                    "clinical": True,
                    "active": True,
                }
            ],
        ):
            with pytest.raises(Exception) as refused:
                conn.execute("SELECT sim.publish_begin(%s, %s)", (vault.vault_id, Jsonb(bad)))
            assert getattr(refused.value, "sqlstate", None) == "22023"
        # Someone else's name under a new id: refused as taken, nothing added.
        clash = conn.execute(
            "SELECT sim.publish_begin(%s, %s)",
            (
                uuid.uuid4(),
                Jsonb(
                    [
                        {
                            "id": str(uuid.uuid4()),
                            "username": "officer",
                            "role": "officer",
                            "clinical": False,
                            "active": True,
                        }
                    ]
                ),
            ),
        ).fetchone()
        assert clash is not None and clash[0]["status"] == "refused"
    with p.db.admin_connect() as admin:
        after = admin.execute(
            "SELECT (SELECT count(*) FROM sim.users), (SELECT finished_at FROM sim.publication)"
        ).fetchone()
    assert after == before


def test_a_revoked_laptop_no_longer_counts_as_behind(published: Published):
    p = published
    publish_from(p.lead)
    officer = invite_and_join(p, "officer", "officer", False)
    with officer.open() as vault:
        device_id = vault_credential(vault).device_id
    with p.lead.open() as vault, protocol.device_connection(vault_credential(vault)) as conn:
        assert protocol.revoke_device(conn, device_id)
    p.lead.sync()
    with p.lead.open() as vault:
        known = completeness.completeness(vault)
    assert known is not None and known.others == ()


def test_a_server_holding_records_from_other_laptops_refuses_to_be_published(
    new_database, _team_template, tmp_path: Path
):
    from tests.teamserver.conftest import build_world, person

    world = build_world(
        new_database(), _team_template, tmp_path / "world", names=("lead", "officer")
    )
    world.push(
        "officer", protocol.change("people", uuid.uuid4(), person(world.pair_a, "Eve", None))
    )
    lead = Laptop("lead", world.vault_paths, world.dirs)
    with pytest.raises(PublishRefused, match="did not come from this vault"):
        publish_from(lead)
    with world.db.admin_connect() as admin:
        assert admin.execute("SELECT count(*) FROM sim.publication").fetchone() == (0,)


def test_a_lead_without_clinical_access_is_refused_before_clinical_notes_are_lost(
    new_database, _team_template, tmp_path: Path
):
    source, _recovery, pair_a, _pair_b = _team_template
    shutil.copytree(source, tmp_path / "lead")
    lead = Laptop("lead", VaultPaths.at(tmp_path / "lead" / "team.simvault"), _dirs(tmp_path))
    with lead.open() as vault:
        lead_id = vault.actor.user_id
    person = lead.add_person("Fay", pair_a)
    lead.log_contact(person, "Met", "A clinical note")
    db = new_database()
    init_server(db.admin, team_name="North SIM")
    with db.admin.connect(autocommit=True) as admin:
        invitation = create_invitation(
            admin, db.address, username="lead", role="team_lead", clinical=False, user_id=lead_id
        )
    with lead.open() as vault:
        join_team(vault, invitation)
    with pytest.raises(PublishRefused, match="only a clinical lead's laptop"):
        publish_from(lead)
    assert server_counts(db) == {}
