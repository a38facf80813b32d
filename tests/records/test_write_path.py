"""The one write path: every row any use case writes passes the unit of work's choke point.

A witness hangs an observer on every unlocked vault (the hook the sync outbox will use), runs
each writing use case, import, bulk builder and the demo, and compares the rows the observer
saw with the rows that changed in the database, read back table by table. A meta-test finds
every public function in ``sim_desk`` that opens a write session and checks that one of these
scenarios ran it, so a new use case cannot slip past unchecked.
"""

from __future__ import annotations

import ast
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

import sim_desk
from sim_desk import demo
from sim_desk.exchange import calendar, csv_import, export
from sim_desk.records import bulk, circle, contacts, drafts, incidents, people, sync, visits
from sim_desk.records.codes import IncidentSource, IncidentType, Role
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.incidents import DisclosureDetails, IncidentDetails, S136Details
from sim_desk.records.model import (
    SYNC_TABLES,
    Base,
    Contact,
    Person,
    SyncChangedElsewhere,
    SyncOutboxEntry,
    SyncState,
)
from sim_desk.records.people import ConsentDetails, PersonDetails
from sim_desk.records.read_models import export_data, outcome_data, report_data
from sim_desk.records.sync import refused, review, standing
from sim_desk.records.sync.tables import BY_NAME, encode
from sim_desk.records.team import device, linkage_holders, users
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import nhs_number_check_digit
from sim_desk.records.vault import backup, rekey, unlock, verify
from sim_desk.records.vault.files import VaultPaths
from sim_desk.records.write_path import RowWrite, WriteOutsideThePath, WriteRecorder
from tests.conftest import PASSPHRASES, fixed_clock

CONTACT_NOTE = BY_NAME["contacts"].table.c.clinical_note

Row = tuple[str, uuid.UUID]
AT = datetime(2026, 10, 20, 14, 0, tzinfo=UTC)


def every_row(vault: UnlockedVault) -> dict[Row, tuple[Any, ...]]:
    """Every row of every table, keyed by (table, id)."""
    rows: dict[Row, tuple[Any, ...]] = {}
    with vault.read() as session:
        for table in Base.metadata.sorted_tables:
            key = next(iter(table.primary_key.columns)).name  # "id", or a device's id
            for row in session.execute(select(table)):
                rows[(table.name, getattr(row, key))] = tuple(row)
    return rows


def changed(before: dict[Row, tuple], after: dict[Row, tuple]) -> dict[Row, str]:
    """What changed in the records. The sync tables are left out: the outbox is what the sync
    observer itself writes from what it is shown, after the witness has seen it."""
    before = {k: v for k, v in before.items() if k[0] not in SYNC_TABLES}
    after = {k: v for k, v in after.items() if k[0] not in SYNC_TABLES}
    out = {key: "insert" for key in after.keys() - before.keys()}
    out |= {key: "delete" for key in before.keys() - after.keys()}
    out |= {key: "update" for key in before.keys() & after.keys() if before[key] != after[key]}
    return out


@dataclass
class Witness:
    """Sees what every vault's observers see, and which writing functions ran."""

    seen: WriteRecorder = field(default_factory=WriteRecorder)
    transactions: int = 0

    def observe(self, _session: Session, rows: list[RowWrite]) -> None:
        self.transactions += 1
        for row in rows:
            self.seen.note(row.table, row.row_id, row.op)

    def saw(self) -> dict[Row, str]:
        return {(r.table, r.row_id): r.op for r in self.seen.rows if r.table not in SYNC_TABLES}


