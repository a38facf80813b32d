"""A test vault of the awkward cases for outcome figures (issue 14), shared by the records and
report tests: deaths, detentions and contacts on the day a record closed, window edges at
midnight and on the days the clocks change, someone enrolled today, an open hospital stay, a
referral closed without enrolment, and follow-up too short to judge.

Today is Monday 2 November 2026 (the fixed clock). In 2026 UK clocks went forward at 01:00 UTC
on 29 March and back at 01:00 UTC on 25 October. Every moment below is written in UTC, with
the UK time it stands for beside it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sim_desk.records import contacts, incidents, people
from sim_desk.records.codes import ExitReason, PersonStatus
from sim_desk.records.people import PersonDetails
from sim_desk.records.unit_of_work import UnlockedVault


def utc(y: int, m: int, d: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=UTC)


@dataclass
class Edges:
    died: uuid.UUID  # enrolled as the clocks went forward, died the day they went back
    midnight: uuid.UUID  # enrolled in summer time: incidents at 00:00 and 23:59 BST
    today: uuid.UUID  # enrolled today
    in_hospital: uuid.UUID  # admitted after enrolment, no discharge date
    referral_closed: uuid.UUID  # referral closed (disengaged) before enrolment
    short: uuid.UUID  # 40 days since enrolment, nothing recorded since
    long: uuid.UUID  # followed up for nearly three years


def _person(vault: UnlockedVault, name: str, referred: date, enrolled: date | None) -> uuid.UUID:
    pid = people.create_person(
        vault,
        PersonDetails(
            given_name=name,
            family_name="Edgecase",
            date_of_birth=date(1980, 5, 5),
            referred_on=referred,
            gender="2",
            ethnic_category="A",
        ),
    )
    if enrolled is not None:
        people.change_status(vault, pid, PersonStatus.ACTIVE, on=enrolled)
    return pid


def incident(vault: UnlockedVault, pid: uuid.UUID, when: datetime, kind: str, **extra) -> None:
    s136 = None
    if kind == "s136":
        s136 = incidents.S136Details(detained_at=when, places=[("hbpos", None)])
    incidents.record_incident(
        vault,
        pid,
        incidents.IncidentDetails(
            occurred_at=when,
            incident_type=kind,
            source="nhs" if kind in ("death", "mh_admission", "self_harm") else "police",
            s136=s136,
            **extra,
        ),
    )


def contact(vault: UnlockedVault, pid: uuid.UUID, when: datetime) -> None:
    contacts.log_contact(vault, pid, contacts.ContactDetails(started_at=when))


def build(vault: UnlockedVault) -> Edges:
    """Adds the people to the vault (as a clinician of Pair A) and returns their ids."""
    # -- Died: enrolled 29 March 2026, the day the clocks went forward; died 25 October 2026,
    # the day they went back, and the record was closed that day.
    died = _person(vault, "Dana", date(2026, 3, 1), date(2026, 3, 29))
    incident(vault, died, utc(2026, 3, 28, 23, 59), "s136")  # 23:59 GMT on 28 March: before
    incident(vault, died, utc(2026, 3, 29, 0, 30), "s136")  # 00:30 GMT on 29 March: after
    incident(vault, died, utc(2025, 9, 1), "s136")  # before
    incident(vault, died, utc(2025, 11, 1), "call_999")  # before
    incident(vault, died, utc(2026, 10, 25, 0, 30), "s136")  # 01:30 BST, closure day: after
    incident(vault, died, utc(2026, 10, 25, 23, 30), "death")  # 23:30 GMT, closure day: after
    contact(vault, died, utc(2026, 3, 10, 10))  # during referral: before enrolment
    contact(vault, died, utc(2026, 4, 2, 10))
    contact(vault, died, utc(2026, 10, 25, 23, 0))  # 23:00 GMT on the closure day
    people.change_status(
        vault, died, PersonStatus.CLOSED, on=date(2026, 10, 25), exit_reason=ExitReason.DIED
    )

    # -- Midnight: enrolled 1 July 2025, in summer time (00:00 BST is 23:00 UTC the day before).
    midnight = _person(vault, "Mo", date(2025, 6, 1), date(2025, 7, 1))
    incident(vault, midnight, utc(2025, 6, 30, 22, 59), "call_999")  # 23:59 BST 30 June: before
    incident(vault, midnight, utc(2025, 6, 30, 23, 0), "call_999")  # 00:00 BST 1 July: after
    incident(vault, midnight, utc(2026, 6, 30, 22, 59), "s136")  # 23:59 BST, last day: after
    incident(vault, midnight, utc(2026, 6, 30, 23, 0), "s136")  # 00:00 BST 1 July 2026: later
    incident(vault, midnight, utc(2024, 12, 1), "s136")  # before
    contact(vault, midnight, utc(2025, 6, 30, 23, 0))  # 00:00 BST on the enrolment day
    contact(vault, midnight, utc(2026, 8, 3, 10))  # after the twelve months, still followed

    # -- Enrolled today, with a 999 call this morning and a history before.
    today = _person(vault, "Tove", date(2026, 10, 1), date(2026, 11, 2))
    incident(vault, today, utc(2026, 11, 2, 9), "call_999")  # today: later
    incident(vault, today, utc(2026, 5, 5), "s136")  # before

    # -- In hospital: enrolled 1 August 2026, admitted 20 August, no discharge date recorded.
    in_hospital = _person(vault, "Ines", date(2026, 7, 1), date(2026, 8, 1))
    incident(vault, in_hospital, utc(2026, 3, 3), "s136")
    incident(vault, in_hospital, utc(2026, 8, 20), "mh_admission")

    # -- A referral closed (disengaged) before the person was ever enrolled.
    referral_closed = _person(vault, "Rhian", date(2026, 6, 1), None)
    people.change_status(
        vault,
        referral_closed,
        PersonStatus.CLOSED,
        on=date(2026, 7, 1),
        exit_reason=ExitReason.DISENGAGED,
    )

    # -- Short follow-up: enrolled 23 September 2026 (40 days ago); three detentions before.
    short = _person(vault, "Sol", date(2026, 9, 1), date(2026, 9, 23))
    for day in (date(2026, 1, 5), date(2026, 4, 5), date(2026, 7, 5)):
        incident(vault, short, utc(day.year, day.month, day.day), "s136")

    # -- Long: enrolled 15 January 2024; the after window ended on 14 January 2025.
    long = _person(vault, "Lior", date(2023, 12, 1), date(2024, 1, 15))
    for when in (utc(2023, 3, 1), utc(2023, 6, 1), utc(2023, 9, 1), utc(2024, 6, 1)):
        incident(vault, long, when, "s136")
    incident(vault, long, utc(2025, 6, 1), "s136")  # later: after the twelve months
    contact(vault, long, utc(2024, 2, 1))
    contact(vault, long, utc(2025, 8, 1))  # after the twelve months: still since enrolment
    return Edges(died, midnight, today, in_hospital, referral_closed, short, long)
