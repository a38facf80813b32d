"""People and histories for the person workspace and form tests, made through the use cases.

The clock is fixed at Monday 2 November 2026, 10:00 UTC (10:00 in London), so every date here is
in the past of that moment unless it says otherwise.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sim_desk.records import contacts, incidents, people, visits
from sim_desk.records.codes import PersonStatus
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.incidents import IncidentDetails, S136Details
from sim_desk.records.people import ConsentDetails, PersonDetails
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.visits import PlanDetails

NHS_NUMBER = "9434765919"  # a valid NHS number (check digit 9)
ENROLLED = date(2026, 5, 1)
CLINICAL_CANARY = "Canary: clinician-only words about medication"


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=UTC)


def add_person(
    vault: UnlockedVault,
    *,
    pair_id: uuid.UUID | None = None,
    enrolled: date | None = ENROLLED,
    nhs_number: str | None = NHS_NUMBER,
    **details: object,
) -> uuid.UUID:
    values: dict[str, object] = {
        "given_name": "Zofia",
        "family_name": "Wiśniewska",
        "preferred_name": "Zosia",
        "pronouns": "she/her",
        "date_of_birth": date(1990, 6, 15),
        "nhs_number": nhs_number,
        "referred_on": date(2024, 1, 10),
        "first_language": "Polish",
        "interpreter_needed": True,
        "borough": "Camden",
        "goals": "Keep my flat and see my sister every Sunday.",
        "crisis_plan": "Call Ania first. I want to be asked before anyone calls the police.",
        "pair_id": pair_id,
    }
    values.update(details)
    person_id = people.create_person(vault, PersonDetails(**values))  # type: ignore[arg-type]
    if enrolled is not None:
        people.change_status(vault, person_id, PersonStatus.ACTIVE, on=enrolled)
    return person_id


def add_incident(
    vault: UnlockedVault, person_id: uuid.UUID, when: datetime, kind: str = "s136"
) -> uuid.UUID:
    return incidents.record_incident(
        vault, person_id, IncidentDetails(occurred_at=when, incident_type=kind, source="police")
    )


#: Incidents whose counts the outcome test checks. With a 12-month window and enrolment on
#: 1 May 2026: prior = 1 May 2024 – 30 Apr 2025, before = 1 May 2025 – 30 Apr 2026,
#: after = 1 May 2026 – 1 Nov 2026.
S136_PRIOR = [at(2024, 9, 3)]
S136_BEFORE = [at(2025, 6, 2), at(2025, 9, 14), at(2025, 12, 1), at(2026, 3, 20)]
S136_AFTER = [at(2026, 7, 8)]
SELF_HARM_AFTER = [at(2026, 8, 19)]


def add_history(vault: UnlockedVault, person_id: uuid.UUID) -> None:
    """Incidents, a baseline count, contacts, a visit plan, consent and a key contact."""
    for when in S136_PRIOR + S136_BEFORE + S136_AFTER:
        add_incident(vault, person_id, when)
    for when in SELF_HARM_AFTER:
        add_incident(vault, person_id, when, "self_harm")
    for when in (at(2025, 7, 1), at(2025, 7, 20), at(2025, 11, 3), at(2026, 2, 14)):
        add_incident(vault, person_id, when, "call_999")
    incidents.record_incident(
        vault,
        person_id,
        IncidentDetails(
            occurred_at=at(2026, 1, 9, 22),
            incident_type="s136",
            source="police",
            summary="Detained on the bridge; calm by the time the nurse arrived.",
            s136=S136Details(
                detained_at=at(2026, 1, 9, 22),
                health_professional_consulted=True,
                conveyance="ambulance",
                arrived_at=at(2026, 1, 9, 23),
                extension_hours=None,
                outcome="community_follow_up",
                places=[("hbpos", at(2026, 1, 9, 23))],
            ),
        ),
    )
    # Only a total is known, for a year that half overlaps the prior window: 6 × 184/366 ≈ 3.
    incidents.record_baseline_count(
        vault, person_id, "ae_attendance", date(2023, 11, 1), date(2024, 10, 31), 6, "nhs"
    )
    people.record_consent(
        vault,
        person_id,
        ConsentDetails(taking_part=True, information_sharing=True, recorded_on=date(2026, 5, 1)),
    )
    people.add_key_contact(
        vault, person_id, name="Ania Wiśniewska", relationship="Sister", telephone="07700 900123"
    )
    for when, note in (
        (at(2026, 6, 3), "Walked to the park; talked about the flat."),
        (at(2026, 8, 26), "Met at the café. Wants to try the swimming group."),
        (at(2026, 10, 20), "Phoned: the landlord visit went well."),
    ):
        contacts.log_contact(
            vault,
            person_id,
            ContactDetails(started_at=when, place="Community café", shared_note=note),
        )
    visits.plan_visits(
        vault,
        person_id,
        PlanDetails(
            frequency="fortnightly",
            first_visit_at=at(2026, 10, 19),
            occurrences=6,
            place="Community café",
        ),
    )