@pytest.fixture
def witness(monkeypatch: pytest.MonkeyPatch) -> Witness:
    """Observes every vault unlocked from now on, as the sync outbox will."""
    seen = Witness()
    real_init = UnlockedVault.__init__

    def init(self: UnlockedVault, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        self.write_observers.append(seen.observe)

    monkeypatch.setattr(UnlockedVault, "__init__", init)
    return seen


class Steps:
    """Runs use cases one by one, each checked: the rows the observers saw are exactly the rows
    that changed in the database, and something was written (each writes an audit entry at
    least, so a step that changed nothing did not run what it meant to)."""

    def __init__(self, witness: Witness) -> None:
        self.witness = witness
        self.problems: list[str] = []
        self.steps = 0

    def run(
        self, vault: UnlockedVault, label: str, action: Callable[[], Any], *, writes: bool = True
    ) -> Any:
        before = every_row(vault)
        self.witness.seen = WriteRecorder()
        result = action()
        after = every_row(vault)
        real, seen = changed(before, after), self.witness.saw()
        self.steps += 1
        if not real and writes:
            self.problems.append(f"{label}: changed nothing")
        elif real != seen:
            missed = sorted(f"{k[0]} {v}" for k, v in real.items() if seen.get(k) != v)
            extra = sorted(f"{k[0]} {v}" for k, v in seen.items() if real.get(k) != v)
            self.problems.append(f"{label}: not seen {missed}, seen but not so {extra}")
        return result

    def unchanged(self, vault: UnlockedVault, label: str, action: Callable[[], Any]) -> Any:
        """A dry run: nothing may change and nothing be seen."""
        before = every_row(vault)
        self.witness.seen = WriteRecorder()
        result = action()
        if changed(before, every_row(vault)) or self.witness.saw():
            self.problems.append(f"{label}: a dry run wrote")
        return result


def nhs_number(serial: int) -> str:
    for n in range(serial * 100, serial * 100 + 100):
        first_nine = f"{400_000_000 + n:09d}"
        check = nhs_number_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
    raise AssertionError("no valid check digit")


def details(**extra: Any) -> PersonDetails:
    return PersonDetails(
        given_name="Zofia",
        family_name="Wójcik",
        date_of_birth=date(1990, 5, 17),
        referred_on=date(2026, 1, 10),
        **extra,
    )


def s136(when: datetime) -> IncidentDetails:
    return IncidentDetails(
        occurred_at=when,
        incident_type=IncidentType.S136,
        source=IncidentSource.POLICE,
        s136=S136Details(detained_at=when, places=[]),
    )


def csv_file(folder: Path, name: str, columns: tuple[str, ...], rows: list[dict[str, str]]) -> Path:
    path = folder / name
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def test_every_writing_use_case_passes_the_choke_point(team, witness, tmp_path):
    steps = Steps(witness)
    with team.unlock("officer") as officer:
        person = steps.run(
            officer, "create_person", lambda: people.create_person(officer, details())
        )
        steps.run(
            officer,
            "update_person",
            lambda: people.update_person(officer, person, details(preferred_name="Zosia")),
        )
        steps.run(
            officer,
            "record_consent",
            lambda: people.record_consent(
                officer,
                person,
                ConsentDetails(
                    taking_part=True, information_sharing=True, recorded_on=date(2026, 2, 1)
                ),
            ),
        )
        steps.run(
            officer,
            "add_key_contact",
            lambda: people.add_key_contact(officer, person, name="Ania", relationship="Sister"),
        )
        steps.run(
            officer,
            "change_status",
            lambda: people.change_status(officer, person, "active", on=date(2026, 2, 1)),
        )
        partner = steps.run(
            officer,
            "add_partner",
            lambda: circle.add_partner(
                officer,
                person,
                circle.PartnerDetails(service_type="A06", organisation="North CMHT"),
            ),
        )
        steps.run(
            officer,
            "amend_partner",
            lambda: circle.amend_partner(
                officer,
                partner,
                circle.PartnerDetails(
                    service_type="A06", organisation="North CMHT", worker_name="Sam Care"
                ),
                reason="care coordinator named",
            ),
        )
        referral = steps.run(
            officer,
            "record_referral",
            lambda: circle.record_referral(
                officer,
                person,
                circle.ReferralDetails(
                    referred_on=date(2026, 9, 1), reason="Housing worry", partner_id=partner
                ),
            ),
        )
        steps.run(
            officer,
            "amend_referral",
            lambda: circle.amend_referral(
                officer,
                referral,
                circle.ReferralDetails(
                    referred_on=date(2026, 9, 2), reason="Housing worry", partner_id=partner
                ),
                reason="wrong day",
            ),
        )
        steps.run(
            officer,
            "update_referral_status",
            lambda: circle.update_referral_status(
                officer, referral, circle.StatusUpdate("accepted", on=date(2026, 9, 20))
            ),
        )
        steps.run(
            officer,
            "save_handover_plan",
            lambda: circle.save_handover_plan(
                officer,
                person,
                circle.HandoverDetails(agreed_on=date(2026, 10, 1), continuing_partner_id=partner),
            ),
        )
        steps.run(officer, "view_person", lambda: people.view_person(officer, person))
        contact = steps.run(
            officer,
            "log_contact",
            lambda: contacts.log_contact(
                officer, person, ContactDetails(started_at=AT, shared_note="Walked to the park")
            ),
        )
        steps.run(
            officer,
            "amend_contact",
            lambda: contacts.amend_contact(
                officer,
                contact,
                ContactDetails(started_at=AT, shared_note="Walked to the park and back"),
                reason="typo",
            ),
        )
        plan = steps.run(
            officer,
            "plan_visits",
            lambda: visits.plan_visits(
                officer,
                person,
                visits.PlanDetails(
                    frequency="fortnightly", first_visit_at=AT + timedelta(days=30), occurrences=4
                ),
            ),
        )
        due = visits.list_planned_visits(officer, person)
        steps.run(officer, "mark_visit", lambda: visits.mark_visit(officer, due[0].id, "cancelled"))
        steps.run(
            officer,
            "reschedule_visit",
            lambda: visits.reschedule_visit(
                officer, due[1].id, due[1].due_at + timedelta(days=1), reason="holiday"
            ),
        )
        steps.run(
            officer,
            "end_plan",
            lambda: visits.end_plan(officer, plan, due[2].due_on, reason="moving on"),
        )
        incident = steps.run(
            officer, "record_incident", lambda: incidents.record_incident(officer, person, s136(AT))
        )
        steps.run(
            officer,
            "update_incident",
            lambda: incidents.update_incident(
                officer, incident, s136(AT - timedelta(hours=1)), reason="wrong time"
            ),
        )
        count = steps.run(
            officer,
            "record_baseline_count",
            lambda: incidents.record_baseline_count(
                officer,
                person,
                IncidentType.S136,
                date(2025, 1, 1),
                date(2025, 12, 31),
                3,
                "police",
            ),
        )
        steps.run(
            officer,
            "update_baseline_count",
            lambda: incidents.update_baseline_count(
                officer,
                count,
                IncidentType.S136,
                date(2025, 1, 1),
                date(2025, 12, 31),
                4,
                "police",
                reason="recounted",
            ),
        )
        draft = steps.run(
            officer,
            "save_draft",
            lambda: drafts.save_draft(
                officer, kind="contact", title="Visit", context={}, values={"note": "half"}
            ),
        )
        # it writes only to drop drafts past their time
        steps.run(officer, "list_drafts", lambda: drafts.list_drafts(officer), writes=False)
        steps.run(officer, "discard_draft", lambda: drafts.discard_draft(officer, draft))
        credential = device.DeviceCredential(
            team_id=uuid.uuid4(),
            team_name="North SIM",
            host="sim.example",
            port=5432,
            database="simdesk",
            ca_pem="-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
            device_id=uuid.uuid4(),
            login_role="simdesk_d_" + uuid.uuid4().hex,
            server_user_id=uuid.uuid4(),
            server_username="officer",
            role="officer",
            secret="s" * 43,
            private_key=b"p" * 32,
            public_key=b"q" * 32,
        )
        steps.run(officer, "save_pending", lambda: device.save_pending(officer, credential))
        steps.run(officer, "activate", lambda: device.activate(officer, credential.device_id))
        steps.run(officer, "forget", lambda: device.forget(officer))
        steps.run(
            officer,
            "bulk.add_contacts",
            lambda: bulk.add_contacts(
                officer,
                [(person, ContactDetails(started_at=AT + timedelta(days=i))) for i in (1, 2)],
            ),
        )
        steps.run(
            officer,
            "bulk.add_incidents",
            lambda: bulk.add_incidents(officer, [(person, s136(AT + timedelta(days=3)))]),
        )
        planned = steps.run(
            officer,
            "bulk.plan_visits",
            lambda: bulk.plan_visits(
                officer,
                [
                    (
                        person,
                        visits.PlanDetails(frequency="weekly", first_visit_at=AT, occurrences=2),
                    )
                ],
            ),
        )
        first = planned[0].visits[0][0]
        steps.run(
            officer,
            "bulk.mark_visits",
            lambda: bulk.mark_visits(officer, [(first, "cancelled", None)]),
        )
        people_csv = csv_file(
            tmp_path,
            "people.csv",
            csv_import.PEOPLE_COLUMNS,
            [
                {
                    "given_name": "Amara",
                    "family_name": "Okafor",
                    "date_of_birth": "1988-02-03",
                    "nhs_number": nhs_number(1),
                    "referred_on": "2026-01-10",
                }
            ],
        )
        steps.unchanged(
            officer,
            "import_people dry run",
            lambda: csv_import.import_people(officer, people_csv, dry_run=True),
        )
        steps.run(officer, "import_people", lambda: csv_import.import_people(officer, people_csv))
        incidents_csv = csv_file(
            tmp_path,
            "incidents.csv",
            csv_import.INCIDENT_COLUMNS,
            [
                {
                    "nhs_number": nhs_number(1),
                    "occurred_at": "2026-03-04 21:15",
                    "incident_type": IncidentType.S136.value,
                    "source": IncidentSource.POLICE.value,
                }
            ],
        )
        steps.unchanged(
            officer,
            "import_incidents dry run",
            lambda: csv_import.import_incidents(officer, incidents_csv, dry_run=True),
        )
        steps.run(
            officer, "import_incidents", lambda: csv_import.import_incidents(officer, incidents_csv)
        )
        referrals_csv = csv_file(
            tmp_path,
            "referrals.csv",
            csv_import.REFERRAL_COLUMNS,
            [
                {
                    "nhs_number": nhs_number(1),
                    "referred_on": "2026-03-05",
                    "to_whom": "Northside Housing",
                    "service_type": "housing",
                    "reason": "Rent arrears",
                    "status": "accepted",
                    "status_on": "2026-03-20",
                }
            ],
        )
        steps.unchanged(
            officer,
            "import_referrals dry run",
            lambda: csv_import.import_referrals(officer, referrals_csv, dry_run=True),
        )
        steps.run(
            officer, "import_referrals", lambda: csv_import.import_referrals(officer, referrals_csv)
        )

    with team.unlock("clinician") as clinician:
        noted = steps.run(
            clinician,
            "log_contact with a clinical note",
            lambda: contacts.log_contact(
                clinician, person, ContactDetails(started_at=AT, clinical_note="Low mood")
            ),
        )
        steps.run(
            clinician,
            "amend a clinical note",
            lambda: contacts.amend_contact(
                clinician, noted, ContactDetails(started_at=AT, clinical_note="Low mood, eating")
            ),
        )
        steps.run(
            clinician,
            "amend a contact and its clinical note",
            lambda: contacts.amend_contact(
                clinician,
                noted,
                ContactDetails(started_at=AT, place="Home", clinical_note="Low mood, eating well"),
            ),
        )
        steps.run(
            clinician, "read_clinical_note", lambda: contacts.read_clinical_note(clinician, noted)
        )
        steps.run(
            clinician,
            "read_revision_clinical_note",
            lambda: contacts.read_revision_clinical_note(clinician, noted, 1),
        )
        steps.run(
            clinician,
            "read_earlier_note",
            lambda: contacts.read_earlier_note(clinician, noted, 1),
        )
        with clinician.write() as session:  # what a pull keeps when another laptop's note wins
            note = session.execute(select(Contact.clinical_note).where(Contact.id == noted))
            kept = SyncChangedElsewhere(
                id=uuid.uuid4(),
                table_name="contacts",
                row_id=noted,
                person_id=person,
                kind="changed",
                overwritten={"clinical_note": encode(CONTACT_NOTE, note.scalar_one())},
            )
            session.add(kept)
        steps.run(
            clinician,
            "read_overwritten_note",
            lambda: review.read_overwritten_note(clinician, kept.id),
        )
        steps.run(
            clinician,
            "record_disclosure",
            lambda: incidents.record_disclosure(
                clinician,
                person,
                DisclosureDetails(
                    shared_at=AT,
                    what="Crisis plan",
                    why="Welfare call",
                    lawful_basis="vital_interests",
                    person_asked="not_asked",
                    shared_with="Response team",
                ),
            ),
        )
        people.record_consent(
            clinician,
            person,
            ConsentDetails(
                taking_part=True,
                information_sharing=True,
                scope="team_and_partners",
                recorded_on=date(2026, 10, 1),
            ),
        )
        gp = circle.add_partner(
            clinician,
            person,
            circle.PartnerDetails(
                service_type="gp_practice", organisation="Riverside", shares=["crisis_plan"]
            ),
        )
        steps.run(
            clinician,
            "handover_letter",
            lambda: circle.handover_letter(clinician, person, gp),
        )

    with team.unlock("lead") as lead:
        leaver = steps.run(
            lead,
            "add_user",
            lambda: users.add_user(
                lead,
                username="temp",
                display_name="Tem Porary",
                role=Role.OFFICER,
                passphrase="a temporary passphrase",
            ),
        )
        steps.run(
            lead,
            "set_passphrase",
            lambda: users.set_passphrase(lead, leaver, "another temporary passphrase"),
        )
        steps.run(
            lead,
            "change_own_passphrase",
            lambda: users.change_own_passphrase(
                lead, PASSPHRASES["lead"], PASSPHRASES["lead"] + "!"
            ),
        )
        pair = steps.run(
            lead,
            "create_pair",
            lambda: people.create_pair(
                lead, name="Pair C", officer_id=leaver, clinician_id=clinician.actor.user_id
            ),
        )
        steps.run(lead, "assign_pair", lambda: people.assign_pair(lead, person, pair))
        steps.run(lead, "assign back", lambda: people.assign_pair(lead, person, team.pair_id))
        steps.run(lead, "remove_user", lambda: users.remove_user(lead, leaver))
        analyst_id = next(u.id for u in users.list_users(lead) if u.username == "analyst")
        steps.run(lead, "grant_linkage", lambda: export_data.grant_linkage(lead, analyst_id))
        steps.run(lead, "revoke_linkage", lambda: export_data.revoke_linkage(lead, analyst_id))
        steps.run(lead, "grant again", lambda: export_data.grant_linkage(lead, analyst_id))
        steps.run(
            lead,
            "holder_left",
            lambda: linkage_holders.holder_left(lead, analyst_id, role="analyst"),
        )
        steps.run(lead, "cohort_outcomes", lambda: outcome_data.cohort_outcomes(lead))
        steps.run(lead, "audit_report", lambda: report_data.audit_report(lead, "cohort", months=12))
        # writes only when there are tampering findings to mark (none in a sound vault)
        steps.run(
            lead,
            "mark_findings_reviewed",
            lambda: verify.mark_findings_reviewed(lead),
            writes=False,
        )
        steps.run(lead, "backup_vault", lambda: backup.backup_vault(lead, tmp_path / "b.simbackup"))
        renewed = steps.run(lead, "renew_recovery_key", lambda: rekey.renew_recovery_key(lead))
        steps.run(
            lead,
            "confirm_recovery_key",
            lambda: rekey.confirm_recovery_key(lead, renewed.slot_id),
        )
        steps.run(lead, "rotate_keys", lambda: rekey.rotate_keys(lead, new_recovery=False))

    assert "\n".join(steps.problems) == ""
    assert steps.steps >= 45


def test_the_sync_use_cases_pass_the_choke_point_and_feed_the_outbox(team, witness):
    """Once a vault syncs, every write also queues a change in the same transaction; applying
    a pull writes records through the same path but queues nothing."""
    steps = Steps(witness)
    with team.unlock("officer") as officer:
        steps.run(officer, "begin", lambda: sync.begin(officer, uuid.uuid4(), "incarnation-1"))
        steps.run(
            officer,
            "queue_unsynced_records",
            lambda: sync.queue_unsynced_records(officer),
            writes=False,  # nothing an officer may publish: the pairs are a lead's
        )
        person = steps.run(
            officer, "create_person", lambda: people.create_person(officer, details())
        )
        queued = sync.pending_changes(officer)
        # the template's pairs are a lead's to publish, not an officer's
        assert {c["table"] for c in queued} == {"people", "person_status_changes"}
        assert any(c["row_id"] == str(person) and c["op"] == "upsert" for c in queued)
        steps.run(
            officer,
            "record_push",
            lambda: sync.record_push(
                officer,
                [
                    {"change_id": c["change_id"], "status": "accepted", "seq": n}
                    for n, c in enumerate(queued, 1)
                ],
                now=AT,
            ),
            writes=False,
        )
        remote = uuid.uuid4()
        pulled = {
            "cursor": len(queued) + 1,
            "incarnation": "incarnation-1",
            "changes": [
                {
                    "seq": len(queued) + 1,
                    "change_id": str(uuid.uuid4()),
                    "table": "people",
                    "row_id": str(remote),
                    "person_id": str(remote),
                    "op": "upsert",
                    "hlc": 1 << 50,
                    "payload": {
                        "given_name": "Remote",
                        "family_name": "Person",
                        "referred_on": "2026-01-05",
                        "status": "referred",
                        "ethnic_category": "99",
                        "gender": "X",
                        "interpreter_needed": False,
                        "pair_id": str(team.pair_id),
                        "created_at": "2026-10-01T10:00:00+00:00",
                        "updated_at": "2026-10-01T10:00:00+00:00",
                    },
                }
            ],
        }
        before = len(queued)
        steps.run(officer, "apply_pull", lambda: sync.apply_pull(officer, pulled, now=AT))
        with officer.read() as session:
            left = session.execute(select(SyncOutboxEntry)).scalars().all()
        assert all(entry.row_id != remote for entry in left)  # a pull queues nothing
        assert len(left) <= before
        steps.run(
            officer,
            "mark_changed_elsewhere_seen",
            lambda: sync.mark_changed_elsewhere_seen(
                officer, [c.id for c in sync.changed_elsewhere(officer)]
            ),
            writes=False,  # nothing was changed elsewhere here
        )
        steps.run(officer, "restamp_ahead", lambda: sync.restamp_ahead(officer, AT), writes=False)
        steps.run(officer, "note_error", lambda: sync.note_error(officer, "x"), writes=False)

        # Changes the server refused: sent again, refused again, then set aside.
        people.create_person(officer, details())

        def refuse_all() -> list[uuid.UUID]:
            waiting = sync.pending_changes(officer)
            answers = [
                {"change_id": c["change_id"], "status": "refused", "code": "invalid"}
                for c in waiting
            ]
            sync.record_push(officer, answers, now=AT)
            return [uuid.UUID(c["change_id"]) for c in waiting]

        refused_ids = refuse_all()
        assert refused_ids
        steps.run(officer, "send_again", lambda: refused.send_again(officer, refused_ids[:1]))
        assert refuse_all()
        steps.run(officer, "set_aside", lambda: refused.set_aside(officer, refused_ids))
    assert "\n".join(steps.problems) == ""


def test_the_leavers_use_cases_pass_the_choke_point(team, witness):
    """Learning the team's replica expiry, keeping the latest time seen as a vault is unlocked,
    and erasing a revoked laptop's replica all go through the one write path; the erasure
    queues nothing to send."""
    steps = Steps(witness)
    with team.unlock("officer") as officer:
        steps.run(officer, "begin", lambda: sync.begin(officer, uuid.uuid4(), "incarnation-1"))
        steps.run(officer, "create_person", lambda: people.create_person(officer, details()))
        steps.run(
            officer,
            "record_check_in",
            lambda: standing.record_check_in(officer, server_time=AT, expiry_days=400),
        )
        steps.run(
            officer,
            "check_unlock",
            lambda: standing.check_unlock(officer),
            writes=False,  # only the latest time seen, in sync_state (left out of the compare)
        )
        with officer.read() as session:
            assert session.execute(select(SyncState.latest_seen_at)).scalar_one() > AT
        erased = steps.run(
            officer, "erase_replica", lambda: standing.erase_replica(officer, uuid.uuid4())
        )
        assert erased.people == 1 and erased.unsent_changes >= 1
        with officer.read() as session:
            assert session.execute(select(SyncOutboxEntry)).first() is None
            assert session.execute(select(Person)).first() is None
    assert "\n".join(steps.problems) == ""


def test_publishing_and_the_teams_syncs_pass_the_choke_point(team, witness):
    """Issue 20: the publish notes and the team's last syncs are written like any record."""
    from sim_desk.records.sync import completeness, publishing

    steps = Steps(witness)
    with team.unlock("lead") as lead:
        steps.run(lead, "begin", lambda: sync.begin(lead, uuid.uuid4(), "incarnation-1"))
        answer = {
            "synced_at": "2026-12-03T14:05:00+00:00",
            "lead": True,
            "laptops": [{"last_synced": None, "user": "officer", "device": str(uuid.uuid4())}],
        }
        steps.run(
            lead,
            "note_team_syncs",
            lambda: completeness.note_team_syncs(lead, answer),
            writes=False,  # sync_state only, which the comparison leaves out
        )
        with lead.read() as session:
            state = sync.outbox.sync_state(session)
            assert state is not None and state.team_syncs is not None
            assert state.team_syncs[0]["user"] == "officer"
        team_id = uuid.uuid4()
        steps.run(lead, "note_started", lambda: publishing.note_started(lead, team_id))
        steps.run(
            lead,
            "mark_published",
            lambda: publishing.mark_published(lead, "the team server h/db", team_id, 7),
        )
    assert "\n".join(steps.problems) == ""


def test_the_demo_export_and_calendar_pass_the_choke_point(witness, tmp_path, monkeypatch):
    """The demo writes only through use cases: every row in a new demo vault was seen, but the
    rows that creating any vault writes (before anyone can sign in to record anything)."""
    monkeypatch.setenv("SIM_DESK_HOME", str(tmp_path / "home"))

    def unseen_rows(paths: VaultPaths, passphrase: str) -> Counter[str]:
        with unlock.unlock(paths, "lead", passphrase, clock=fixed_clock) as vault:
            return Counter(table for table, _ in every_row(vault).keys() - witness.saw().keys())

    empty = VaultPaths.at(tmp_path / "empty" / "empty.simvault")
    witness.seen = WriteRecorder()
    unlock.create_vault(
        empty,
        team_name="Empty",
        username="lead",
        display_name="Lee Lead",
        passphrase=PASSPHRASES["lead"],
        clinical_lead=True,
        clock=fixed_clock,
    )
    created = unseen_rows(empty, PASSPHRASES["lead"])
    assert created and set(created) <= {"vault_meta", "users", "audit_events"}

    paths = VaultPaths.at(tmp_path / "demo" / "demo.simvault")
    witness.seen = WriteRecorder()
    demo.build_demo_vault(paths, people=12, seed=3)
    assert unseen_rows(paths, demo.DEMO_LOGINS["lead"][0]) == created
    seen = witness.saw()
    assert all(op == "insert" for op in seen.values())
    assert len(seen) > 500  # people, contacts, visits, incidents, their audit entries

    steps = Steps(witness)
    with unlock.unlock(paths, "analyst", demo.DEMO_LOGINS["analyst"][0]) as analyst:
        plan = export.plan_export(analyst)
        steps.run(
            analyst,
            "write_export",
            lambda: export.write_export(analyst, plan, tmp_path / "export"),
        )
    with unlock.unlock(paths, "officer", demo.DEMO_LOGINS["officer"][0]) as officer:
        planned = calendar.plan_calendar(officer)
        steps.run(
            officer,
            "write_calendar",
            lambda: calendar.write_calendar(officer, planned, tmp_path / "visits.ics"),
        )
    assert steps.problems == []


def test_writes_around_the_unit_of_work_are_refused(officer):
    person = people.create_person(officer, details())
    with pytest.raises(WriteOutsideThePath), officer.read() as session:
        session.execute(update(Person).where(Person.id == person).values(gender="1"))
    with pytest.raises(WriteOutsideThePath), officer.write() as session:
        session.execute(text("UPDATE people SET gender = '1'"))
    with pytest.raises(WriteOutsideThePath), officer.engine.begin() as conn:
        conn.execute(update(Person).values(gender="1"))
    assert people.view_person(officer, person).details.gender != "1"


def writing_functions() -> list[tuple[str, str]]:
    """(module, function) of every public function in sim_desk, outside the UI and the CLI,
    that opens a write session or a batch."""
    root = Path(sim_desk.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[1] in ("ui", "cli") or parts[-1] == "__main__":
            continue
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.FunctionDef)
                and not node.name.startswith("_")
                and any(
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in ("write", "batch")
                    and not call.args
                    for call in ast.walk(node)
                )
            ):
                found.append((module, node.name))
    return found


