"""Read use cases for printed reports: the facts the other use cases do not yet expose.

Who may read what is decided here, as everywhere in the records layer:

* a person's report facts (incidents by month, contacts, who viewed the record) go to those who
  may open the record: the pair's officer and clinician, and team leads, never analysts;
* clinician-only note text goes only to a clinician or clinical lead who asks for it;
* cohort breakdowns (equality groups, months relative to enrolment) are aggregates only: counts
  and person-time per group, with no person ids, so an analyst may have them.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select

from sim_desk.records import dates, outcomes
from sim_desk.records.codes import (
    DEMAND_TYPES,
    ETHNIC_BROAD_GROUP,
    HARM_TYPES,
    Attendance,
    ConsultationMechanism,
    GenderIdentity,
    StaffPresent,
)
from sim_desk.records.errors import PermissionDenied
from sim_desk.records.model import AuditEvent, Contact, Incident, Pair, Person, User
from sim_desk.records.people import (
    FIELD_STAFF,
    PersonRecord,
    load_person,
    person_record,
)
from sim_desk.records.permissions import CLINICAL_REPORTERS
from sim_desk.records.read_models.outcome_data import CohortReport
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.records.vault.audit import Action

DEMAND = frozenset(t.value for t in DEMAND_TYPES)
HARMS = frozenset(t.value for t in HARM_TYPES)

# -- one person -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthCount:
    """Dated incidents in one calendar month (baseline totals are not dated, so not here)."""

    month: date  # the first of the month
    demand: int
    harms: int


@dataclass(frozen=True)
class ContactLine:
    started_at: datetime
    duration_minutes: int
    mechanism: ConsultationMechanism
    attendance: Attendance
    staff_present: StaffPresent
    place: str | None
    shared_note: str | None
    clinical_note: str | None  # only when a clinician asked for clinical notes
    has_clinical_note: bool


@dataclass(frozen=True)
class PersonReportFacts:
    record: PersonRecord
    officer: str | None
    clinician: str | None
    contacts: tuple[ContactLine, ...]  # oldest first
    clinical_notes_included: bool


def check_clinical_notes(vault: UnlockedVault, include_clinical_notes: bool) -> None:
    """Refuses clinician-only text to anyone but a clinician or clinical lead."""
    if not include_clinical_notes:
        return
    if not vault.has_clinical_key or vault.actor.role not in CLINICAL_REPORTERS:
        raise PermissionDenied(
            "Only a clinician or clinical lead can include clinician-only notes in a report."
            " Print it without them."
        )


def person_report_facts(
    vault: UnlockedVault, person_id: uuid.UUID, *, include_clinical_notes: bool = False
) -> PersonReportFacts:
    """The record, the pair's staff and every contact, for a report about one person.

    Reading it is not itself audited as a view: the report that uses it audits itself
    (:func:`audit_report`), so the person's list of who looked at the record shows the report.
    """
    check_clinical_notes(vault, include_clinical_notes)
    with vault.read() as session:
        person = load_person(vault, session, person_id)
        record = person_record(vault, session, person)
        officer = clinician = None
        if person.pair_id is not None:
            pair = session.get(Pair, person.pair_id)
            if pair is not None:
                names = dict(
                    session.execute(
                        select(User.id, User.display_name).where(
                            User.id.in_((pair.officer_id, pair.clinician_id))
                        )
                    ).all()
                )
                officer, clinician = names.get(pair.officer_id), names.get(pair.clinician_id)
        rows = session.execute(
            select(Contact).where(Contact.person_id == person.id).order_by(Contact.started_at)
        ).scalars()
        lines = []
        for c in rows:
            note = None
            if include_clinical_notes and c.clinical_note is not None:
                note = vault.decrypt_clinical(c.clinical_note, c.id)
            lines.append(
                ContactLine(
                    started_at=c.started_at,
                    duration_minutes=c.duration_minutes,
                    mechanism=ConsultationMechanism(c.mechanism),
                    attendance=Attendance(c.attendance),
                    staff_present=StaffPresent(c.staff_present),
                    place=c.place,
                    shared_note=c.shared_note,
                    clinical_note=note,
                    has_clinical_note=c.clinical_note is not None,
                )
            )
    return PersonReportFacts(record, officer, clinician, tuple(lines), include_clinical_notes)


def monthly_incidents(
    vault: UnlockedVault, person_id: uuid.UUID, *, start: date, end: date
) -> list[MonthCount]:
    """Dated demand and harm incidents per calendar month, every month from start to end."""
    with vault.read() as session:
        person = load_person(vault, session, person_id)
        rows = session.execute(
            select(Incident.occurred_at, Incident.incident_type).where(
                Incident.person_id == person.id
            )
        ).all()
    demand: dict[date, int] = defaultdict(int)
    harms: dict[date, int] = defaultdict(int)
    for at, kind in rows:
        month = local_date(at).replace(day=1)
        if kind in DEMAND:
            demand[month] += 1
        elif kind in HARMS:
            harms[month] += 1
    months, current = [], start.replace(day=1)
    while current <= end:
        months.append(MonthCount(current, demand[current], harms[current]))
        current = dates.add_months(current, 1)
    return months


@dataclass(frozen=True)
class RecordAccess:
    """Someone on the staff looking at, or printing, a person's record."""

    at: datetime
    who: str
    what: str  # plain words: "opened the record", "printed a report", ...


