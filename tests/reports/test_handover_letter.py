"""The handover letter: only what the person agreed to share with that partner, clinician-only
notes only when a clinician picks them, and every letter logged as a disclosure that an
officer's sign-in sees no more of than before."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from sim_desk.records import circle, contacts, incidents, people
from sim_desk.records.codes import SharingScope
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.incidents import DisclosureDetails
from sim_desk.records.model import AuditEvent, Disclosure
from sim_desk.records.people import ConsentDetails, PersonDetails
from sim_desk.reports.handover_letter import handover_letter_pdf, save_handover_letter
from tests.reports.conftest import all_text

NOTE = "Clinician-only: sertraline 100mg, sleeping better (CLIN-4417)"
GOALS = "Back to the allotment on Saturdays"
CRISIS = "Call my sister Ania first; I like to walk it off by the canal."
WANTS = "Mornings are better for me. Please write things down."


@pytest.fixture
def circle_of(officer, clinician):
    person = people.create_person(
        officer,
        PersonDetails(
            given_name="Łukasz",
            family_name="Wiśniewski",
            date_of_birth=date(1984, 3, 9),
            referred_on=date(2026, 1, 5),
            goals=GOALS,
            crisis_plan="(older plan)",
        ),
    )
    people.change_status(officer, person, "active", on=date(2026, 2, 1))
    people.record_consent(
        officer,
        person,
        ConsentDetails(
            taking_part=True,
            information_sharing=True,
            scope=SharingScope.TEAM_AND_PARTNERS.value,
            recorded_on=date(2026, 2, 1),
        ),
    )
    gp = circle.add_partner(
        officer,
        person,
        circle.PartnerDetails(
            service_type="gp_practice",
            organisation="Riverside Surgery",
            worker_name="Dr Amira Haddad",
            role="GP",
            how_to_reach="0161 496 0000",
            shares=["crisis_plan", "handover", "pair_contact"],
        ),
    )
    cmht = circle.add_partner(
        officer,
        person,
        circle.PartnerDetails(
            service_type="A06",
            organisation="North CMHT",
            worker_name="Grace Mensah",
            role="Care coordinator",
            shares=["crisis_plan", "goals", "health_notes", "referrals", "circle"],
        ),
    )
    housing = circle.add_partner(
        officer,
        person,
        circle.PartnerDetails(service_type="housing", organisation="Northside Housing"),
    )
    circle.record_referral(
        officer,
        person,
        circle.ReferralDetails(
            referred_on=date(2026, 9, 1), reason="Rent arrears", partner_id=housing
        ),
    )
    circle.save_handover_plan(
        officer,
        person,
        circle.HandoverDetails(
            agreed_on=date(2026, 10, 20),
            continuing_partner_id=cmht,
            person_wants_known=WANTS,
            crisis_plan=CRISIS,
            shared_with="Łukasz, Dr Haddad and Grace Mensah",
            check_in_on=date(2026, 12, 1),
        ),
    )
    noted = contacts.log_contact(
        clinician,
        person,
        ContactDetails(started_at=datetime(2026, 10, 1, 10, tzinfo=UTC), clinical_note=NOTE),
    )
    return person, gp, cmht, housing, noted


def test_letter_holds_only_what_the_person_agreed_to_share_with_that_partner(officer, circle_of):
    person, gp, _cmht, _housing, _noted = circle_of
    text = all_text(handover_letter_pdf(officer, person, gp))
    assert "Dr Amira Haddad" in text and "Łukasz Wiśniewski" in text
    assert CRISIS in text and WANTS in text  # crisis plan and handover: agreed
    assert "Pair A" in text and "Olu Officer" in text  # how to reach the pair: agreed
    assert GOALS not in text  # not agreed with the GP
    assert "Rent arrears" not in text and "Northside Housing" not in text
    assert "CLIN-4417" not in text and "(older plan)" not in text
    assert "OFFICIAL-SENSITIVE" in text


def test_clinical_notes_only_when_a_clinician_chooses_them(officer, clinician, circle_of):
    person, gp, cmht, _housing, noted = circle_of
    assert "CLIN-4417" not in all_text(handover_letter_pdf(clinician, person, cmht))
    text = all_text(handover_letter_pdf(clinician, person, cmht, clinical_note_ids=[noted]))
    assert "CLIN-4417" in text and "chosen for this letter by Cleo Clinician" in text
    assert GOALS in text and "Rent arrears" in text and "Northside Housing" in text
    with pytest.raises(PermissionDenied):
        handover_letter_pdf(officer, person, cmht, clinical_note_ids=[noted])
    with pytest.raises(ValidationError) as refused:  # the GP was not to have health notes
        handover_letter_pdf(clinician, person, gp, clinical_note_ids=[noted])
    assert refused.value.field == "clinical_note_ids"


def test_no_letter_without_agreement_or_after_consent_is_withdrawn(officer, circle_of):
    person, gp, _cmht, housing, _noted = circle_of
    with pytest.raises(ValidationError):
        handover_letter_pdf(officer, person, housing)  # nothing agreed with housing
    people.record_consent(
        officer,
        person,
        ConsentDetails(
            taking_part=True,
            information_sharing=True,
            scope=SharingScope.TEAM_AND_PARTNERS.value,
            recorded_on=date(2026, 2, 1),
            withdrawn_on=date(2026, 11, 1),
        ),
    )
    with pytest.raises(ValidationError):
        handover_letter_pdf(officer, person, gp)
    with officer.read() as session:
        assert session.execute(select(Disclosure)).first() is None


def test_each_letter_is_logged_and_officers_see_no_other_partner_disclosures(
    team, officer, clinician, circle_of
):
    person, gp, cmht, _housing, noted = circle_of
    handover_letter_pdf(clinician, person, cmht, clinical_note_ids=[noted])
    incidents.record_disclosure(
        clinician,
        person,
        DisclosureDetails(
            shared_at=datetime(2026, 10, 30, 9, tzinfo=UTC),
            what="Crisis plan",
            why="Welfare check",
            lawful_basis="vital_interests",
            person_asked="not_asked",
        ),
    )
    seen = incidents.list_disclosures(clinician, person)
    assert sorted(d.recipient for d in seen) == ["partner", "police"]
    letter = next(d for d in seen if d.recipient == "partner")
    assert letter.shared_with == "Grace Mensah, North CMHT" and "clinician-only" in letter.what
    # The officer sees what was shared with police, not the clinician's letter to the CMHT...
    assert [d.recipient for d in incidents.list_disclosures(officer, person)] == ["police"]
    # ...and their own letter once they write one.
    handover_letter_pdf(officer, person, gp)
    assert sorted(d.recipient for d in incidents.list_disclosures(officer, person)) == [
        "partner",
        "police",
    ]
    with officer.read() as session:
        details = (
            session.execute(
                select(AuditEvent.detail)
                .where(AuditEvent.entity_type == "disclosure")
                .order_by(AuditEvent.seq)
            )
            .scalars()
            .all()
        )
    partner_entries = [d for d in details if d.get("recipient") == "partner"]
    assert [d["clinical_notes"] for d in partner_entries] == [1, 0]
    assert all("CLIN" not in str(d) for d in details)


def test_letter_is_written_owner_only_and_a_page_renders(officer, circle_of, tmp_path):
    person, gp, *_ = circle_of
    path = tmp_path / "letter.pdf"
    save_handover_letter(path, officer, person, gp)
    assert path.stat().st_mode & 0o777 == 0o600
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
        check=True,
    )
    [png] = tmp_path.glob("page*.png")
    assert png.stat().st_size > 5_000
