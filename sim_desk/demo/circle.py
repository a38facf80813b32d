"""A realistic circle of support for demo people: the GP, a care coordinator, housing, a
voluntary group; the referrals the pair made and how they went; a handover plan for those
stepping down.

It draws from its own random stream (seeded from the person), so adding it left every other
demo record as it was.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

from sim_desk.records import circle, people
from sim_desk.records.circle import (
    HandoverDetails,
    PartnerDetails,
    ReferralDetails,
    ServiceType,
    StatusUpdate,
)
from sim_desk.records.codes import SharingScope
from sim_desk.records.unit_of_work import UnlockedVault

#: (service type, organisation, worker names, role, how to reach)
PARTNERS = (
    (
        ServiceType.GP_PRACTICE,
        "{gp}",
        ("Dr Amira Haddad", "Dr Tom Okonjo", None),
        "GP",
        "0161 496 0{n:03d}",
    ),
    (
        ServiceType.COMMUNITY_MENTAL_HEALTH,
        "North Community Mental Health Team",
        ("Grace Mensah", "Pavel Novak", "Aisha Rahman"),
        "Care coordinator",
        "Duty line 0161 496 1{n:03d}",
    ),
    (
        ServiceType.HOUSING,
        "Northside Housing Options",
        ("Leah Brooks", None),
        "Housing officer",
        "housing@example.org",
    ),
    (
        ServiceType.SUBSTANCE_USE,
        "Change Grow Live (demo)",
        ("Marcus Reid", None),
        "Recovery worker",
        "0161 496 2{n:03d}",
    ),
    (ServiceType.VCSE, "Canal Side Men's Shed", (None,), "Volunteer group", "Drop in Tue and Thu"),
    (
        ServiceType.PEER_SUPPORT,
        "Hearing Voices Network group (demo)",
        (None,),
        "Peer group",
        "Weds 6pm, library",
    ),
    (
        ServiceType.PROBATION,
        "Probation Service (demo)",
        ("Kim Walsh",),
        "Probation officer",
        "0161 496 3{n:03d}",
    ),
)

#: What people in the demo typically agree to share with each kind of partner.
SHARES = {
    ServiceType.GP_PRACTICE: ["pair_contact", "crisis_plan", "handover"],
    ServiceType.COMMUNITY_MENTAL_HEALTH: [
        "pair_contact",
        "crisis_plan",
        "handover",
        "goals",
        "circle",
        "referrals",
        "health_notes",
    ],
    ServiceType.HOUSING: ["pair_contact"],
    ServiceType.SUBSTANCE_USE: ["pair_contact", "crisis_plan"],
    ServiceType.PROBATION: ["pair_contact"],
}

WHY = {
    ServiceType.COMMUNITY_MENTAL_HEALTH: "Ongoing care coordination and a medication review",
    ServiceType.HOUSING: "Rent arrears; wants help to keep the flat",
    ServiceType.SUBSTANCE_USE: "Asked for help cutting down drinking",
    ServiceType.VCSE: "Wants something to do on weekday afternoons",
    ServiceType.PEER_SUPPORT: "Would like to meet others who hear voices",
    ServiceType.GP_PRACTICE: "Physical health check overdue",
    ServiceType.PROBATION: "Linking up support around appointments",
}


def make_circle(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    *,
    seed: str,
    gp_practice: str,
    enrolled: date,
    end: date,
    today: date,
    stepping_down_on: date | None,
) -> None:
    """Adds partners, onward referrals and (when ``stepping_down_on``) a handover plan."""
    rng = random.Random(f"circle|{seed}")
    if rng.random() < 0.1 and stepping_down_on is None:
        return  # not everyone has a circle on record yet
    shares_agreed = rng.random() < 0.8
    if shares_agreed:
        people.record_consent(
            vault,
            person_id,
            people.ConsentDetails(
                taking_part=True,
                information_sharing=True,
                scope=SharingScope.TEAM_AND_PARTNERS.value,
                recorded_on=enrolled,
            ),
        )
    chosen = [PARTNERS[0], *rng.sample(PARTNERS[1:], rng.randint(1, 3))]
    partner_ids: dict[ServiceType, uuid.UUID] = {}
    for service, organisation, workers, role, reach in chosen:
        shares = SHARES.get(service, ["pair_contact"]) if shares_agreed else []
        partner_ids[service] = circle.add_partner(
            vault,
            person_id,
            PartnerDetails(
                service_type=service.value,
                organisation=organisation.format(gp=gp_practice),
                worker_name=rng.choice(workers),
                role=role,
                how_to_reach=reach.format(n=rng.randint(0, 999)),
                shares=shares,
            ),
        )
    # Onward referrals: to some partners in the circle, plus signposting now and then.
    span = max(1, (end - enrolled).days)
    for service, partner in partner_ids.items():
        if service == ServiceType.GP_PRACTICE and rng.random() < 0.7:
            continue
        referred = enrolled + timedelta(days=rng.randint(7, max(8, span - 7)))
        if referred >= today:
            continue
        kind = (
            "signposting" if service in (ServiceType.VCSE, ServiceType.PEER_SUPPORT) else "referral"
        )
        referral = circle.record_referral(
            vault,
            person_id,
            ReferralDetails(
                referred_on=referred,
                reason=WHY[service],
                partner_id=partner,
                kind=kind,
                made_by=rng.choice(("officer", "clinician", "both", "person")),
                follow_up_on=referred + timedelta(days=14),
            ),
        )
        _progress(vault, rng, referral, referred, today)
    if stepping_down_on is not None:
        continuing = partner_ids.get(ServiceType.COMMUNITY_MENTAL_HEALTH)
        if rng.random() < 0.2:
            continuing = None  # some hand over to the GP, with the pair checking in
        circle.save_handover_plan(
            vault,
            person_id,
            HandoverDetails(
                agreed_on=stepping_down_on - timedelta(days=rng.randint(7, 28)),
                continuing_partner_id=continuing,
                who_carries_on=None if continuing else "Their GP, with the pair checking in",
                person_wants_known="I do better with morning appointments, and I need things"
                " written down.",
                crisis_plan="Call my sister first. Talk to me calmly, not in front of the"
                " neighbours. The crisis café on Station Road helps.",
                shared_with="The person, their care coordinator and GP",
                check_in_on=stepping_down_on + timedelta(days=42),
            ),
        )


def _progress(
    vault: UnlockedVault, rng: random.Random, referral: uuid.UUID, referred: date, today: date
) -> None:
    """Moves a demo referral on as referrals do: most accepted and attended, some declined,
    some still waiting."""
    day = referred
    roll = rng.random()
    path: list[tuple[str, dict[str, str]]]
    if roll < 0.55:
        path = [("accepted", {}), ("attended", {})]
    elif roll < 0.7:
        path = [("waiting", {}), ("accepted", {})]
    elif roll < 0.8:
        path = [("declined", {"rejection_reason": rng.choice(("02", "person_declined"))})]
    elif roll < 0.9:
        path = [("attended", {}), ("closed", {"closure_reason": "support_ended"})]
    else:
        path = []  # still just sent
    reached = "sent"
    for status, extra in path:
        next_day = day + timedelta(days=rng.randint(3, 40))
        if next_day > today:
            break
        day = next_day
        follow_up = day + timedelta(days=28) if status in ("waiting", "accepted") else None
        circle.update_referral_status(
            vault,
            referral,
            StatusUpdate(
                status,
                on=day,
                follow_up_on=follow_up,
                rejection_reason=extra.get("rejection_reason"),
                closure_reason=extra.get("closure_reason"),
            ),
        )
        reached = status
    # The pair closes what it no longer needs to chase, so old referrals do not sit on Today.
    if reached in ("sent", "waiting", "accepted", "attended") and (today - day).days > 60:
        reason = "support_ongoing" if reached in ("accepted", "attended") else "no_response"
        circle.update_referral_status(
            vault,
            referral,
            StatusUpdate(
                "closed", on=day + timedelta(days=rng.randint(20, 50)), closure_reason=reason
            ),
        )
