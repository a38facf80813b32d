"""Planned visits as .ics: parses with icalendar, initials and a reference, never a full name."""

import hashlib
import re
import stat
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from sim_desk.exchange import calendar
from sim_desk.records import people, visits
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import AuditEvent, Person
from sim_desk.records.people import PersonDetails
from sim_desk.records.read_models.export_data import initials
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.records.vault.audit import Action

NAMES = [("Amara", "Okafor"), ("芳", "王"), ("小龙", "李"), ("Zofia", "Wójcik-Łukasiewicz")]


def plan_fortnightly(vault, person_id, first_day, hour=10):
    visits.plan_visits(
        vault,
        person_id,
        visits.PlanDetails(
            frequency="fortnightly",
            first_visit_at=datetime(*first_day, hour, 0, tzinfo=LOCAL_ZONE),
            occurrences=6,
            duration_minutes=45,
            mechanism="01",
            place="Flat 4, 12 Acacia Avenue",
        ),
    )


@pytest.fixture
def caseload(officer):
    ids = []
    for n, (given, family) in enumerate(NAMES):
        person_id = people.create_person(
            officer,
            PersonDetails(
                given_name=given,
                family_name=family,
                date_of_birth=date(1980, 1, 1 + n),
                nhs_number=None,
                police_reference=f"MPS/{n}",
                referred_on=date(2026, 9, 1),
            ),
        )
        plan_fortnightly(officer, person_id, (2026, 11, 3 + n))
        ids.append(person_id)
    return ids


def events_of(path):
    parsed = Calendar.from_ical(path.read_bytes())
    return parsed, [c for c in parsed.walk("VEVENT")]


def test_the_ics_parses_and_holds_initials_and_a_reference_but_no_name(officer, caseload, tmp_path):
    result = calendar.export_calendar(officer, tmp_path / "visits.ics", days=90)
    assert result.events == 4 * 6
    assert stat.S_IMODE(result.destination.stat().st_mode) == 0o600
    text = result.destination.read_text(encoding="utf-8")
    parsed, events = events_of(result.destination)
    assert len(events) == 24
    assert [tz["TZID"] for tz in parsed.walk("VTIMEZONE")] == ["Europe/London"]
    summaries = {str(e["SUMMARY"]) for e in events}
    assert all(re.fullmatch(r"SIM visit: (\S+ )?\(ref [0-9A-F]{6}\)", s) for s in summaries)
    assert {s.split(": ")[1].split(" (")[0] for s in summaries if "." in s} == {
        "A.O.",
        "小.李.",
        "Z.W.",
    }
    assert any(s.startswith("SIM visit: (ref") for s in summaries)  # 芳 王: initials = name
    for given, family in NAMES:
        assert f"{given} {family}" not in text and f"{family} {given}" not in text
        for part in (given, family):
            if len(part) > 1:
                assert part not in text
    assert "芳" not in text and "王" not in text
    for secret in ("MPS/", "Acacia", "19800101", "1980-01-0", "/01/1980"):
        assert secret not in text
    assert all("LOCATION" not in e for e in events)
    first = min(events, key=lambda e: e["DTSTART"].dt)
    assert first["DTSTART"].dt == datetime(2026, 11, 3, 10, 0, tzinfo=LOCAL_ZONE)
    assert first["DTSTART"].params["TZID"] == "Europe/London"
    assert first["DURATION"].dt == timedelta(minutes=45)
    assert str(first["CLASS"]) == "CONFIDENTIAL"
    assert "face to face" in str(first["DESCRIPTION"])

    with officer.read() as session:
        [detail] = session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == Action.EXPORT)
        ).scalars()
    assert detail["kind"] == "calendar" and detail["events"] == 24
    assert detail["ics"] == hashlib.sha256(result.destination.read_bytes()).hexdigest()


def test_references_are_short_stable_and_one_per_person(officer, caseload, tmp_path):
    first = calendar.plan_calendar(officer)
    second = calendar.plan_calendar(officer)
    assert [e.reference for e in first.events] == [e.reference for e in second.events]
    by_ref = {}
    with officer.read() as session:
        people_ids = set(session.execute(select(Person.id)).scalars())
    for event in first.events:
        by_ref.setdefault(event.reference, set()).add(event.summary)
    assert len(by_ref) == len(people_ids) == 4
    assert all(len(summaries) == 1 for summaries in by_ref.values())
    assert calendar.reference(officer.vault_id, next(iter(people_ids))) in by_ref


def test_a_window_limits_the_visits_and_done_visits_are_left_out(officer, caseload):
    plan = calendar.plan_calendar(officer, start=date(2026, 11, 14), days=7)
    assert all(date(2026, 11, 14) <= e.start.date() < date(2026, 11, 21) for e in plan.events)
    assert len(plan.events) == 4  # one fortnightly visit each in a week


def test_who_may_export_which_pair(team, officer, caseload, lead, tmp_path):
    with team.unlock("officer2") as other, pytest.raises(PermissionDenied, match="own pair"):
        calendar.plan_calendar(other, pair_id=team.pair_id)
    with team.unlock("analyst") as analyst, pytest.raises(PermissionDenied):
        calendar.plan_calendar(analyst)
    with pytest.raises(ValidationError, match="choose the pair"):
        calendar.plan_calendar(lead)
    assert len(calendar.plan_calendar(lead, pair_id=team.pair_id).events) == 24
    with pytest.raises(ValidationError, match="folder"):
        calendar.export_calendar(officer, tmp_path)


@pytest.mark.parametrize(
    ("given", "family", "expected"),
    [
        ("Amara", "Okafor", "A.O."),
        ("芳", "王", ""),
        ("ṣade", "Ògúnlànà", "Ṣ.Ò."),
        ("प्रिया", "शर्मा", "प्.श."),
        ("Ana-Maria", "", "A."),
        ("", "", ""),
        # Letters only: quotes, brackets, digits and marks before a name are not initials.
        ("'Ana", "(Okafor)", "A.O."),
        ("«Zoë»", "", "Z."),
        ("2nd", "O'Brien", "N.O."),
        ("123", "Okafor", "O."),
        ("-", "—", ""),
        ("\u0301Ana", "Ng", "A.N."),
    ],
)
def test_initials(given, family, expected):
    assert initials(given, family) == expected


def test_visits_keep_uk_wall_clock_time_across_the_clock_change(officer, caseload):
    plan = calendar.plan_calendar(officer, start=date(2026, 10, 20), days=60)
    assert {e.start.hour for e in plan.events} == {10}
    assert {e.start.utcoffset() for e in plan.events} == {timedelta(0)}  # GMT after 25 October
    assert all(e.start.tzinfo is LOCAL_ZONE for e in plan.events)
    assert datetime(2026, 11, 3, 10, tzinfo=UTC) in {e.start for e in plan.events}