_WHAT = {
    ("person", Action.VIEW): "opened the record",
    ("person", Action.REPORT): "printed a report or copy of the record",
    ("clinical_note", Action.VIEW): "read a clinician-only note",
}


def record_access(vault: UnlockedVault, person_id: uuid.UUID) -> list[RecordAccess]:
    """Who opened, printed or read clinical notes of a person's record, and when (oldest first).

    Staff display names and times only: the audit holds no more, by design.
    """
    with vault.read() as session:
        person = load_person(vault, session, person_id)
        contact_ids = select(Contact.id).where(Contact.person_id == person.id)
        rows = session.execute(
            select(AuditEvent.at, AuditEvent.entity_type, AuditEvent.action, User.display_name)
            .outerjoin(User, User.id == AuditEvent.user_id)
            .where(
                or_(
                    (AuditEvent.entity_type == "person") & (AuditEvent.entity_id == person.id),
                    (AuditEvent.entity_type == "clinical_note")
                    & AuditEvent.entity_id.in_(contact_ids),
                ),
                AuditEvent.action.in_((Action.VIEW, Action.REPORT)),
            )
            .order_by(AuditEvent.seq)
        ).all()
    return [
        RecordAccess(at, name or "someone using the recovery key", _WHAT[(kind or "", action)])
        for at, kind, action, name in rows
    ]


def audit_report(
    vault: UnlockedVault, kind: str, person_id: uuid.UUID | None = None, **detail: object
) -> None:
    """Appends the audit entry for a printed report (entity ids and codes only)."""
    with vault.write() as session:
        if person_id is not None:
            load_person(vault, session, person_id)
            vault.audit(session, Action.REPORT, "person", person_id, report=kind, **detail)
        else:
            vault.audit(session, Action.REPORT, "cohort", None, report=kind, **detail)


# -- cohort breakdowns (aggregates only) ----------------------------------------------------

AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("Under 18", 0, 17),
    ("18 to 24", 18, 24),
    ("25 to 34", 25, 34),
    ("35 to 44", 35, 44),
    ("45 to 54", 45, 54),
    ("55 to 64", 55, 64),
    ("65 and over", 65, 200),
)
AGE_NOT_KNOWN = "Not known"


def age_band(date_of_birth: date | None, on: date) -> str:
    """The age band on a day (the enrolment date, in the equality tables)."""
    if date_of_birth is None:
        return AGE_NOT_KNOWN
    age = (
        on.year
        - date_of_birth.year
        - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))
    )
    for label, low, high in AGE_BANDS:
        if low <= age <= high:
            return label
    return AGE_NOT_KNOWN


@dataclass(frozen=True)
class GroupFigures:
    """Headline figures for one group of people: all demand types together, all harms together.

    Every person is in exactly one of ``down``, ``level``, ``up`` and ``not_compared`` (too
    early to tell, or no rate before enrolment: ``outcomes.LeftOut``), so those add up to
    ``people``.
    """

    group: str
    people: int
    before_person_years: float
    after_person_years: float
    demand_before: int
    demand_after: int
    harms_before: int
    harms_after: int
    down: int
    level: int
    up: int
    not_compared: int = 0


@dataclass(frozen=True)
class EqualityTable:
    dimension: str
    rows: tuple[GroupFigures, ...]


def _figures(group: str, people: Sequence[outcomes.PersonOutcome]) -> GroupFigures:
    def total(p: outcomes.PersonOutcome, kinds: frozenset[str], window: str) -> int:
        return sum(getattr(t, window).count for t in p.types if t.incident_type in kinds)

    pairs = []
    for p in people:
        if p.compared:
            pairs.append(
                (
                    total(p, DEMAND, "before") / p.before_person_years,
                    total(p, DEMAND, "after") / p.after_person_years,
                )
            )
    directions = outcomes.direction_counts(pairs)
    return GroupFigures(
        group=group,
        people=len(people),
        before_person_years=sum(p.before_person_years for p in people),
        after_person_years=sum(p.after_person_years for p in people),
        demand_before=sum(total(p, DEMAND, "before") for p in people),
        demand_after=sum(total(p, DEMAND, "after") for p in people),
        harms_before=sum(total(p, HARMS, "before") for p in people),
        harms_after=sum(total(p, HARMS, "after") for p in people),
        down=directions.down,
        level=directions.level,
        up=directions.up,
        not_compared=len(people) - len(pairs),
    )


