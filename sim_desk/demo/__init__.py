"""A demo vault of realistic synthetic people, built through the records layer's use cases.

Everything is invented. Incident rates fall after enrolment for most people but not for all,
some people disengage, move or die, some histories are only known as baseline totals, and harms
are recorded beside demand: the demo should make an honest report look honest.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sim_desk.records import contacts, dates, incidents, people, visits
from sim_desk.records.codes import (
    Attendance,
    ConsultationMechanism,
    ExitReason,
    IncidentSource,
    IncidentType,
    PersonStatus,
    Role,
    StaffPresent,
)
from sim_desk.records.team import users
from sim_desk.records.unit_of_work import LOCAL_ZONE, Progress, UnlockedVault
from sim_desk.records.validation import nhs_number_check_digit
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths

from .circle import make_circle
from .names import BOROUGHS, CULTURES, PRONOUNS

#: Demo sign-ins. Printed for the user; a real vault never has fixed passphrases.
DEMO_LOGINS: dict[str, tuple[str, Role, str, bool]] = {
    "lead": ("demo lead passphrase", Role.TEAM_LEAD, "Lee Okafor (team lead)", True),
    "officer": ("demo officer passphrase", Role.OFFICER, "PC Olu Adeyemi", False),
    "clinician": ("demo clinician passphrase", Role.CLINICIAN, "Cleo Byrne RMN", False),
    "officer2": ("demo officer2 passphrase", Role.OFFICER, "PC Omar Shah", False),
    "clinician2": ("demo clinician2 passphrase", Role.CLINICIAN, "Chen Li RMN", False),
    "analyst": ("demo analyst passphrase", Role.ANALYST, "Ana Analyst (trust)", False),
}

#: Yearly rates before enrolment (mean), per incident type.
BEFORE_RATES = {
    IncidentType.S136: 5.0,
    IncidentType.CALL_999: 18.0,
    IncidentType.POLICE_ATTENDANCE: 9.0,
    IncidentType.AE_ATTENDANCE: 10.0,
    IncidentType.AMBULANCE: 6.0,
    IncidentType.MH_ADMISSION: 1.0,
    IncidentType.SELF_HARM: 2.0,
}

SHARED_NOTES = {
    "01": (
        "Met for a walk in the park; talked about the week ahead and what helps on bad days.",
        "Coffee at the library café. Went through the crisis plan together and updated two"
        " numbers.",
        "Visited at home with the support worker; agreed to try the peer group on Thursday.",
        "Went to the job centre appointment together; talked through what to say beforehand.",
        "Discussed what happened last month and what the pair could do differently next time.",
    ),
    "02": (
        "Phoned to check in after the weekend; sleeping better, looking forward to the allotment.",
        "Short catch-up by phone. Said the new routine is working; next visit as planned.",
    ),
    "09": ("Texted to confirm Thursday's visit; replied with a thumbs up.",),
}
CLINICAL_NOTES = (
    "Mood lower this week; reviewed medication adherence, no change needed. Safety plan intact.",
    "Reports intrusive thoughts less frequent. Continue grounding techniques; liaise with GP.",
    "Discussed trauma history briefly at their pace; agreed to consider referral to psychology.",
)


@dataclass(frozen=True)
class DemoResult:
    paths: VaultPaths
    people: int


def _nhs_number(rng: random.Random) -> str:
    """A synthetic number that passes Modulus 11, in the 999 range kept for test data."""
    while True:
        first_nine = "999" + "".join(rng.choice("0123456789") for _ in range(6))
        check = nhs_number_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LOCAL_ZONE).astimezone(UTC)


def _poisson_days(rng: random.Random, start: date, end: date, per_year: float) -> list[date]:
    """Days of events from a Poisson process with the given yearly rate."""
    days: list[date] = []
    current = start
    if per_year <= 0:
        return days
    while True:
        current += timedelta(days=max(1, round(rng.expovariate(per_year / 365.25))))
        if current >= end:
            return days
        days.append(current)


def build_demo_vault(
    paths: VaultPaths,
    *,
    people: int = 40,
    seed: int = 1,
    today: date | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Creates a demo vault with a team, two pairs and ``people`` synthetic people.

    ``progress(fraction, text)`` is told how far it has got (it takes half a minute or so:
    each of the six sign-ins costs an Argon2id run, and every person a year or more of records).
    """
    rng = random.Random(seed)
    lead_pass, _, lead_name, _ = DEMO_LOGINS["lead"]

    def tell(fraction: float, text: str) -> None:
        if progress is not None:
            progress(fraction, text)

    tell(0.0, "Creating the encrypted vault")
    unlock.create_vault(
        paths,
        team_name="Demo SIM Team (synthetic data)",
        username="lead",
        display_name=lead_name,
        passphrase=lead_pass,
        clinical_lead=True,
    )
    with unlock.unlock(paths, "lead", lead_pass) as lead:
        ids = {}
        others = [name for name in DEMO_LOGINS if name != "lead"]
        for number, (name, (passphrase, role, shown, _)) in enumerate(
            (n, DEMO_LOGINS[n]) for n in others
        ):
            tell(0.05 + 0.25 * number / len(others), f"Adding sign-in {name}")
            ids[name] = users.add_user(
                lead, username=name, display_name=shown, role=role, passphrase=passphrase
            )
        pairs = [
            people_pair(lead, "Pair A (Lambeth and Southwark)", ids["officer"], ids["clinician"]),
            people_pair(lead, "Pair B (Lewisham and Croydon)", ids["officer2"], ids["clinician2"]),
        ]
        today = today or lead.today()
    # Each pair's clinician builds their own caseload: their sign-in holds the clinical key
    # for clinician-only notes, and people join the signed-in pair's caseload.
    made = 0
    for pair_index, clinician in enumerate(("clinician", "clinician2")):
        with unlock.unlock(paths, clinician, DEMO_LOGINS[clinician][0]) as vault:
            for index in range(pair_index, people, 2):
                tell(0.3 + 0.7 * made / max(people, 1), f"Person {made + 1} of {people}")
                with vault.batch():
                    _make_person(vault, rng, index, pairs[pair_index], today)
                made += 1
    tell(1.0, "Done")
    return DemoResult(paths, people)


