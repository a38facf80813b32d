"""Builds a stress vault: a trust-wide caseload at a hundred times real size, with years of history.

    .venv/bin/python benchmarks/make_vault.py --people 2000 --years 5 [--out FOLDER] [--seed 1]

At 2,000 people and 5 years that is about 500,000 contacts, 100,000 incidents and 300,000
planned visits, with notes, summaries and plans of realistic length in many scripts. Everything
is synthetic.

People, consent, key contacts, status changes, baseline counts and disclosures go through the
ordinary use cases. Contacts, incidents and visit plans go through ``sim_desk.records.bulk``,
which validates exactly as the use cases do and inserts with one statement per table: the
use-case path costs about 6 ms a contact (most of an hour for half a million on two cores). Each
chunk of people is one ``vault.batch()``: one transaction, one fsync.

Next to the vault it writes an unencrypted SQLite copy of the same database (``sqlcipher_export``)
for the encrypted/plain comparison, and a manifest (JSON) written last: a vault without its
manifest is unfinished and is built again.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from sim_desk.records import dates

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

from sim_desk.demo import BEFORE_RATES
from sim_desk.demo.names import BOROUGHS, CULTURES, PRONOUNS
from sim_desk.records import bulk, circle, incidents, people
from sim_desk.records.codes import (
    Attendance,
    ConsultationMechanism,
    ExitReason,
    IncidentSource,
    IncidentType,
    PersonStatus,
    PlannedVisitStatus,
    Role,
    StaffPresent,
)
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.team import users
from sim_desk.records.unit_of_work import LOCAL_ZONE, UnlockedVault
from sim_desk.records.validation import nhs_number_check_digit
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import unlock_user
from sim_desk.records.visits import PlanDetails

#: Per person over a five-year window (scaled with --years): the issue's stress figures.
TARGET_CONTACTS = 250
TARGET_INCIDENTS = 50
TARGET_VISITS = 150
PEOPLE_PER_PAIR = 100
CHUNK = 25  # people per vault.batch()

#: Relative frequency of each kind of crisis demand: the demo vault's mix.
DEMAND_WEIGHTS = BEFORE_RATES
SOURCES = {
    IncidentType.S136: IncidentSource.POLICE,
    IncidentType.CALL_999: IncidentSource.POLICE,
    IncidentType.POLICE_ATTENDANCE: IncidentSource.POLICE,
}

# -- text of realistic length -----------------------------------------------------------------

VISIT_SENTENCES = (
    "Met at home as planned; the flat was tidier than last time and the heating is fixed.",
    "Walked to the park and talked about the week ahead and what helps on the bad days.",
    "Went through the crisis plan together and updated two phone numbers that had changed.",
    "Talked about the letter from the housing office; agreed we would ring them together.",
    "Said sleep has been better since the new routine; still waking early most mornings.",
    "Coffee at the library café. Talked about getting back to the football on Saturdays.",
    "Discussed what happened last month and what the pair could do differently next time.",
    "Visited with the support worker; agreed to try the peer group on Thursday afternoon.",
    "Went to the job centre appointment together and talked through what to say first.",
    "Mentioned that the neighbours have been noisy again; talked about ways to cope with it.",
    "Was quieter than usual today. We kept it short and agreed to phone on Monday morning.",
    "Brought the photos from the allotment; proud of the tomatoes and wants to show the group.",
    "Asked about the benefits review. Explained what happens next and offered to come along.",
    "Talked about the anniversary coming up and who to call if it gets too much that week.",
    "Spoke about their son's birthday and the plan to meet at the family centre on Sunday.",
    "Reviewed the goals in their own words; two are going well, one needs a different plan.",
)
CALL_SENTENCES = (
    "Phoned to check in after the weekend; sounded brighter and is looking forward to Thursday.",
    "Short call. The new routine is working; next visit as planned, nothing else needed.",
    "Returned a missed call: wanted to check the time of the GP appointment, which we confirmed.",
    "Called to say the week has been hard. Talked through the crisis plan; agreed a visit soon.",
    "Texted to confirm Thursday's visit; replied with a thumbs up and a question about parking.",
    "Video call because of the train strike; showed us the new flat and the view from the window.",
)
CLINICAL_SENTENCES = (
    "Mood lower this week; reviewed medication adherence and no change is needed for now.",
    "Reports intrusive thoughts less often. Continue the grounding techniques; liaise with GP.",
    "Discussed trauma history briefly at their pace; agreed to consider a psychology referral.",
    "Safety plan intact. Denies current intent; protective factors are the dog and their sister.",
    "Sleep and appetite improved. Side effects tolerable; will review the dose with the team.",
    "Some paranoid ideation about the neighbours, less distressing than in the spring.",
    "Alcohol use down to weekends only by their account; offered the community alcohol team.",
)
INCIDENT_SENTENCES = (
    "Found on the bridge by officers after a call from a passer-by; calm by the time we arrived.",
    "Called 999 from home in distress after an argument with a neighbour; no injuries.",
    "Taken to A&E by ambulance after taking more tablets than prescribed; seen and discharged.",
    "Police attended after a concern for welfare call from the family; no further action.",
    "Self-referred to the crisis café and then to A&E; waited seven hours for the liaison team.",
    "Admitted informally after three days without sleep; discharge planning started early.",
)
PLACES = ("Home", "Home", "Library café", "Park", "Family centre", "GP surgery", "Job centre")
ADJUSTMENTS = (
    None,
    "Prefers morning visits; written information in large print, and no more than two visitors"
    " at once. Allow extra time to answer questions.",
    "Needs time to process; avoid phone calls before 10am. Text first to say we are coming.",
    "Uses a wheelchair; meet on the ground floor or at home. Hearing loop in meeting rooms.",
    "Interpreter in person rather than by phone; the same interpreter where possible.",
)
GOALS = (
    "To feel safe at home, get back to the football on Saturdays, and see my son every week.",
    "I want to stop ending up in A&E. I want to finish the college course and find work.",
    "Keep my flat. Sleep better. Go to the allotment twice a week and see my sister.",
    "To be listened to when I am struggling, and to know who to call before it gets bad.",
)
CRISIS_PLANS = (
    "If I am struggling, call my sister first. Please talk to me calmly and not in front of the"
    " neighbours. The crisis café on Station Road helps; walking helps; loud places do not.",
    "Early signs: I stop answering the phone and stop eating. Please knock and wait. Do not"
    " bring uniformed officers to the door if it can be avoided. My GP knows my history.",
    "Ring the crisis line with me. If I have to go to hospital, I want the same ward as last time"
    " and my cat fed by my neighbour at number 12.",
)


def sentences(rng: random.Random, bank: tuple[str, ...], low: int, high: int) -> str:
    return " ".join(rng.sample(bank, min(len(bank), rng.randint(low, high))))


# -- one person's life in the vault -----------------------------------------------------------


@dataclass
class Timeline:
    index: int
    referred: date
    enrolled: date | None
    closing: tuple[ExitReason, date] | None
    stepping_down: date | None
    date_of_birth: date
    person_id: uuid.UUID | None = None
    plans: list[bulk.PlannedPlan] = field(default_factory=list)

    def end(self, today: date) -> date:
        return self.closing[1] if self.closing else today

    def follow_up_years(self, today: date) -> float:
        return 0.0 if self.enrolled is None else (self.end(today) - self.enrolled).days / 365.25


def timeline(index: int, rng: random.Random, today: date, years: int) -> Timeline:
    window = round(years * 365.25)
    age = rng.randint(18, 70)
    dob = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
    if rng.random() < 0.04:  # referred lately, not enrolled yet
        return Timeline(index, today - timedelta(days=rng.randint(3, 40)), None, None, None, dob)
    enrolled = today - timedelta(days=round(window * rng.uniform(0.4, 1.0)))
    referred = enrolled - timedelta(days=rng.randint(10, 60))
    closing = None
    roll = rng.random()
    for reason, share, low, high in (
        (ExitReason.DISENGAGED, 0.06, 60, 700),
        (ExitReason.MOVED, 0.04, 90, 900),
        (ExitReason.DIED, 0.015, 90, 1200),
        (ExitReason.STEPPED_DOWN, 0.10, 500, 1500),
    ):
        if roll < share:
            day = enrolled + timedelta(days=rng.randint(low, high))
            if day < today - timedelta(days=7):
                closing = (reason, day)
            break
        roll -= share
    stepping = None
    if closing is None and (today - enrolled).days > 730 and rng.random() < 0.08:
        stepping = today - timedelta(days=rng.randint(10, 90))
    return Timeline(index, referred, enrolled, closing, stepping, dob)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute), LOCAL_ZONE).astimezone(UTC)


def poisson_days(rng: random.Random, start: date, end: date, per_year: float) -> list[date]:
    days: list[date] = []
    if per_year <= 0 or end <= start:
        return days
    current = datetime.combine(start, clock_time(0))
    while True:
        current += timedelta(days=rng.expovariate(per_year / 365.25))
        if current.date() >= end:
            return days
        days.append(current.date())


def nhs_number(index: int, seed: int) -> str:
    """Unique, valid Modulus 11, in the 999 range kept for test data."""
    n = (index * 7919 + seed * 104729) % 1_000_000
    while True:
        first = f"999{n:06d}"
        check = nhs_number_check_digit(first)
        if check is not None:
            return first + str(check)
        n = (n + 1) % 1_000_000


@dataclass(frozen=True)
class Rates:
    """Yearly rates, worked out so the whole vault lands on the targets."""

    visits_weekly_share: float
    extra_contacts: float
    demand_before: float
    after_factor_mean: float = 0.55


def calibrate(timelines: list[Timeline], today: date, years: int) -> Rates:
    scale = years / 5
    n = len(timelines)
    follow = sum(t.follow_up_years(today) for t in timelines) or 1.0
    enrolled = sum(1 for t in timelines if t.enrolled is not None) or 1
    # Visits run from enrolment to the end plus about 11 weeks ahead for those still open.
    ahead = sum(75 / 365.25 for t in timelines if t.enrolled is not None and t.closing is None)
    visits_per_year = TARGET_VISITS * scale * n / (follow + ahead)
    # weekly 52/yr, fortnightly 26/yr, monthly 12/yr in a 10% share: solve for the weekly share.
    weekly = min(0.95, max(0.05, (visits_per_year - 0.1 * 12 - 0.9 * 26) / (0.9 * (52 - 26))))
    done_per_year = visits_per_year * 0.78
    extra = max(4.0, TARGET_CONTACTS * scale * n / follow - done_per_year)
    # Incidents: prior year at 0.7, the year before enrolment at 1.0, after at ~0.55.
    exposure = 1.7 * enrolled + 0.55 * follow
    demand = TARGET_INCIDENTS * scale * n * 0.97 / exposure
    return Rates(weekly, extra, demand)


class Builder:
    def __init__(self, vault: UnlockedVault, rng: random.Random, today: date, rates: Rates):
        self.vault = vault
        self.rng = rng
        self.today = today
        self.now = vault.now()
        self.rates = rates
        self.counts = {"contacts": 0, "incidents": 0, "planned_visits": 0, "plans": 0}

    # people, through the use cases
    def person(self, t: Timeline, pair_id: uuid.UUID, seed: int) -> uuid.UUID:
        rng = self.rng
        culture = CULTURES[t.index % len(CULTURES)]
        given, gender = rng.choice(culture.given)
        family = rng.choice(culture.family)
        borough, areas = BOROUGHS[t.index % len(BOROUGHS)]
        details = people.PersonDetails(
            given_name=given,
            family_name=family,
            preferred_name=rng.choice((None, None, None, given[:3])) if given.isascii() else None,
            pronouns=PRONOUNS.get(gender),
            date_of_birth=t.date_of_birth,
            nhs_number=nhs_number(t.index, seed) if rng.random() < 0.92 else None,
            police_reference=f"STRESS/{seed}/{t.index:06d}",
            ethnic_category=rng.choice(culture.ethnic_categories),
            gender=gender,
            first_language=culture.language,
            interpreter_needed=culture.language not in ("English", "Welsh") and rng.random() < 0.4,
            reasonable_adjustments=rng.choice(ADJUSTMENTS),
            borough=borough,
            neighbourhood=rng.choice(areas),
            gp_practice=f"{rng.choice(('High Street', 'Riverside', 'Park Road'))} Medical Centre",
            referred_on=t.referred,
            referral_source=rng.choice(("Police (MHST)", "A&E liaison", "Crisis team", "GP")),
            referral_criteria="Five or more s136 detentions or 999 calls in the last 12 months",
            referral_counts=f"{rng.randint(5, 14)} s136, {rng.randint(10, 60)} calls to 999",
            goals=rng.choice(GOALS),
            crisis_plan=rng.choice(CRISIS_PLANS),
            pair_id=pair_id,
        )
        pid = people.create_person(self.vault, details)
        people.record_consent(
            self.vault,
            pid,
            people.ConsentDetails(
                taking_part=True, information_sharing=rng.random() < 0.85, recorded_on=t.referred
            ),
        )
        for _ in range(rng.randint(1, 2)):
            people.add_key_contact(
                self.vault,
                pid,
                name=rng.choice(culture.given)[0] + " " + family,
                relationship=rng.choice(("Sister", "Mother", "Friend", "Son", "Neighbour")),
                telephone=f"07700 9{rng.randint(0, 99999):05d}",
                is_carer=rng.random() < 0.3,
            )
        if t.enrolled is not None:
            people.change_status(self.vault, pid, PersonStatus.ACTIVE, on=t.enrolled)
        t.person_id = pid
        return pid

    # visit plans, in bulk
    def plans(self, t: Timeline) -> list[tuple[uuid.UUID, PlanDetails]]:
        rng = self.rng
        assert t.person_id is not None
        if t.enrolled is None:
            first = self.today + timedelta(days=rng.randint(2, 14))
            return [(t.person_id, PlanDetails("once", at(first, 11), place="Home"))]
        last = (
            t.closing[1] - timedelta(days=1)
            if t.closing
            else self.today + timedelta(days=rng.randint(40, 110))
        )
        cursor = t.enrolled + timedelta(days=rng.randint(3, 14))
        result = []
        while cursor < last:
            roll = rng.random()
            if roll < 0.1:
                frequency = "monthly"
            elif roll < 0.1 + 0.9 * self.rates.visits_weekly_share:
                frequency = "weekly"
            else:
                frequency = "fortnightly"
            end = min(last, cursor + timedelta(days=rng.randint(180, 700)))
            result.append(
                (
                    t.person_id,
                    PlanDetails(
                        frequency,
                        at(cursor, rng.choice((10, 11, 14, 15))),
                        end_on=end,
                        duration_minutes=rng.choice((45, 60, 60, 90)),
                        mechanism="01",
                        place=rng.choice(PLACES),
                    ),
                )
            )
            cursor = end + timedelta(days=rng.randint(1, 10))
        return result

    def contact(
        self, day_time: datetime, *, mechanism: str, attended: bool, visit: uuid.UUID | None
    ) -> ContactDetails:
        rng = self.rng
        face = mechanism == ConsultationMechanism.FACE_TO_FACE.value
        if attended:
            attendance = rng.choice((Attendance.ATTENDED,) * 9 + (Attendance.LATE_SEEN,))
            bank = VISIT_SENTENCES if face else CALL_SENTENCES
            shared = sentences(rng, bank, 2, 6) if face else sentences(rng, bank, 1, 2)
            clinical = sentences(rng, CLINICAL_SENTENCES, 1, 4) if rng.random() < 0.25 else None
        else:
            attendance = rng.choice(
                (
                    Attendance.DID_NOT_ATTEND,
                    Attendance.CANCELLED_BY_PERSON,
                    Attendance.LATE_NOT_SEEN,
                )
            )
            shared = rng.choice((None, "Not in when we called; left a card with the next date."))
            clinical = None
        return ContactDetails(
            started_at=day_time,
            duration_minutes=rng.choice((30, 45, 60, 90)) if face else rng.choice((5, 10, 15)),
            mechanism=mechanism,
            attendance=attendance.value,
            staff_present=rng.choice(
                (StaffPresent.BOTH, StaffPresent.BOTH, StaffPresent.OFFICER, StaffPresent.CLINICIAN)
            ).value,
            place=rng.choice(PLACES) if face else None,
            shared_note=shared,
            clinical_note=clinical,
            planned_visit_id=visit,
        )

    def contacts_and_marks(
        self, t: Timeline
    ) -> tuple[list[tuple[uuid.UUID, ContactDetails]], list[tuple[uuid.UUID, str, str | None]]]:
        rng = self.rng
        assert t.person_id is not None
        contacts: list[tuple[uuid.UUID, ContactDetails]] = []
        marks: list[tuple[uuid.UUID, str, str | None]] = []
        latest = self.now - timedelta(hours=1)
        recent = self.now - timedelta(days=14)
        for plan in t.plans:
            for visit_id, due in plan.visits:
                if due > latest:
                    continue  # still to come (or later today)
                roll = rng.random()
                if due > recent:
                    done, missed = roll < 0.75, False  # a quarter of last fortnight's overdue
                else:
                    done, missed = roll < 0.80, roll < 0.93
                if done:
                    shift = timedelta(
                        days=rng.choice((0, 0, 0, 0, 0, 1, 2)), minutes=rng.choice((0, 10, 25))
                    )
                    contacts.append(
                        (
                            t.person_id,
                            self.contact(
                                min(due + shift, latest),
                                mechanism="01",
                                attended=True,
                                visit=visit_id,
                            ),
                        )
                    )
                elif missed:
                    marks.append(
                        (visit_id, PlannedVisitStatus.MISSED.value, "Not in when we called")
                    )
                elif due <= recent:
                    marks.append(
                        (
                            visit_id,
                            PlannedVisitStatus.CANCELLED.value,
                            rng.choice((None, "Unwell; rearranged by phone")),
                        )
                    )
        start = t.enrolled or t.referred
        engaged = t.closing is None or t.closing[0] != ExitReason.DISENGAGED
        rate = self.rates.extra_contacts if t.enrolled else 6.0
        for day in poisson_days(
            rng, start, min(t.end(self.today), self.today + timedelta(days=1)), rate
        ):
            moment = at(day, rng.randint(8, 18), rng.choice((0, 15, 30, 45)))
            if moment > latest:
                continue
            mechanism = rng.choices(("02", "09", "11", "01", "10"), (10, 5, 1, 3, 1))[0]
            attended = rng.random() < (0.85 if engaged else 0.5)
            contacts.append(
                (
                    t.person_id,
                    self.contact(moment, mechanism=mechanism, attended=attended, visit=None),
                )
            )
        return contacts, marks

    def incidents(self, t: Timeline) -> list[tuple[uuid.UUID, incidents.IncidentDetails]]:
        rng = self.rng
        assert t.person_id is not None
        result: list[tuple[uuid.UUID, incidents.IncidentDetails]] = []
        if t.enrolled is None:
            periods = [(t.referred - timedelta(days=365), t.referred, 1.0)]
        else:
            improves = rng.random() < 0.75
            after = rng.uniform(0.15, 0.65) if improves else rng.uniform(0.85, 1.5)
            periods = [
                (t.enrolled - timedelta(days=730), t.enrolled - timedelta(days=365), 0.7),
                (t.enrolled - timedelta(days=365), t.enrolled, 1.0),
                (t.enrolled, t.end(self.today), after),
            ]
        intensity = rng.uniform(0.6, 1.4)
        total = sum(DEMAND_WEIGHTS.values())
        adult_from = t.date_of_birth + timedelta(days=16 * 365)
        for kind, weight in DEMAND_WEIGHTS.items():
            rate = self.rates.demand_before * weight / total * intensity
            for start, stop, scale in periods:
                for day in poisson_days(
                    rng, max(start, adult_from), min(stop, self.today), rate * scale
                ):
                    result.append((t.person_id, self.incident(t, kind, day)))
        if t.enrolled is not None:
            for kind, chance in (
                (IncidentType.COMPLAINT, 0.1),
                (IncidentType.SAFEGUARDING, 0.15),
                (IncidentType.POLICE_LEGAL_ACTION, 0.1),
            ):
                if rng.random() < chance:
                    day = t.enrolled + timedelta(
                        days=rng.randint(5, max(6, (t.end(self.today) - t.enrolled).days))
                    )
                    if day < self.today:
                        result.append((t.person_id, self.incident(t, kind, day)))
            if t.closing and t.closing[0] == ExitReason.DIED:
                result.append((t.person_id, self.incident(t, IncidentType.DEATH, t.closing[1])))
        return result

    def incident(self, t: Timeline, kind: IncidentType, day: date) -> incidents.IncidentDetails:
        rng = self.rng
        occurred = at(day, rng.randint(0, 23), rng.choice((0, 15, 30, 45)))
        if occurred > self.now - timedelta(hours=6):  # an s136 episode runs on for hours
            occurred = self.now - timedelta(hours=6)
        s136 = None
        ended = None
        if kind == IncidentType.S136:
            adult = dates.age_on(t.date_of_birth, occurred.astimezone(LOCAL_ZONE).date()) >= 18
            place = rng.choices(("hbpos", "ae", "police_station"), (6, 3, 1 if adult else 0))[0]
            arrived = occurred + timedelta(minutes=rng.randint(20, 120))
            places: list[tuple[str, datetime | None]] = [(place, arrived)]
            if rng.random() < 0.15:
                places.append(("hbpos", arrived + timedelta(minutes=rng.randint(60, 240))))
            s136 = incidents.S136Details(
                detained_at=occurred,
                health_professional_consulted=rng.choice((True, True, False, None)),
                conveyance=rng.choice(("ambulance", "ambulance", "police_vehicle")),
                arrived_at=arrived,
                extension_hours=rng.choice((None,) * 9 + (6,)),
                outcome=rng.choice(
                    ("discharged", "community_follow_up", "informal_admission", "detained_s2")
                ),
                places=[p for p in places if p[1] is None or p[1] <= self.now],
            )
        elif kind == IncidentType.MH_ADMISSION:
            out = day + timedelta(days=rng.randint(7, 45))
            ended = out if out < self.today else None
        legal = "community_protection_notice" if kind == IncidentType.POLICE_LEGAL_ACTION else None
        return incidents.IncidentDetails(
            occurred_at=occurred,
            incident_type=kind.value,
            source=SOURCES.get(kind, IncidentSource.NHS).value,
            ended_on=ended,
            legal_action=legal,
            source_reference=f"CAD {rng.randint(1000, 9999)}/{day:%d%b%y}"
            if kind in SOURCES
            else None,
            summary=sentences(rng, INCIDENT_SENTENCES, 1, 3) if rng.random() < 0.6 else None,
            s136=s136,
        )

    def extras(self, t: Timeline) -> None:
        """Baseline totals, information shared with police, and the end of the story."""
        rng, vault = self.rng, self.vault
        assert t.person_id is not None
        if t.enrolled is not None and rng.random() < 0.25:
            start = max(
                t.enrolled - timedelta(days=1095), t.date_of_birth + timedelta(days=16 * 365)
            )
            end = t.enrolled - timedelta(days=731)
            if start < end:
                incidents.record_baseline_count(
                    vault,
                    t.person_id,
                    IncidentType.S136,
                    start,
                    end,
                    rng.randint(2, 9),
                    IncidentSource.POLICE,
                )
        if t.enrolled is not None and rng.random() < 0.15:
            for _ in range(rng.randint(1, 3)):
                day = t.enrolled + timedelta(
                    days=rng.randint(1, max(2, (t.end(self.today) - t.enrolled).days))
                )
                moment = min(at(day, 12), self.now - timedelta(hours=1))
                incidents.record_disclosure(
                    vault,
                    t.person_id,
                    incidents.DisclosureDetails(
                        shared_at=moment,
                        what="Current medication and the name of the care coordinator.",
                        why=(
                            "Officers attending a concern for welfare call needed to know"
                            " who to contact."
                        ),
                        lawful_basis="vital_interests",
                        person_asked=rng.choice(("asked_agreed", "not_asked")),
                        shared_with="Response team sergeant",
                    ),
                )
        stepping_down_on = t.stepping_down or (
            t.closing[1] if t.closing is not None and t.closing[0] == "stepped_down" else None
        )
        if stepping_down_on is not None:  # a handover plan comes first (issue 17)
            circle.save_handover_plan(
                vault,
                t.person_id,
                circle.HandoverDetails(agreed_on=stepping_down_on, who_carries_on="Their GP"),
            )
        if t.closing is not None:
            people.change_status(
                vault, t.person_id, PersonStatus.CLOSED, on=t.closing[1], exit_reason=t.closing[0]
            )
        elif t.stepping_down is not None:
            people.change_status(vault, t.person_id, PersonStatus.STEPPING_DOWN, on=t.stepping_down)

    def chunk(
        self, chunk: list[Timeline], pair_id: uuid.UUID, seed: int, timings: dict[str, float]
    ) -> None:
        vault = self.vault

        def timed(name: str, work):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            result = work()
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
            return result

        with vault.batch():
            for t in chunk:
                timed("people (use cases)", lambda t=t: self.person(t, pair_id, seed))
            wanted = [item for t in chunk for item in self.plans(t)]
            made = timed("visit plans (bulk)", lambda: bulk.plan_visits(vault, wanted))
            by_person: dict[uuid.UUID, list[bulk.PlannedPlan]] = {}
            for plan in made:
                by_person.setdefault(plan.person_id, []).append(plan)
            for t in chunk:
                assert t.person_id is not None
                t.plans = by_person.get(t.person_id, [])
            self.counts["plans"] += len(made)
            self.counts["planned_visits"] += sum(len(p.visits) for p in made)
            contacts: list[tuple[uuid.UUID, ContactDetails]] = []
            marks: list[tuple[uuid.UUID, str, str | None]] = []
            for t in chunk:
                c, m = self.contacts_and_marks(t)
                contacts += c
                marks += m
            timed("contacts (bulk)", lambda: bulk.add_contacts(vault, contacts))
            timed("visit outcomes (bulk)", lambda: bulk.mark_visits(vault, marks))
            self.counts["contacts"] += len(contacts)
            found = [item for t in chunk for item in self.incidents(t)]
            timed("incidents (bulk)", lambda: bulk.add_incidents(vault, found))
            self.counts["incidents"] += len(found)
            for t in chunk:
                timed("baselines, disclosures, closures (use cases)", lambda t=t: self.extras(t))


# -- the vault ----------------------------------------------------------------------------------


def build(
    people_count: int, years: int, out: Path, seed: int, *, quiet: bool = False
) -> common.Manifest:
    def say(text: str) -> None:
        if not quiet:
            print(text, flush=True)

    out.mkdir(parents=True, exist_ok=True)
    paths, plain, manifest_path = common.locations(out, people_count, years)
    manifest_path.unlink(missing_ok=True)
    for vp in (paths, plain):
        for f in (*vp.all_files, Path(str(vp.database) + "-shm")):
            f.unlink(missing_ok=True)
    dirs = common.app_dirs(out)
    started = time.perf_counter()
    phases: dict[str, float] = {}

    say(f"Creating the vault and team at {paths.database}")
    t0 = time.perf_counter()
    unlock.create_vault(
        paths,
        team_name="Stress test trust (synthetic data)",
        username=common.LEAD,
        display_name="Lee Okafor (team lead)",
        passphrase=common.passphrase(common.LEAD),
        clinical_lead=True,
    )
    pair_count = max(2, math.ceil(people_count / PEOPLE_PER_PAIR))
    pairs: list[tuple[uuid.UUID, str]] = []
    with unlock.unlock(paths, common.LEAD, common.passphrase(common.LEAD), dirs=dirs) as lead:
        today = lead.today()
        for n in range(1, pair_count + 1):
            ids = {}
            for role, who in ((Role.OFFICER, "officer"), (Role.CLINICIAN, "clinician")):
                name = f"{who}{n:02d}"
                ids[role] = users.add_user(
                    lead,
                    username=name,
                    display_name=f"{'PC' if role == Role.OFFICER else 'RMN'} {who.title()} {n}",
                    role=role,
                    passphrase=common.passphrase(name),
                )
            pid = people.create_pair(
                lead,
                name=f"Pair {n:02d}",
                officer_id=ids[Role.OFFICER],
                clinician_id=ids[Role.CLINICIAN],
            )
            pairs.append((pid, f"clinician{n:02d}"))
    phases["vault, users and pairs (Argon2 per user)"] = time.perf_counter() - t0

    timelines = [
        timeline(i, random.Random(seed * 1_000_003 + i), today, years) for i in range(people_count)
    ]
    rates = calibrate(timelines, today, years)
    counts = {"contacts": 0, "incidents": 0, "planned_visits": 0, "plans": 0}
    for n, (pair_id, clinician) in enumerate(pairs):
        mine = timelines[n::pair_count]
        with unlock.unlock(paths, clinician, common.passphrase(clinician), dirs=dirs) as vault:
            builder = Builder(vault, random.Random(seed * 7 + n), today, rates)
            for start in range(0, len(mine), CHUNK):
                builder.chunk(mine[start : start + CHUNK], pair_id, seed, phases)
            for key in counts:
                counts[key] += builder.counts[key]
        done = sum(len(timelines[k::pair_count]) for k in range(n + 1))
        say(
            f"  {done:>5}/{people_count} people, {counts['contacts']:,} contacts,"
            f" {counts['incidents']:,} incidents, {counts['planned_visits']:,} planned visits"
            f" ({time.perf_counter() - started:,.0f} s)"
        )

    say("Writing the unencrypted copy for the encrypted/plain comparison")
    t0 = time.perf_counter()
    keys = unlock_user(paths, common.LEAD, common.passphrase(common.LEAD))
    with unlock.unlock(paths, common.LEAD, common.passphrase(common.LEAD), dirs=dirs) as lead:
        long_history, log_person, names = _choose(lead, timelines, today)
        as_of = lead.now()
    common.export_plain(paths, keys.record_key, plain)
    phases["plain copy (sqlcipher_export)"] = time.perf_counter() - t0

    manifest = common.Manifest(
        people=people_count,
        years=years,
        seed=seed,
        as_of=as_of.isoformat(),
        database=str(paths.database),
        plain=str(plain.database),
        counts={**counts, **_table_counts(paths, keys.record_key)},
        build_seconds=round(time.perf_counter() - started, 1),
        phases={k: round(v, 1) for k, v in phases.items()},
        long_history_person=str(long_history),
        log_person=str(log_person),
        search_names=names,
        usernames=[common.LEAD]
        + [f"{w}{n:02d}" for n in range(1, pair_count + 1) for w in ("officer", "clinician")],
    )
    manifest.save(manifest_path)
    size = paths.database.stat().st_size / 2**20
    say(
        f"Done in {manifest.build_seconds:,.0f} s: {paths.database.name} ({size:,.0f} MiB),"
        f" {counts['contacts']:,} contacts, {counts['incidents']:,} incidents,"
        f" {counts['planned_visits']:,} planned visits"
    )
    return manifest


def _choose(
    vault: UnlockedVault, timelines: list[Timeline], today: date
) -> tuple[uuid.UUID, uuid.UUID, list[str]]:
    """The still-active person enrolled longest (the workspace and report benchmarks), another
    active person to log contacts for, and family names to type into the caseload search."""
    open_ = [
        t
        for t in timelines
        if t.enrolled is not None and t.closing is None and t.stepping_down is None
    ]
    open_.sort(key=lambda t: t.enrolled)  # type: ignore[arg-type, return-value]
    long_history, log_person = open_[0], open_[len(open_) // 2]
    record = people.reload_person(vault, long_history.person_id)  # type: ignore[arg-type]
    other = people.reload_person(vault, log_person.person_id)  # type: ignore[arg-type]
    names = [record.details.family_name, other.details.family_name, "Smith", "ma"]
    return long_history.person_id, log_person.person_id, names  # type: ignore[return-value]


def _table_counts(paths, record_key: bytes) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from sim_desk.records.vault.store import raw_connection

    with raw_connection(paths.database, record_key) as conn:
        return {
            f"rows.{table}": conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in (
                "people",
                "contacts",
                "incidents",
                "planned_visits",
                "visit_plans",
                "audit_events",
            )
        }


def ensure(
    people_count: int, years: int, out: Path, seed: int = 1, *, quiet: bool = False
) -> common.Manifest:
    """The manifest of a finished stress vault of this size, building it first if missing."""
    _, _, manifest_path = common.locations(out, people_count, years)
    manifest = common.Manifest.load(manifest_path)
    if (
        manifest is not None
        and manifest.seed == seed
        and manifest.format == common.Manifest.format
        and Path(manifest.database).exists()
        and Path(manifest.plain).exists()
    ):
        return manifest
    return build(people_count, years, out, seed, quiet=quiet)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, default=common.DATA, help="folder (default benchmarks/.data)"
    )
    parser.add_argument(
        "--if-missing", action="store_true", help="keep a finished vault of this size"
    )
    args = parser.parse_args(argv)
    if args.people < 10 or not 1 <= args.years <= 10:
        parser.error("--people 10 or more, --years 1 to 10")
    if args.if_missing:
        ensure(args.people, args.years, args.out, args.seed)
    else:
        build(args.people, args.years, args.out, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
