"""The circle of support: partners, onward referrals and the handover plan, on a real vault."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from sim_desk.records import circle, people
from sim_desk.records.circle import (
    HandoverDetails,
    PartnerDetails,
    ReferralDetails,
    ReferralStatus,
    ServiceType,
    ShareItem,
    StatusUpdate,
)
from sim_desk.records.codes import ExitReason, PersonStatus, SharingScope
from sim_desk.records.errors import NotFound, PermissionDenied, ValidationError
from sim_desk.records.model import AuditEvent, PersonStatusChange
from sim_desk.records.people import ConsentDetails, PersonDetails
from sim_desk.records.read_models import caseload

TODAY = date(2026, 11, 2)  # FIXED_NOW in tests/conftest.py


def audit_events(vault, entity_type):
    with vault.read() as session:
        return session.execute(
            select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.detail)
            .where(AuditEvent.entity_type == entity_type)
            .order_by(AuditEvent.seq)
        ).all()


@pytest.fixture
def person_id(officer):
    person = people.create_person(
        officer,
        PersonDetails(given_name="Siobhán", family_name="Ní Bhriain", referred_on=date(2026, 1, 5)),
    )
    people.change_status(officer, person, PersonStatus.ACTIVE, on=date(2026, 2, 1))
    return person


def consent_to_partners(vault, person_id, **extra):
    people.record_consent(
        vault,
        person_id,
        ConsentDetails(
            taking_part=True,
            information_sharing=True,
            scope=SharingScope.TEAM_AND_PARTNERS.value,
            **({"recorded_on": TODAY} | extra),
        ),
    )


def gp(**extra) -> PartnerDetails:
    values = {
        "service_type": ServiceType.GP_PRACTICE.value,
        "organisation": "Riverside Surgery",
        "worker_name": "Dr Amira Haddad",
        "role": "GP",
        "how_to_reach": "0161 496 0000",
    }
    return PartnerDetails(**(values | extra))


# -- partners -------------------------------------------------------------------------------


def test_partner_with_sharing_needs_consent_to_share_with_partners(officer, person_id):
    with pytest.raises(ValidationError) as refused:
        circle.add_partner(officer, person_id, gp(shares=["crisis_plan"]))
    assert refused.value.field == "shares"
    people.record_consent(
        officer, person_id, ConsentDetails(taking_part=True, information_sharing=True)
    )  # the pair only: not enough
    with pytest.raises(ValidationError):
        circle.add_partner(officer, person_id, gp(shares=["crisis_plan"]))
    # Knowing who supports the person needs no sharing consent at all.
    circle.add_partner(officer, person_id, gp())
    consent_to_partners(officer, person_id)
    partner = circle.add_partner(officer, person_id, gp(shares=["crisis_plan", "goals"]))
    [shown] = [p for p in circle.list_partners(officer, person_id) if p.id == partner]
    assert shown.shares == (ShareItem.CRISIS_PLAN, ShareItem.GOALS)
    assert shown.consent_id is not None and shown.name == "Dr Amira Haddad, Riverside Surgery"


def test_withdrawn_consent_stops_widening_what_is_shared(officer, person_id):
    consent_to_partners(officer, person_id)
    partner = circle.add_partner(officer, person_id, gp(shares=["goals"]))
    consent_to_partners(officer, person_id, withdrawn_on=TODAY)
    with pytest.raises(ValidationError):
        circle.amend_partner(officer, partner, gp(shares=["goals", "crisis_plan"]))
    # Narrowing is always allowed.
    assert circle.amend_partner(officer, partner, gp(shares=[])) == 2


def test_amending_a_partner_keeps_the_earlier_entry_and_is_audited(officer, person_id):
    partner = circle.add_partner(officer, person_id, gp())
    revision = circle.amend_partner(
        officer, partner, gp(how_to_reach="0161 496 0999"), reason="new number"
    )
    assert revision == 2
    [earlier] = circle.partner_history(officer, partner)
    assert earlier.fields["how_to_reach"] == "0161 496 0000" and earlier.reason == "new number"
    events = audit_events(officer, "support_partner")
    assert [e.action for e in events] == ["record.create", "record.update"]
    assert events[1].detail["fields"] == ["how_to_reach"]
    # A save that changes nothing keeps no revision.
    assert circle.amend_partner(officer, partner, gp(how_to_reach="0161 496 0999")) == 2


def test_partner_bad_input_is_refused_with_the_field_named(officer, person_id):
    for details, field in (
        (gp(service_type="hospital"), "service_type"),
        (PartnerDetails(service_type="A06", organisation="  "), "organisation"),
        (gp(shares=["everything"]), "shares"),
        (gp(ended_on=TODAY + timedelta(days=3)), "ended_on"),
        (gp(worker_name="Dr\x00Who"), "worker_name"),
    ):
        with pytest.raises(ValidationError) as refused:
            circle.add_partner(officer, person_id, details)
        assert refused.value.field == field
    assert circle.list_partners(officer, person_id) == []


def test_other_pairs_and_analysts_cannot_see_or_change_the_circle(team, officer, person_id):
    partner = circle.add_partner(officer, person_id, gp())
    with team.unlock("officer2") as other:
        with pytest.raises(PermissionDenied):
            circle.list_partners(other, person_id)
        with pytest.raises(PermissionDenied):
            circle.amend_partner(other, partner, gp(role="x"))
    with team.unlock("analyst") as analyst, pytest.raises(PermissionDenied):
        circle.add_partner(analyst, person_id, gp())


# -- onward referrals -----------------------------------------------------------------------


def housing_referral(**extra) -> ReferralDetails:
    values = {
        "referred_on": date(2026, 9, 1),
        "to_whom": "Northside Housing Options",
        "service_type": "housing",
        "reason": "Rent arrears; wants help to keep the flat",
        "follow_up_on": date(2026, 9, 15),
    } | extra
    return ReferralDetails(**values)


def test_referral_moves_through_its_statuses_with_dates_kept(officer, clinician, person_id):
    referral = circle.record_referral(officer, person_id, housing_referral())
    circle.update_referral_status(
        officer, referral, StatusUpdate("waiting", on=date(2026, 9, 10), follow_up_on=TODAY)
    )
    circle.update_referral_status(clinician, referral, StatusUpdate("accepted", date(2026, 10, 1)))
    circle.update_referral_status(officer, referral, StatusUpdate("attended", date(2026, 10, 8)))
    [view] = circle.list_referrals(officer, person_id)
    assert view.status == ReferralStatus.ATTENDED and view.first_contact_on == date(2026, 10, 8)
    assert view.days_to_first_contact == 37 and not view.follow_up_due(TODAY)
    history = circle.referral_status_history(officer, referral)
    assert [(h.to_status.value, h.changed_on.day) for h in history] == [
        ("sent", 1),
        ("waiting", 10),
        ("accepted", 1),
        ("attended", 8),
    ]
    assert history[2].by == "Cleo Clinician"
    statuses = [e.detail.get("status") for e in audit_events(officer, "onward_referral")]
    assert statuses == [None, "waiting", "accepted", "attended"]


def test_declined_and_closed_referrals_keep_their_reasons(officer, person_id):
    referral = circle.record_referral(officer, person_id, housing_referral())
    with pytest.raises(ValidationError) as refused:
        circle.update_referral_status(
            officer, referral, StatusUpdate("accepted", TODAY, rejection_reason="02")
        )
    assert refused.value.field == "rejection_reason"
    circle.update_referral_status(
        officer, referral, StatusUpdate("declined", TODAY, rejection_reason="02")
    )
    circle.update_referral_status(
        officer, referral, StatusUpdate("closed", TODAY, closure_reason="other")
    )
    [view] = circle.list_referrals(officer, person_id)
    assert view.rejection_reason.label == "Inappropriate referral request"
    assert view.closure_reason.value == "other"
    with pytest.raises(ValidationError) as refused:
        circle.update_referral_status(officer, referral, StatusUpdate("accepted", TODAY))
    assert "new referral" in str(refused.value)


def test_referral_status_dates_cannot_run_backwards_or_into_the_future(officer, person_id):
    referral = circle.record_referral(officer, person_id, housing_referral())
    for update, field in (
        (StatusUpdate("waiting", date(2026, 8, 31)), "on"),
        (StatusUpdate("waiting", TODAY + timedelta(days=1)), "on"),
        (StatusUpdate("waiting", TODAY, first_contact_on=date(2026, 8, 1)), "first_contact_on"),
        (StatusUpdate("waiting", TODAY, follow_up_on=date(2026, 10, 1)), "follow_up_on"),
        (StatusUpdate("stuck", TODAY), "status"),
    ):
        with pytest.raises(ValidationError) as refused:
            circle.update_referral_status(officer, referral, update)
        assert refused.value.field == field
    assert [h.to_status for h in circle.referral_status_history(officer, referral)] == [
        ReferralStatus.SENT
    ]


def test_referral_bad_input_is_refused(officer, person_id):
    for details, field in (
        (housing_referral(referred_on=date(2025, 12, 1)), "referred_on"),
        (housing_referral(referred_on=TODAY + timedelta(days=1)), "referred_on"),
        (housing_referral(follow_up_on=date(2026, 8, 1)), "follow_up_on"),
        (housing_referral(reason=" "), "reason"),
        (housing_referral(to_whom=None), "to_whom"),
        (housing_referral(service_type=None), "service_type"),
        (housing_referral(kind="nudge"), "kind"),
        (housing_referral(made_by="robot"), "made_by"),
    ):
        with pytest.raises(ValidationError) as refused:
            circle.record_referral(officer, person_id, details)
        assert refused.value.field == field
    assert circle.list_referrals(officer, person_id) == []


def test_referral_to_a_partner_takes_their_name_and_service(officer, person_id, team):
    partner = circle.add_partner(officer, person_id, gp())
    referral = circle.record_referral(
        officer,
        person_id,
        ReferralDetails(
            referred_on=date(2026, 9, 1), reason="Medication review", partner_id=partner
        ),
    )
    [view] = circle.list_referrals(officer, person_id)
    assert view.id == referral and view.to_whom == "Riverside Surgery"
    assert view.service_type == ServiceType.GP_PRACTICE
    other = people.create_person(
        officer, PersonDetails(given_name="Ade", family_name="Bello", referred_on=date(2026, 1, 5))
    )
    with pytest.raises(ValidationError) as refused:
        circle.record_referral(
            officer,
            other,
            ReferralDetails(referred_on=date(2026, 9, 1), reason="x", partner_id=partner),
        )
    assert refused.value.field == "partner_id"


def test_correcting_a_referral_keeps_its_revision(officer, person_id):
    referral = circle.record_referral(officer, person_id, housing_referral())
    assert (
        circle.amend_referral(
            officer, referral, housing_referral(to_whom="Northside Housing"), reason="name"
        )
        == 2
    )
    [earlier] = circle.referral_history(officer, referral)
    assert earlier.fields["to_whom"] == "Northside Housing Options" and earlier.reason == "name"
    assert circle.referral_details(officer, referral).to_whom == "Northside Housing"
    with pytest.raises(NotFound):
        circle.referral_history(officer, person_id)  # a person's id is not a referral's


# -- handover plan and stepping down --------------------------------------------------------


def test_stepping_down_needs_a_handover_plan(officer, person_id):
    with pytest.raises(ValidationError) as refused:
        people.change_status(officer, person_id, PersonStatus.STEPPING_DOWN, on=TODAY)
    assert refused.value.field == "handover_override"
    # Closing an active record as "stepped down" would skip the stage: same rule.
    with pytest.raises(ValidationError):
        people.change_status(
            officer, person_id, PersonStatus.CLOSED, on=TODAY, exit_reason=ExitReason.STEPPED_DOWN
        )
    partner = circle.add_partner(officer, person_id, gp())
    assert (
        circle.save_handover_plan(
            officer,
            person_id,
            HandoverDetails(
                agreed_on=date(2026, 10, 20),
                continuing_partner_id=partner,
                person_wants_known="I do better with morning appointments.",
                crisis_plan="Call my sister first; I like to walk it off by the canal.",
                shared_with="Dr Haddad",
                check_in_on=date(2026, 12, 1),
            ),
        )
        == 1
    )
    people.change_status(officer, person_id, PersonStatus.STEPPING_DOWN, on=TODAY)
    assert people.reload_person(officer, person_id).status == PersonStatus.STEPPING_DOWN
    plan = circle.handover_plan(officer, person_id)
    assert plan.names_continuing_worker and plan.carries_on == "Dr Amira Haddad, Riverside Surgery"


def test_other_closures_need_no_handover_plan(officer, person_id):
    people.change_status(
        officer, person_id, PersonStatus.CLOSED, on=TODAY, exit_reason=ExitReason.MOVED
    )
    assert people.reload_person(officer, person_id).status == PersonStatus.CLOSED


def test_only_a_lead_may_step_down_without_a_plan_and_it_is_audited(officer, lead, person_id):
    with pytest.raises(PermissionDenied):
        people.change_status(
            officer,
            person_id,
            PersonStatus.STEPPING_DOWN,
            on=TODAY,
            handover_override="Moving abroad next week",
        )
    people.change_status(
        lead,
        person_id,
        PersonStatus.STEPPING_DOWN,
        on=TODAY,
        handover_override="Moving abroad next week",
    )
    with lead.read() as session:
        overridden, why = session.execute(
            select(PersonStatusChange.handover_overridden, PersonStatusChange.reason).where(
                PersonStatusChange.to_status == PersonStatus.STEPPING_DOWN.value
            )
        ).one()
    assert overridden and why == "Moving abroad next week"
    last = audit_events(lead, "person")[-1]
    assert last.detail == {"status": "stepping_down", "handover_override": True}


def test_revising_a_handover_plan_keeps_the_earlier_one(officer, person_id):
    details = HandoverDetails(agreed_on=date(2026, 10, 20), who_carries_on="Her GP")
    circle.save_handover_plan(officer, person_id, details)
    details.check_in_on = date(2026, 12, 1)
    assert circle.save_handover_plan(officer, person_id, details, reason="date agreed") == 2
    [earlier] = circle.handover_history(officer, person_id)
    assert earlier.fields["check_in_on"] is None and earlier.reason == "date agreed"
    assert [e.action for e in audit_events(officer, "handover_plan")] == [
        "record.create",
        "record.update",
    ]


def test_handover_plan_bad_input_is_refused(officer, person_id):
    for details, field in (
        (HandoverDetails(agreed_on=date(2026, 10, 20)), "who_carries_on"),
        (HandoverDetails(agreed_on=TODAY + timedelta(days=1), who_carries_on="GP"), "agreed_on"),
        (
            HandoverDetails(
                agreed_on=date(2026, 10, 20), who_carries_on="GP", check_in_on=date(2026, 10, 1)
            ),
            "check_in_on",
        ),
        (HandoverDetails(agreed_on=None, who_carries_on="GP"), "agreed_on"),
    ):
        with pytest.raises(ValidationError) as refused:
            circle.save_handover_plan(officer, person_id, details)
        assert refused.value.field == field
    assert circle.handover_plan(officer, person_id) is None


# -- Today ----------------------------------------------------------------------------------


def test_today_lists_referral_follow_ups_when_due_and_open(officer, person_id, team):
    due = circle.record_referral(officer, person_id, housing_referral(follow_up_on=TODAY))
    late = circle.record_referral(
        officer, person_id, housing_referral(to_whom="Canal Side Men's Shed", kind="signposting")
    )
    circle.record_referral(
        officer, person_id, housing_referral(follow_up_on=TODAY + timedelta(days=1))
    )
    done = circle.record_referral(officer, person_id, housing_referral())
    circle.update_referral_status(officer, done, StatusUpdate("attended", date(2026, 9, 20)))
    follow_ups = caseload.today_view(officer).follow_ups
    assert [(f.referral_id, f.days_overdue) for f in follow_ups] == [(late, 48), (due, 0)]
    assert follow_ups[0].what == "Follow up signposting to Canal Side Men's Shed (sent)"
    with team.unlock("officer2") as other:
        assert caseload.today_view(other).follow_ups == ()


def test_records_already_stepping_down_close_as_they_are(lead, officer, person_id):
    # A record that reached stepping down before handover plans (here, by a lead's override)
    # closes as stepped down without one: the rule applies from now on, to the move itself.
    people.change_status(
        lead, person_id, PersonStatus.STEPPING_DOWN, on=date(2026, 10, 1), handover_override="Old"
    )
    people.change_status(
        officer,
        person_id,
        PersonStatus.CLOSED,
        on=TODAY,
        exit_reason=ExitReason.STEPPED_DOWN,
    )
    assert people.reload_person(officer, person_id).status == PersonStatus.CLOSED