def _ordered(groups: dict[str, list[outcomes.PersonOutcome]], order: Iterable[str]) -> list[str]:
    known = [g for g in order if g in groups]
    return known + sorted(g for g in groups if g not in known)


@dataclass(frozen=True)
class EqualityBreakdown:
    """The equality tables, and the same figures for everyone in them (their "All" row)."""

    tables: tuple[EqualityTable, ...]
    everyone: GroupFigures


def equality_tables(vault: UnlockedVault, report: CohortReport) -> EqualityBreakdown:
    """The cohort's headline figures by broad ethnic group, gender and age band at enrolment.

    Aggregates only (groups, counts and person-time), so analysts may have them. Small numbers
    are suppressed when printed; the counts here are exact so that suppression can be checked.
    Each table's groups add up to ``everyone``.
    """
    ids = [r.person_id for r in report.people]
    with vault.read() as session:
        query = select(
            Person.id,
            Person.ethnic_category,
            Person.gender,
            Person.date_of_birth,
            Person.enrolled_on,
        ).where(Person.id.in_(ids))
        if vault.actor.role in FIELD_STAFF:
            query = query.where(Person.pair_id.in_(vault.actor.pair_ids))
        facts = {row[0]: row[1:] for row in session.execute(query)}
    by: dict[str, dict[str, list[outcomes.PersonOutcome]]] = {
        "Ethnic group": defaultdict(list),
        "Gender": defaultdict(list),
        "Age at enrolment": defaultdict(list),
    }
    included = []
    for r in report.people:
        if r.person_id not in facts:
            continue
        included.append(r.outcome)
        ethnic, gender, born, enrolled = facts[r.person_id]
        by["Ethnic group"][ETHNIC_BROAD_GROUP.get(ethnic, "Not stated or not known")].append(
            r.outcome
        )
        by["Gender"][GenderIdentity(gender).label].append(r.outcome)
        by["Age at enrolment"][age_band(born, enrolled or report.today)].append(r.outcome)
    orders = {
        "Ethnic group": dict.fromkeys(ETHNIC_BROAD_GROUP.values()),
        "Gender": [g.label for g in GenderIdentity],
        "Age at enrolment": [*(b[0] for b in AGE_BANDS), AGE_NOT_KNOWN],
    }
    tables = tuple(
        EqualityTable(
            dimension,
            tuple(_figures(g, groups[g]) for g in _ordered(groups, orders[dimension])),
        )
        for dimension, groups in by.items()
    )
    return EqualityBreakdown(tables, _figures("All", included))


@dataclass(frozen=True)
class RelativeMonth:
    """Dated demand incidents in month ``offset`` after enrolment (negative: before), over the
    people observed for the whole of that month."""

    offset: int
    incidents: int
    people: int

    @property
    def per_person(self) -> float | None:
        return self.incidents / self.people if self.people else None


def months_around_enrolment(vault: UnlockedVault, report: CohortReport) -> list[RelativeMonth]:
    """Demand per person in each month from ``months`` before enrolment to ``months`` after.

    Only dated incidents count: history known only as a baseline total has no month.
    """
    m = report.months
    ids = [r.person_id for r in report.people]
    windows = {r.person_id: r.outcome.windows for r in report.people}
    events: dict[uuid.UUID, list[date]] = defaultdict(list)
    with vault.read() as session:
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            query = (
                select(Incident.person_id, Incident.occurred_at)
                .join(Person, Person.id == Incident.person_id)
                .where(Incident.person_id.in_(chunk), Incident.incident_type.in_(DEMAND))
            )
            if vault.actor.role in FIELD_STAFF:
                query = query.where(Person.pair_id.in_(vault.actor.pair_ids))
            for pid, at in session.execute(query):
                events[pid].append(local_date(at))
    # Each incident is put in its month once (not looked for in every month: 2,000 people and
    # 48 months made that millions of comparisons).
    incidents: dict[int, int] = defaultdict(int)
    people: dict[int, int] = defaultdict(int)
    for pid, w in windows.items():
        # edges[i] is the first day of month i - m; month k runs to the first day of k + 1.
        edges = [dates.add_months(w.after.start, offset) for offset in range(-m, m + 1)]
        observed = {
            offset
            for offset in range(-m, m)
            if offset < 0 or edges[offset + m + 1] <= w.after.end  # followed the whole month
        }
        for offset in observed:
            people[offset] += 1
        for d in events[pid]:
            if edges[0] <= d < edges[-1]:
                offset = bisect_right(edges, d) - 1 - m
                if offset in observed:
                    incidents[offset] += 1
    return [RelativeMonth(offset, incidents[offset], people[offset]) for offset in range(-m, m)]