def people_pair(
    vault: UnlockedVault, name: str, officer: uuid.UUID, clinician: uuid.UUID
) -> uuid.UUID:
    return people.create_pair(vault, name=name, officer_id=officer, clinician_id=clinician)


def _make_person(
    vault: UnlockedVault, rng: random.Random, index: int, pair: uuid.UUID, today: date
) -> None:
    culture = CULTURES[index % len(CULTURES)]
    given, gender = rng.choice(culture.given)
    family = rng.choice(culture.family)
    borough, areas = BOROUGHS[(index // 2) % len(BOROUGHS)]
    age = rng.randint(19, 64)
    dob = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
    # Enrolments spread over the three years before today; referral a few weeks earlier.
    enrolled = today - timedelta(days=rng.randint(20, 3 * 365))
    referred = enrolled - timedelta(days=rng.randint(10, 60))
    pending_referral = index % 13 == 12  # a few are referred and not yet enrolled
    if pending_referral:
        referred = today - timedelta(days=rng.randint(3, 25))
    details = people.PersonDetails(
        given_name=given,
        family_name=family,
        preferred_name=None,
        pronouns=PRONOUNS[gender],
        date_of_birth=dob,
        nhs_number=_nhs_number(rng) if rng.random() < 0.9 else None,
        police_reference=f"DEMO/{rng.randint(10000, 99999)}/{index:03d}",
        ethnic_category=rng.choice(culture.ethnic_categories),
        gender=gender,
        first_language=culture.language,
        interpreter_needed=culture.language not in ("English", "Welsh") and rng.random() < 0.4,
        reasonable_adjustments=rng.choice(
            (
                None,
                "Prefers morning visits; written information in large print.",
                "Needs time to process; avoid more than two people at a visit.",
            )
        ),
        borough=borough,
        neighbourhood=rng.choice(areas),
        gp_practice=f"{rng.choice(('High Street', 'Riverside', 'Park Road'))} Medical Centre",
        referred_on=referred,
        referral_source=rng.choice(("Police (MHST)", "A&E liaison", "Crisis team")),
        referral_criteria="Five or more s136 detentions or 999 calls in the last 12 months",
        goals="To feel safe at home, get back to the football on Saturdays, and see my son.",
        crisis_plan="If I am struggling, call my sister first. Please talk to me calmly and not"
        " in front of the neighbours. The crisis café on Station Road helps.",
        pair_id=pair,
    )
    person_id = people.create_person(vault, details)
    people.record_consent(
        vault,
        person_id,
        people.ConsentDetails(
            taking_part=True, information_sharing=rng.random() < 0.85, recorded_on=referred
        ),
    )
    if pending_referral:
        return
    people.change_status(vault, person_id, PersonStatus.ACTIVE, on=enrolled)

    # Not everyone improves: a quarter stay level or go up.
    improves = rng.random() < 0.75
    factor_after = rng.uniform(0.2, 0.6) if improves else rng.uniform(0.9, 1.6)
    closing = None
    roll = rng.random()
    if roll < 0.08:
        closing = (ExitReason.DISENGAGED, enrolled + timedelta(days=rng.randint(60, 300)))
    elif roll < 0.12:
        closing = (ExitReason.MOVED, enrolled + timedelta(days=rng.randint(90, 400)))
    elif roll < 0.14:
        closing = (ExitReason.DIED, enrolled + timedelta(days=rng.randint(90, 400)))
    elif roll < 0.22 and (today - enrolled).days > 540:
        closing = (ExitReason.STEPPED_DOWN, enrolled + timedelta(days=rng.randint(420, 520)))
    end = today if closing is None or closing[1] >= today else closing[1]

    baseline_s136 = rng.random() < 0.25  # history known only as a police total
    if baseline_s136:
        year_before = enrolled - timedelta(days=365)
        count = max(1, round(rng.gauss(BEFORE_RATES[IncidentType.S136], 2)))
        incidents.record_baseline_count(
            vault,
            person_id,
            IncidentType.S136,
            year_before,
            enrolled - timedelta(days=1),
            count,
            IncidentSource.POLICE,
        )

    intensity = rng.uniform(0.6, 1.6)
    for incident_type, rate in BEFORE_RATES.items():
        # Regression to the mean: the year before enrolment is a peak, the prior year lower.
        periods = (
            (enrolled - timedelta(days=730), enrolled - timedelta(days=365), 0.7),
            (enrolled - timedelta(days=365), enrolled, 1.0),
            (enrolled, end, factor_after),
        )
        for start, stop, scale in periods:
            if baseline_s136 and incident_type == IncidentType.S136 and stop == enrolled:
                continue
            start = max(start, dob + timedelta(days=16 * 365))
            for day in _poisson_days(rng, start, stop, rate * intensity * scale):
                _incident(
                    vault,
                    rng,
                    person_id,
                    incident_type,
                    day,
                    today,
                    age_on=dates.age_on(dob, day),
                )
    if rng.random() < 0.15:
        day = enrolled + timedelta(days=rng.randint(10, max(11, (end - enrolled).days)))
        if day < today:
            incidents.record_incident(
                vault,
                person_id,
                incidents.IncidentDetails(
                    occurred_at=_at(day, 11),
                    incident_type=IncidentType.POLICE_LEGAL_ACTION,
                    source=IncidentSource.POLICE,
                    legal_action="community_protection_notice",
                ),
            )
    if rng.random() < 0.1:
        day = enrolled + timedelta(days=rng.randint(5, max(6, (end - enrolled).days)))
        if day < today:
            incidents.record_incident(
                vault,
                person_id,
                incidents.IncidentDetails(
                    occurred_at=_at(day, 15),
                    incident_type=IncidentType.COMPLAINT,
                    source=IncidentSource.SELF_REPORT,
                ),
            )

    _contacts(
        vault,
        rng,
        person_id,
        enrolled,
        end,
        today,
        engaged=closing is None or closing[0] != ExitReason.DISENGAGED,
    )
    circle_seed = f"{index}|{given}|{family}"
    stepping_down_on = None
    if closing is None and (today - enrolled).days > 450:
        stepdown_rng = random.Random(f"step down|{circle_seed}")
        if stepdown_rng.random() < 0.3:  # some of the longest-supported are stepping down
            stepping_down_on = today - timedelta(days=stepdown_rng.randint(5, 60))
    elif closing is not None and closing[0] == ExitReason.STEPPED_DOWN and closing[1] < today:
        stepping_down_on = closing[1]
    make_circle(
        vault,
        person_id,
        seed=circle_seed,
        gp_practice=details.gp_practice or "GP practice",
        enrolled=enrolled,
        end=end,
        today=today,
        stepping_down_on=stepping_down_on,
    )
    if closing is None:
        _plan(vault, rng, person_id, today, enrolled)
        if stepping_down_on is not None:
            people.change_status(vault, person_id, PersonStatus.STEPPING_DOWN, on=stepping_down_on)
    elif closing[1] < today:
        if closing[0] == ExitReason.DIED:
            # A death is recorded as a harm, on the day the record closes: the reports must
            # count it (a death on the closure day once fell between the windows).
            incidents.record_incident(
                vault,
                person_id,
                incidents.IncidentDetails(
                    occurred_at=_at(closing[1], rng.randint(0, 23), rng.choice((0, 30))),
                    incident_type=IncidentType.DEATH,
                    source=IncidentSource.NHS,
                ),
            )
        people.change_status(
            vault, person_id, PersonStatus.CLOSED, on=closing[1], exit_reason=closing[0]
        )


def _incident(
    vault: UnlockedVault,
    rng: random.Random,
    person_id: uuid.UUID,
    incident_type: IncidentType,
    day: date,
    today: date,
    *,
    age_on: int,
) -> None:
    if day >= today:
        return
    occurred = _at(day, rng.randint(0, 23), rng.choice((0, 15, 30, 45)))
    source = {
        IncidentType.S136: IncidentSource.POLICE,
        IncidentType.CALL_999: IncidentSource.POLICE,
        IncidentType.POLICE_ATTENDANCE: IncidentSource.POLICE,
        IncidentType.SELF_HARM: IncidentSource.NHS,
    }.get(incident_type, IncidentSource.NHS)
    s136 = None
    ended_on = None
    if incident_type == IncidentType.S136:
        place = rng.choices(("hbpos", "ae", "police_station"), (6, 3, 1 if age_on >= 18 else 0))[0]
        s136 = incidents.S136Details(
            detained_at=occurred,
            health_professional_consulted=rng.random() < 0.6,
            conveyance=rng.choice(("ambulance", "ambulance", "police_vehicle")),
            arrived_at=occurred + timedelta(minutes=rng.randint(20, 120)),
            extension_hours=None,
            outcome=rng.choice(
                ("discharged", "community_follow_up", "informal_admission", "detained_s2")
            ),
            places=[(place, occurred + timedelta(minutes=rng.randint(20, 120)))],
        )
    elif incident_type == IncidentType.MH_ADMISSION:
        ended_on = min(day + timedelta(days=rng.randint(7, 45)), today)
    incidents.record_incident(
        vault,
        person_id,
        incidents.IncidentDetails(
            occurred_at=occurred,
            incident_type=incident_type,
            source=source,
            ended_on=ended_on,
            s136=s136,
        ),
    )


def _contacts(
    vault: UnlockedVault,
    rng: random.Random,
    person_id: uuid.UUID,
    start: date,
    end: date,
    today: date,
    *,
    engaged: bool,
) -> None:
    day = start + timedelta(days=rng.randint(0, 4))
    attend_share = rng.uniform(0.75, 0.95) if engaged else 0.5
    while day < min(end, today):
        mechanism = rng.choices(
            (
                ConsultationMechanism.FACE_TO_FACE,
                ConsultationMechanism.TELEPHONE,
                ConsultationMechanism.TEXT_MESSAGE,
            ),
            (7, 3, 1),
        )[0]
        attended = rng.random() < attend_share
        clinical = rng.choice(CLINICAL_NOTES)
        contacts.log_contact(
            vault,
            person_id,
            contacts.ContactDetails(
                started_at=_at(day, rng.randint(9, 16), rng.choice((0, 30))),
                duration_minutes=rng.choice((30, 45, 60, 90)),
                mechanism=mechanism,
                attendance=Attendance.ATTENDED
                if attended
                else rng.choice((Attendance.DID_NOT_ATTEND, Attendance.CANCELLED_BY_PERSON)),
                staff_present=rng.choice(
                    (
                        StaffPresent.BOTH,
                        StaffPresent.BOTH,
                        StaffPresent.OFFICER,
                        StaffPresent.CLINICIAN,
                    )
                ),
                place="Home" if mechanism == ConsultationMechanism.FACE_TO_FACE else None,
                shared_note=rng.choice(SHARED_NOTES[mechanism.value]) if attended else None,
                clinical_note=clinical if attended and rng.random() < 0.2 else None,
            ),
        )
        day += timedelta(days=rng.randint(5, 11))


def _plan(
    vault: UnlockedVault, rng: random.Random, person_id: uuid.UUID, today: date, enrolled: date
) -> None:
    """A fortnightly plan that began about ten weeks ago: most past visits done (a contact
    linked), a few missed, the last one or two possibly still overdue; the rest to come."""
    first = max(today - timedelta(days=rng.randint(60, 80)), enrolled + timedelta(days=3))
    visits.plan_visits(
        vault,
        person_id,
        visits.PlanDetails(
            frequency="fortnightly",
            first_visit_at=_at(first, rng.choice((10, 11, 14))),
            end_on=None,
            occurrences=12,
            duration_minutes=60,
            mechanism="01",
            place="Home",
        ),
    )
    for visit in visits.list_planned_visits(vault, person_id):
        if visit.due_on >= today:
            continue
        roll = rng.random()
        if roll < 0.75:
            prefill = visits.contact_prefill(vault, visit.id)
            prefill.started_at += timedelta(days=rng.choice((0, 0, 0, 1, 2, 9)))
            prefill.started_at = min(prefill.started_at, vault.now() - timedelta(hours=1))
            prefill.shared_note = rng.choice(SHARED_NOTES["01"])
            contacts.log_contact(vault, person_id, prefill)
        elif roll < 0.87 and visit.due_on < today - timedelta(days=2):
            visits.mark_visit(vault, visit.id, "missed", reason="Not in when we called")


def print_logins(paths: VaultPaths) -> None:
    print(f"Vault: {paths.database}")
    print("Demo sign-ins (synthetic data only; never use these passphrases for real):")
    for name, (passphrase, role, shown, _) in DEMO_LOGINS.items():
        print(f"  {name:11} {passphrase!r:28} {role.label} - {shown}")


def print_summary(paths: VaultPaths) -> None:
    """Counts of what the demo vault holds (no names), as its team lead sees them."""
    user, secret = "lead", DEMO_LOGINS["lead"][0]
    with unlock.unlock(paths, user, secret) as vault:
        print_counts(vault)


def print_counts(vault: UnlockedVault) -> None:
    """Counts of what the vault holds (no names), within what the signed-in user may see."""
    from sim_desk.records.read_models.caseload import vault_counts

    counts = vault_counts(vault)
    statuses = ", ".join(
        f"{PersonStatus(k).label.lower()} {v}" for k, v in sorted(counts.people_by_status.items())
    )
    print(f"People: {counts.people} ({statuses})")
    print(
        f"Contacts: {counts.contacts}   Incidents: {counts.incidents}"
        f"   Planned visits: {counts.planned_visits}"
    )
    print(f"Signed in as {vault.actor.display_name} ({vault.actor.role.label}).")


def default_demo_path() -> Path:
    from sim_desk.records.appdirs import AppDirs

    return AppDirs.default().demo_vault
