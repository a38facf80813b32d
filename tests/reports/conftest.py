"""A small caseload whose figures are known by construction, and PDF text helpers.

Everyone is on Pair A, added by its clinician. Today is 2 November 2026 (the fixed clock).
Enrolment days are early in the month, so windows are plain calendar years with no month-end
clamping, and the test can work them out by hand.
"""

from __future__ import annotations

import io
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pypdf
import pytest

from sim_desk.records import contacts, incidents, people
from sim_desk.records.codes import PersonStatus
from sim_desk.records.people import PersonDetails

TODAY = date(2026, 11, 2)
CLINICAL_SECRET = "Clinician-only: mood low, reviewed medication (CLIN-7731)"
SHARED_NOTE = "Walked to the allotment together and planned next week"


@dataclass
class Someone:
    given: str
    family: str
    gender: str
    ethnic: str
    enrolled: date
    born: date = date(1985, 6, 15)
    #: (type, day) of every incident recorded for them
    events: list[tuple[str, date]] = field(default_factory=list)
    #: (first night, day out) of each mental-health admission
    admissions: list[tuple[date, date]] = field(default_factory=list)
    id: uuid.UUID | None = None

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"


def named_people() -> list[Someone]:
    return [
        Someone(
            "Łukasz",
            "Wójcik",
            "1",
            "C",
            date(2025, 11, 2),
            events=[
                ("s136", date(2024, 5, 10)),  # prior
                ("s136", date(2025, 1, 10)),
                ("s136", date(2025, 3, 10)),
                ("s136", date(2025, 6, 10)),
                ("s136", date(2025, 9, 10)),  # before: 4
                ("s136", date(2026, 2, 10)),  # after: 1
                ("call_999", date(2025, 2, 1)),
                ("call_999", date(2025, 4, 1)),
                ("call_999", date(2025, 8, 1)),
                ("call_999", date(2026, 7, 1)),
                ("self_harm", date(2025, 5, 5)),
            ],
            admissions=[(date(2025, 7, 1), date(2025, 7, 11))],  # 10 nights in before
        ),
        Someone(
            "محمد",
            "الحسن",
            "1",
            "S",
            date(2026, 5, 4),
            events=[("s136", date(2026, 1, 3)), ("s136", date(2026, 3, 3))],
        ),
        Someone("芳", "王", "2", "R", date(2025, 12, 1), events=[("call_999", date(2025, 6, 1))]),
        Someone(
            "प्रिया",
            "शर्मा",
            "2",
            "H",
            date(2026, 1, 5),
            events=[("s136", date(2025, 10, 1)), ("s136", date(2026, 3, 1))],
        ),
        Someone("Ελένη", "Παπαδοπούλου", "2", "C", date(2025, 9, 1)),
    ]


def filler_people() -> list[Someone]:
    """Fourteen more, so that some equality groups are 8 or more and some are small."""
    genders = ["1"] * 6 + ["2"] * 6 + ["3"] * 2
    result = []
    for i, gender in enumerate(genders):
        enrolled = date(2025, 1 + i % 10, 3)
        events = [("s136", date(2024, 2 + i % 9, 7)), ("call_999", date(2025, 11, 1 + i))]
        if i % 2:
            events.append(("s136", date(2024, 12, 2 + i)))
        result.append(Someone(f"Filler{i:02d}", "Testperson", gender, "A", enrolled, events=events))
    return result


@dataclass
class Scenario:
    named: list[Someone]
    everyone: list[Someone]
    lukasz: Someone


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def add(vault, person: Someone) -> uuid.UUID:
    pid = people.create_person(
        vault,
        PersonDetails(
            given_name=person.given,
            family_name=person.family,
            gender=person.gender,
            ethnic_category=person.ethnic,
            date_of_birth=person.born,
            referred_on=date(2023, 1, 2),
            goals="To sleep better and to get back to the choir.",
        ),
    )
    people.change_status(vault, pid, PersonStatus.ACTIVE, on=person.enrolled)
    for kind, day in person.events:
        s136 = incidents.S136Details(detained_at=_at(day), places=[("hbpos", None)])
        incidents.record_incident(
            vault,
            pid,
            incidents.IncidentDetails(
                occurred_at=_at(day),
                incident_type=kind,
                source="police",
                s136=s136 if kind == "s136" else None,
            ),
        )
    for first, out in person.admissions:
        incidents.record_incident(
            vault,
            pid,
            incidents.IncidentDetails(
                occurred_at=_at(first), incident_type="mh_admission", source="nhs", ended_on=out
            ),
        )
    person.id = pid
    return pid


@pytest.fixture
def scenario(clinician) -> Scenario:
    named, filler = named_people(), filler_people()
    with clinician.batch():
        for person in [*named, *filler]:
            add(clinician, person)
    lukasz = named[0]
    contacts.log_contact(
        clinician,
        lukasz.id,
        contacts.ContactDetails(
            started_at=_at(date(2026, 3, 2)),
            shared_note=SHARED_NOTE,
            clinical_note=CLINICAL_SECRET,
        ),
    )
    contacts.log_contact(
        clinician, lukasz.id, contacts.ContactDetails(started_at=_at(date(2026, 4, 6)))
    )
    return Scenario(named, [*named, *filler], lukasz)


# -- reading PDFs ----------------------------------------------------------------------------

_INVISIBLE = re.compile("[\ue000-\uf8ff\u200b-\u200f]")


def pages(pdf: bytes) -> list[str]:
    """Each page's extracted text, NFKC-normalised (Arabic presentation forms become letters),
    private-use characters dropped (glyphs with no character of their own) and spaces collapsed.
    """
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    result = []
    for page in reader.pages:
        text = unicodedata.normalize("NFKC", page.extract_text())
        text = _INVISIBLE.sub("", text)
        result.append(re.sub(r"\s+", " ", text))
    return result


def all_text(pdf: bytes) -> str:
    return " ".join(pages(pdf))
