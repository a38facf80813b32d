"""The outcome figures read only the rows inside each person's window
(``outcome_data.facts.read_facts``, for speed on a trust-wide vault). They must come out exactly
as if every contact and planned visit had been read and handed to the pure arithmetic in
``outcomes``, as its docstrings define it."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from sim_desk.records import bulk, outcomes, people
from sim_desk.records.codes import Attendance
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.incidents import IncidentDetails, stay_for
from sim_desk.records.model import Contact, Incident, PlannedVisit
from sim_desk.records.people import PersonDetails
from sim_desk.records.read_models import outcome_data
from sim_desk.records.read_models.outcome_data import facts
from sim_desk.records.unit_of_work import LOCAL_ZONE, UnlockedVault, local_date
from sim_desk.records.visits import PlanDetails

_SEEN = {a.value for a in Attendance if a.seen}


def _person(vault: UnlockedVault, name: str, referred: date, enrolled: date) -> uuid.UUID:
    pid = people.create_person(
        vault,
        PersonDetails(
            given_name=name,
            family_name="Test",
            date_of_birth=date(1985, 3, 1),
            referred_on=referred,
        ),
    )
    people.change_status(vault, pid, "active", on=enrolled)
    return pid


def _history(vault: UnlockedVault, pid: uuid.UUID, referred: date, rng: random.Random) -> None:
    """Contacts from referral to today at awkward hours (23:xx UTC is the next UK day in
    summer), some linked to weekly planned visits, some of those visits missed."""
    [plan] = bulk.plan_visits(
        vault,
        [
            (
                pid,
                PlanDetails(
                    frequency="weekly",
                    first_visit_at=datetime.combine(
                        referred + timedelta(days=3), datetime.min.time(), UTC
                    )
                    + timedelta(hours=23, minutes=30),
                    occurrences=104,
                ),
            )
        ],
    )
    today = vault.today()
    items = []
    done = set()
    for visit_id, due in plan.visits:
        if local_date(due) <= today and rng.random() < 0.6:
            delay = timedelta(days=rng.choice((0, 0, 2, 7, 8, 9)), minutes=rng.choice((0, 50)))
            if local_date(due + delay) <= today:
                items.append(
                    (pid, ContactDetails(started_at=due + delay, planned_visit_id=visit_id))
                )
                done.add(visit_id)
    day = referred
    while day < today:
        moment = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
            hours=rng.choice((0, 9, 13, 22, 23)), minutes=rng.choice((0, 30, 59))
        )
        attendance = rng.choice([a.value for a in Attendance])
        items.append((pid, ContactDetails(started_at=moment, attendance=attendance)))
        day += timedelta(days=rng.randint(3, 20))
    bulk.add_contacts(vault, items)
    missed = [
        (vid, "missed", None)
        for vid, due in plan.visits
        if vid not in done and local_date(due) < today and rng.random() < 0.5
    ]
    bulk.mark_visits(vault, missed)
    # Incidents from three years before referral (before every window) to today: admissions
    # that reach into the prior window from before it, one still open, custody, and the rest.
    incidents = []
    day = referred - timedelta(days=3 * 365)
    kinds = ["call_999", "ae_attendance", "self_harm", "mh_admission", "police_attendance"]
    while day < today:
        kind = rng.choice(kinds)
        moment = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23, minutes=15)
        ended = None
        uk_day = local_date(moment)  # 23:15 UTC is the next day in summer
        if kind == "mh_admission":
            ended = uk_day + timedelta(days=rng.randint(5, 400))
            ended = None if ended > today or rng.random() < 0.1 else ended
        custody = kind == "police_attendance" and rng.random() < 0.5
        if custody:
            ended = uk_day + timedelta(days=rng.choice((0, 1, 2)))
        incidents.append(
            (
                pid,
                IncidentDetails(
                    occurred_at=moment,
                    incident_type=kind,
                    source="police" if kind in ("call_999", "police_attendance") else "nhs",
                    custody=custody,
                    ended_on=ended,
                ),
            )
        )
        day += timedelta(days=rng.randint(10, 80))
    bulk.add_incidents(vault, incidents)


def _every_incident(vault: UnlockedVault, pid: uuid.UUID):
    with vault.read() as session:
        rows = session.execute(select(Incident).where(Incident.person_id == pid)).scalars()
        events, stays = [], []
        for row in rows:
            day = local_date(row.occurred_at)
            events.append(outcomes.Event(day, row.incident_type))
            stay = stay_for(row.incident_type, day, row.custody, row.ended_on)
            if stay is not None:
                stays.append(stay)
    return events, stays


def _every_row(vault: UnlockedVault, pid: uuid.UUID):
    """Every contact and planned visit of the person, as the pure arithmetic defines them."""
    with vault.read() as session:
        contacts = [
            outcomes.ContactFact(c.started_at.astimezone(LOCAL_ZONE), c.attendance in _SEEN)
            for c in session.execute(select(Contact).where(Contact.person_id == pid)).scalars()
        ]
        done_at = {
            c.planned_visit_id: c.started_at
            for c in session.execute(
                select(Contact)
                .where(Contact.person_id == pid, Contact.planned_visit_id.is_not(None))
                .order_by(Contact.started_at.desc())
            ).scalars()
        }
        visits = [
            outcomes.PlannedVisitFact(
                local_date(v.due_at),
                v.status,
                local_date(done_at[v.id]) if v.id in done_at else None,
            )
            for v in session.execute(
                select(PlannedVisit).where(PlannedVisit.person_id == pid)
            ).scalars()
        ]
    return contacts, visits


def test_windowed_facts_give_the_same_engagement_as_reading_every_row(clinician):
    rng = random.Random(8)
    today = clinician.today()
    starts = {
        "Amaka": (date(2024, 3, 4), date(2024, 4, 2)),  # followed for more than the window
        "Bartosz": (date(2025, 6, 30), date(2025, 7, 1)),  # enrolled on a BST day
        "Chiara": (today - timedelta(days=40), today - timedelta(days=30)),  # just started
    }
    ids = {}
    for name, (referred, enrolled) in starts.items():
        ids[name] = _person(clinician, name, referred, enrolled)
        _history(clinician, ids[name], referred, rng)

    # 00:30 BST on the day Bartosz was enrolled: in his after window by the UK calendar,
    # though still the day before in UTC.
    bulk.add_contacts(
        clinician,
        [(ids["Bartosz"], ContactDetails(started_at=datetime(2025, 6, 30, 23, 30, tzinfo=UTC)))],
    )

    cohort = {r.person_id: r for r in outcome_data.cohort_outcomes(clinician).people}
    for pid in ids.values():
        report = outcome_data.person_outcomes(clinician, pid)
        contacts, visits = _every_row(clinician, pid)
        expected = outcomes.engagement(contacts, visits, report.outcome.windows.followed, today)
        assert report.engagement == expected
        assert cohort[pid].engagement == expected
        events, stays = _every_incident(clinician, pid)
        person = people.reload_person(clinician, pid)
        outcome = outcomes.person_outcome(
            outcomes.PersonOutcomeInput(str(pid), person.enrolled_on, None, events, (), stays),
            today=today,
            incident_types=outcome_data.ALL_TYPES,
        )
        assert report.outcome == outcome == cohort[pid].outcome
        assert len(events) > 10 and len(stays) > 2
        assert expected.contacts > 0 and expected.days_since_last_contact is not None
    assert any(cohort[pid].engagement.planned_due > 0 for pid in ids.values())


def test_the_database_dates_moments_by_the_uk_calendar(clinician):
    # outcome_data counts planned visits in SQL, dating them with the UK clock shifts.
    from sqlalchemy import insert, literal

    moments = [
        datetime(2026, 3, 29, 0, 59, tzinfo=UTC),  # a minute before summer time
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 23, 0, tzinfo=UTC),  # 00:00 BST on the 30th
        datetime(2026, 10, 24, 23, 30, tzinfo=UTC),  # 00:30 BST on the 25th
        datetime(2026, 10, 25, 23, 30, tzinfo=UTC),  # winter again: still the 25th
        datetime(1970, 6, 1, 23, 30, tzinfo=UTC),  # British Standard Time, all year
        datetime(1970, 12, 1, 23, 30, tzinfo=UTC),
        datetime(1947, 5, 1, 22, 30, tzinfo=UTC),  # double summer time (UTC+2)
        datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),
    ]
    moments += [datetime(2025, 1, 1, 23, 30, tzinfo=UTC) + timedelta(days=7 * k) for k in range(60)]
    with clinician.read() as session:
        conn = session.connection()
        facts._SHIFTS.create(conn)
        try:
            conn.execute(insert(facts._SHIFTS), facts._clock_shifts(1940, 2027))
            for moment in moments:
                # As the vault stores it: 'YYYY-MM-DD HH:MM:SS.ffffff', UTC.
                stored = moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
                sql = facts._uk_date(literal(stored))
                assert conn.execute(select(sql)).scalar() == local_date(moment).isoformat(), moment
        finally:
            facts._SHIFTS.drop(conn)