def test_every_function_that_writes_is_run_by_a_test_here():
    """A new use case that writes must join a scenario above (it is checked by name: the
    scenarios call each by its name, and each step checks it changed something)."""
    here = {
        node.attr if isinstance(node, ast.Attribute) else node.id
        for node in ast.walk(ast.parse(Path(__file__).read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute | ast.Name)
    }
    writers = writing_functions()
    assert len(writers) > 40
    assert [f"{m}.{n}" for m, n in writers if n not in here] == []


def test_the_team_key_use_cases_pass_the_choke_point(team, witness):
    """Issue 20: what a laptop keeps of the team's keys is written through the one path too."""
    from sim_desk.records.team import keyring

    steps = Steps(witness)
    device_id = uuid.uuid4()
    with team.unlock("lead") as lead:
        steps.run(
            lead,
            "remember_invitation",
            lambda: keyring.remember_invitation(lead, device_id, "s" * 43, "clinician", True),
        )
        steps.run(
            lead,
            "trust_devices",
            lambda: keyring.trust_devices(
                lead, [keyring.Trusted(device_id, b"\x01" * 32, "clinician", True, "invitee")]
            ),
        )
        steps.run(
            lead,
            "store_team_key",
            lambda: keyring.store_team_key(lead, "clinical", 2, b"\x02" * 32, False),
        )
        steps.run(lead, "forget_team_key", lambda: keyring.forget_team_key(lead, "clinical", 2))
    assert steps.problems == []


def test_notes_resealed_under_the_teams_epoch_pass_the_choke_point(team, witness):
    """Issue 20: a note written under this vault's own key before the team's key came is
    moved to the team's epoch through the one path (and so queued as an ordinary change)."""
    from sim_desk.records.team import keyring, own_notes

    steps = Steps(witness)
    with team.unlock("clinician") as clinician:
        person = steps.run(
            clinician, "create_person", lambda: people.create_person(clinician, details())
        )
        steps.run(
            clinician,
            "log_contact",
            lambda: contacts.log_contact(
                clinician, person, ContactDetails(started_at=AT, clinical_note="Low mood")
            ),
        )
        steps.run(
            clinician,
            "store_team_key",
            lambda: keyring.store_team_key(clinician, "clinical", 2, b"\x02" * 32, True),
        )
        clinician.forget_clinical_keyring()
        moved = steps.run(
            clinician, "reseal_own_notes", lambda: own_notes.reseal_own_notes(clinician)
        )
        assert moved == 1
    assert steps.problems == []


def test_the_team_server_use_cases_of_the_app_pass_the_choke_point(team, witness):
    """Issue 21: colleagues from the team's users directory, a merge proposal the lead has dealt
    with, and leaving the team (its final erasure, here with the server out of reach)."""
    from sim_desk.records.sync import proposals
    from sim_desk.records.team import directory
    from sim_desk.teamserver import leaving

    steps = Steps(witness)
    with team.unlock("lead") as lead:
        colleague = directory.DirectoryUser(
            uuid.uuid4(), "newcolleague", "New Colleague", "officer", False, True
        )
        update = steps.run(
            lead,
            "bring_users_up_to_date",
            lambda: directory.bring_users_up_to_date(lead, [colleague]),
        )
        assert update.added == 1
        steps.run(lead, "begin", lambda: sync.begin(lead, uuid.uuid4(), "incarnation-1"))
        one, other = (people.create_person(lead, details()) for _ in range(2))
        offered = {"id": str(uuid.uuid4()), "person_id": str(one), "other_person_id": str(other)}
        answer = {"cursor": 1, "merge_proposals": [{**offered, "matched_on": "nhs_number"}]}
        sync.apply_pull(lead, answer, now=AT)
        (proposal,) = proposals.merge_proposals(lead)
        steps.run(
            lead,
            "forget_merge_proposal",
            lambda: proposals.forget_merge_proposal(lead, proposal.id),
        )
        credential = device.DeviceCredential(
            team_id=uuid.uuid4(),
            team_name="North SIM",
            host="127.0.0.1",
            port=1,  # nothing listens: the laptop leaves all the same
            database="simdesk",
            ca_pem="-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
            device_id=uuid.uuid4(),
            login_role="simdesk_d_" + uuid.uuid4().hex,
            server_user_id=uuid.uuid4(),
            server_username="lead",
            role="team_lead",
            secret="s" * 43,
            private_key=b"p" * 32,
            public_key=b"q" * 32,
        )
        device.save_pending(lead, credential)
        device.activate(lead, credential.device_id)
        left = steps.run(lead, "erase_and_leave", lambda: leaving.erase_and_leave(lead))
        assert left.erased.people == 2 and not left.revoked_on_server
        assert device.device_credential(lead) is None
    assert "\n".join(steps.problems) == ""


def test_an_analysts_first_sync_passes_the_choke_point(team, witness):
    """An analyst's copied vault is cleared at its first sync, queueing nothing for the server."""
    with team.unlock("lead") as lead:
        people.create_person(lead, details())
    steps = Steps(witness)
    with team.unlock("analyst") as analyst:
        steps.run(analyst, "begin", lambda: sync.begin(analyst, uuid.uuid4(), "incarnation-1"))
        cleared = steps.run(
            analyst, "clear_analyst_copy", lambda: standing.clear_analyst_copy(analyst)
        )
        assert cleared >= 1
        with analyst.read() as session:
            assert session.execute(select(Person)).first() is None
            assert session.execute(select(SyncOutboxEntry)).first() is None
    assert "\n".join(steps.problems) == ""


def test_the_recovery_key_syncing_as_the_replicas_user_passes_the_choke_point(team, witness):
    """The recovery key stands in for the user a replica belongs to; the audit entry it leaves
    is written through the one path."""
    steps = Steps(witness)
    with team.unlock("officer") as officer:
        sync.begin(officer, uuid.uuid4(), "incarnation-1")
    recovery = unlock.unlock_with_recovery_key(
        team.paths, team.recovery_key, dirs=team.dirs, clock=team.clock
    )
    with recovery:

        def sync_as_its_user() -> str:
            with standing.syncing_for_its_user(recovery):
                return recovery.actor.username

        assert steps.run(recovery, "syncing_for_its_user", sync_as_its_user) == "officer"
        assert recovery.actor.is_recovery
    assert "\n".join(steps.problems) == ""


def test_inserts_noted_at_once_are_recorded_as_noted_one_by_one() -> None:
    """The bulk path notes a batch's rows at once: the record, and what a savepoint rolled
    back takes away, are those of noting them one by one (a row written earlier in the
    transaction included)."""
    ids = [uuid.uuid4() for _ in range(5)]
    earlier = ids[2]
    recorders = [WriteRecorder(), WriteRecorder()]
    for recorder in recorders:
        recorder.note("people", earlier, "delete")
        recorder.note("contacts", ids[0], "update")
    marks = [recorder.mark() for recorder in recorders]
    recorders[0].note_inserts("people", ids)
    for row_id in ids:
        recorders[1].note("people", row_id, "insert")
    fresh = [uuid.uuid4() for _ in range(3)]
    recorders[0].note_inserts("people", fresh)
    for row_id in fresh:
        recorders[1].note("people", row_id, "insert")
    assert list(recorders[0].rows) == list(recorders[1].rows)
    assert recorders[0].rows[-1] == RowWrite("people", fresh[-1], "insert")
    assert len(recorders[0].rows) == 2 + 4 + 3
    for recorder, mark in zip(recorders, marks, strict=True):
        recorder.roll_back_to(mark)
    assert (
        list(recorders[0].rows)
        == list(recorders[1].rows)
        == [
            RowWrite("people", earlier, "delete"),
            RowWrite("contacts", ids[0], "update"),
        ]
    )
