"""Outcomes beyond demand: referrals made and how they went, connection with continuing
support at step-down, and days to first contact, counted by hand and by the report."""

from __future__ import annotations

from datetime import date

from sim_desk.records import circle, outcomes, people
from sim_desk.records.circle import HandoverDetails, PartnerDetails, ReferralDetails, StatusUpdate
from sim_desk.records.codes import ExitReason, PersonStatus
from sim_desk.records.outcomes import ContinuityInput, ReferralFact
from sim_desk.records.people import PersonDetails
from sim_desk.records.read_models import outcome_data


def enrol(vault, given):
    person = people.create_person(
        vault, PersonDetails(given_name=given, family_name="Test", referred_on=date(2026, 1, 5))
    )
    people.change_status(vault, person, PersonStatus.ACTIVE, on=date(2026, 2, 1))
    return person


def refer(vault, person, on, *moves, first_contact=None, kind="referral"):
    referral = circle.record_referral(
        vault,
        person,
        ReferralDetails(
            referred_on=on, reason="Support", to_whom="Service", service_type="vcse", kind=kind
        ),
    )
    for status, day in moves:
        circle.update_referral_status(
            vault,
            referral,
            StatusUpdate(
                status, day, first_contact_on=first_contact if status == "attended" else None
            ),
        )
    return referral


def test_the_furthest_status_is_the_referral_outcome():
    fact = ReferralFact(
        date(2026, 3, 1),
        (("sent", date(2026, 3, 1)), ("accepted", date(2026, 3, 9)), ("closed", date(2026, 5, 1))),
        None,
    )
    assert fact.outcome == "accepted"
    assert fact.connected_by(date(2026, 3, 9)) and not fact.connected_by(date(2026, 3, 8))


def test_cohort_continuity_matches_a_count_by_hand(lead):
    # Ada: referral accepted before she stepped down, no continuing worker named: connected.
    ada = enrol(lead, "Ada")
    refer(lead, ada, date(2026, 3, 1), ("accepted", date(2026, 3, 20)))
    circle.save_handover_plan(
        lead, ada, HandoverDetails(agreed_on=date(2026, 9, 1), who_carries_on="Her GP")
    )
    people.change_status(lead, ada, PersonStatus.STEPPING_DOWN, on=date(2026, 9, 10))
    # Ben: his referral was declined, but the plan names his care coordinator: connected.
    ben = enrol(lead, "Ben")
    refer(lead, ben, date(2026, 4, 1), ("declined", date(2026, 4, 10)))
    coordinator = circle.add_partner(
        lead, ben, PartnerDetails(service_type="A06", organisation="North CMHT")
    )
    circle.save_handover_plan(
        lead, ben, HandoverDetails(agreed_on=date(2026, 9, 1), continuing_partner_id=coordinator)
    )
    people.change_status(
        lead, ben, PersonStatus.CLOSED, on=date(2026, 9, 15), exit_reason=ExitReason.STEPPED_DOWN
    )
    # Cy: stepped down on a lead's override; the referral was accepted only afterwards.
    cy = enrol(lead, "Cy")
    refer(lead, cy, date(2026, 8, 1), ("accepted", date(2026, 10, 1)))
    people.change_status(
        lead, cy, PersonStatus.STEPPING_DOWN, on=date(2026, 9, 1), handover_override="Moved"
    )
    # Dee: still active; attended after 12 days and after 30 days; one signposting still open.
    dee = enrol(lead, "Dee")
    refer(lead, dee, date(2026, 5, 1), ("attended", date(2026, 5, 13)), first_contact=None)
    refer(
        lead,
        dee,
        date(2026, 6, 1),
        ("accepted", date(2026, 6, 10)),
        ("attended", date(2026, 7, 1)),
    )
    refer(lead, dee, date(2026, 7, 1), kind="signposting")

    figures = outcome_data.cohort_outcomes(lead).continuity
    assert (figures.referrals, figures.signposting) == (5, 1)
    assert figures.by_outcome == {
        "attended": 2,
        "accepted": 2,
        "declined": 1,
        "open": 1,
        "closed": 0,
    }
    assert (figures.stepped_down, figures.connected_at_step_down) == (3, 2)
    # Days to first contact: Dee's two attended referrals (12 and 30 days); four unknown.
    assert figures.first_contact.n == 2 and figures.first_contact.median == 21.0
    assert figures.first_contact_unknown == 4

    one = outcome_data.person_outcomes(lead, dee).continuity
    assert outcomes.continuity([one]).by_outcome["attended"] == 2


def test_no_referrals_no_step_down_is_nothing_to_count(lead):
    person = enrol(lead, "Eve")
    figures = outcomes.continuity([outcome_data.person_outcomes(lead, person).continuity])
    assert figures.referrals == 0 and figures.connected_share is None
    assert figures.first_contact.median is None
    assert outcomes.continuity([ContinuityInput((), None, False)]).stepped_down == 0
