"""Use cases that gather a vault's facts and hand them to the pure arithmetic in ``outcomes``.

Queries are shaped for a trust-wide vault: one query per kind of fact for each chunk of people,
grouped in Python, never one query per person (see :func:`_facts`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Column, Integer, MetaData, Table, Uuid, and_, insert, select
from sqlalchemy.orm import Session

from sim_desk.records import outcomes
from sim_desk.records.audit import Action
from sim_desk.records.codes import (
    DEMAND_TYPES,
    HARM_TYPES,
    Attendance,
    ExitReason,
    PersonStatus,
    Role,
)
from sim_desk.records.errors import ValidationError
from sim_desk.records.incidents import stay_for
from sim_desk.records.model import (
    BaselineCount,
    Contact,
    Incident,
    Person,
    PlannedVisit,
    UTCDateTime,
)
from sim_desk.records.people import load_person
from sim_desk.records.unlocked import LOCAL_ZONE, UnlockedVault, local_date
from sim_desk.records.visits import start_of_local_day

ALL_TYPES: tuple[str, ...] = tuple(t.value for t in (*DEMAND_TYPES, *HARM_TYPES))
_SEEN = frozenset(a.value for a in Attendance if a.seen)


@dataclass(frozen=True)
class PersonOutcomeReport:
    person_id: uuid.UUID
    outcome: outcomes.PersonOutcome
    engagement: outcomes.Engagement


@dataclass(frozen=True)
class Flow:
    """Intention to treat: where everyone referred in the cohort's scope went."""

    referred: int
    enrolled: int
    active: int
    stepping_down: int
    closed: dict[str, int]  # exit reason code -> people

    @property
    def not_enrolled(self) -> int:
        return self.referred - self.enrolled


@dataclass(frozen=True)
class CohortEngagement:
    """Engagement pooled over everyone enrolled, each person's after window."""

    contacts: int
    person_months: float
    attended: int
    planned_due: int
    planned_done_on_time: int

    @property
    def contacts_per_person_month(self) -> float | None:
        return self.contacts / self.person_months if self.person_months else None

    @property
    def attended_share(self) -> float | None:
        return self.attended / self.contacts if self.contacts else None

    @property
    def on_time_share(self) -> float | None:
        return self.planned_done_on_time / self.planned_due if self.planned_due else None

    @classmethod
    def of(cls, reports: Sequence[PersonOutcomeReport]) -> CohortEngagement:
        return cls(
            contacts=sum(r.engagement.contacts for r in reports),
            person_months=sum(
                r.outcome.windows.after.days / outcomes.DAYS_PER_MONTH for r in reports
            ),
            attended=sum(r.engagement.attended for r in reports),
            planned_due=sum(r.engagement.planned_due for r in reports),
            planned_done_on_time=sum(r.engagement.planned_done_on_time for r in reports),
        )


@dataclass(frozen=True)
class CohortReport:
    months: int
    today: date
    flow: Flow
    outcome: outcomes.CohortOutcome
    people: tuple[PersonOutcomeReport, ...]
    engagement: CohortEngagement


@dataclass(frozen=True)
class _Facts:
    """One query's worth of each kind of fact, grouped by person.

    Contacts and planned visits are only those the engagement figures look at: contacts dated
    in the person's after window (plus their latest seen contact, wherever it falls, for "days
    since last contact"), and planned visits due in it. Both are dated by the UK calendar.
    """

    events: dict[uuid.UUID, list[outcomes.Event]]
    baselines: dict[uuid.UUID, list[outcomes.BaselineCount]]
    stays: dict[uuid.UUID, list[outcomes.Stay]]
    contacts: dict[uuid.UUID, list[outcomes.ContactFact]]
    visits: dict[uuid.UUID, list[outcomes.PlannedVisitFact]]


#: Each person's windows, for the length of one :func:`_facts` call: a temporary table (in
#: memory: temp_store=MEMORY) on the session's own connection, gone at the end of the transaction.
#: Its own MetaData, so it is no part of the vault's schema.
_WINDOWS = Table(
    "outcome_windows",
    MetaData(),
    Column("n", Integer, primary_key=True),
    Column("person_id", Uuid, nullable=False),
    # The after window as UTC moments: from the start of its first UK day to the start of the
    # UK day after it ends.
    Column("after_from", UTCDateTime, nullable=False),
    Column("after_to", UTCDateTime, nullable=False),
    prefixes=["TEMPORARY"],
)


def _facts(session: Session, people: Sequence[Person], *, today: date, months: int) -> _Facts:
    """Every fact the outcome and engagement figures of these (enrolled) people depend on.

    A trust-wide vault holds half a million contacts and hundreds of thousands of planned
    visits; reading them all took longer than a report may. So the people and their windows go
    into a small temporary table, and the database picks out, on its indexes, only the rows
    inside each person's window: one statement per kind of fact for the whole cohort. Rows name
    the person by their number in that table, which spares building a UUID for each row.
    """
    facts = _Facts(*(defaultdict(list) for _ in range(5)))  # type: ignore[arg-type]
    if not people:
        return facts
    ids = [p.id for p in people]
    windows = []
    for n, person in enumerate(people):
        assert person.enrolled_on is not None
        after = outcomes.outcome_windows(
            person.enrolled_on, today=today, closed_on=person.closed_on, months=months
        ).after
        windows.append(
            {
                "n": n,
                "person_id": person.id,
                "after_from": start_of_local_day(after.start),
                "after_to": start_of_local_day(after.end),
            }
        )
    w = _WINDOWS
    conn = session.connection()
    w.create(conn)
    try:
        conn.execute(insert(w), windows)
        for n, at, kind, custody, ended in conn.execute(
            select(
                w.c.n,
                Incident.occurred_at,
                Incident.incident_type,
                Incident.custody,
                Incident.ended_on,
            ).join(w, Incident.person_id == w.c.person_id)
        ):
            pid = ids[n]
            day = local_date(at)
            facts.events[pid].append(outcomes.Event(day, kind))
            stay = stay_for(kind, day, custody, ended)
            if stay is not None:
                facts.stays[pid].append(stay)
        for n, kind, start, end, count in conn.execute(
            select(
                w.c.n,
                BaselineCount.incident_type,
                BaselineCount.period_start,
                BaselineCount.period_end,
                BaselineCount.count,
            ).join(w, BaselineCount.person_id == w.c.person_id)
        ):
            facts.baselines[ids[n]].append(outcomes.BaselineCount(kind, start, end, count))
        for n, at, attendance in conn.execute(
            select(w.c.n, Contact.started_at, Contact.attendance).join(
                w,
                and_(
                    Contact.person_id == w.c.person_id,
                    Contact.started_at >= w.c.after_from,
                    Contact.started_at < w.c.after_to,
                ),
            )
        ):
            # In UK time: its date is the day the contact counts on (outcomes.ContactFact).
            facts.contacts[ids[n]].append(
                outcomes.ContactFact(at.astimezone(LOCAL_ZONE), attendance in _SEEN)
            )
        # "Days since last contact" looks at every seen contact up to today, in the window or
        # not: the newest one is one index seek per person.
        last_seen = (
            select(Contact.started_at)
            .where(
                Contact.person_id == w.c.person_id,
                Contact.attendance.in_(sorted(_SEEN)),
                Contact.started_at < start_of_local_day(today + timedelta(days=1)),
            )
            .order_by(Contact.started_at.desc())
            .limit(1)
            .correlate(w)
            .scalar_subquery()
        )
        for n, at in conn.execute(select(w.c.n, last_seen)):
            window = windows[n]
            if at is not None and not window["after_from"] <= at < window["after_to"]:
                # Not listed yet: outside the window.
                facts.contacts[ids[n]].append(outcomes.ContactFact(at.astimezone(LOCAL_ZONE), True))
        done_at = (
            select(Contact.started_at)
            .where(
                Contact.person_id == PlannedVisit.person_id,  # the index's first column
                Contact.planned_visit_id == PlannedVisit.id,
            )
            .order_by(Contact.started_at)
            .limit(1)
            .scalar_subquery()
        )
        for n, due, status, done in conn.execute(
            select(w.c.n, PlannedVisit.due_at, PlannedVisit.status, done_at).join(
                w,
                and_(
                    PlannedVisit.person_id == w.c.person_id,
                    PlannedVisit.due_at >= w.c.after_from,
                    PlannedVisit.due_at < w.c.after_to,
                ),
            )
        ):
            facts.visits[ids[n]].append(
                outcomes.PlannedVisitFact(
                    local_date(due), status, local_date(done) if done else None
                )
            )
    finally:
        w.drop(conn)
    return facts


def _person_report(
    person: Person,
    facts: _Facts,
    *,
    today: date,
    months: int,
    incident_types: Sequence[str],
) -> PersonOutcomeReport:
    assert person.enrolled_on is not None
    outcome = outcomes.person_outcome(
        outcomes.PersonOutcomeInput(
            person_key=str(person.id),
            enrolled_on=person.enrolled_on,
            closed_on=person.closed_on,
            events=tuple(facts.events.get(person.id, ())),
            baseline_counts=tuple(facts.baselines.get(person.id, ())),
            stays=tuple(facts.stays.get(person.id, ())),
        ),
        today=today,
        months=months,
        incident_types=incident_types,
    )
    engaged = outcomes.engagement(
        facts.contacts.get(person.id, ()),
        facts.visits.get(person.id, ()),
        outcome.windows.after,
        today,
    )
    return PersonOutcomeReport(person.id, outcome, engaged)


def person_outcomes(
    vault: UnlockedVault, person_id: uuid.UUID, *, months: int = 12
) -> PersonOutcomeReport:
    """Before/after figures for one enrolled person (those who may open the record only)."""
    _check_months(months)
    with vault.read() as session:
        person = load_person(vault, session, person_id)
        if person.enrolled_on is None:
            raise ValidationError(
                "Outcomes start at enrolment, and this person has not been enrolled yet.", "status"
            )
        today = vault.today()
        facts = _facts(session, [person], today=today, months=months)
        return _person_report(person, facts, today=today, months=months, incident_types=ALL_TYPES)


def _check_months(months: int) -> None:
    if months not in outcomes.ALLOWED_MONTHS:
        raise ValidationError("Window: choose 6, 12 or 24 months.", "months")


def cohort_outcomes(
    vault: UnlockedVault,
    *,
    months: int = 12,
    pair_id: uuid.UUID | None = None,
    enrolled_from: date | None = None,
    enrolled_to: date | None = None,
) -> CohortReport:
    """Everyone in scope counted (intention to treat): the flow, and outcomes for all enrolled.

    Team leads and analysts see the whole team (analysts get aggregates only: the report holds
    person ids, never names); officers and clinicians see their own pairs.
    """
    _check_months(months)
    today = vault.today()
    with vault.read() as session:
        query = select(Person).order_by(Person.referred_on, Person.id)
        if vault.actor.role in (Role.OFFICER, Role.CLINICIAN):
            query = query.where(Person.pair_id.in_(vault.actor.pair_ids))
        if pair_id is not None:
            query = query.where(Person.pair_id == pair_id)
        scope = list(session.execute(query).scalars())
        # The period selects by enrolment date; people never enrolled, by referral date.
        in_period = [
            p
            for p in scope
            if (enrolled_from is None or (p.enrolled_on or p.referred_on) >= enrolled_from)
            and (enrolled_to is None or (p.enrolled_on or p.referred_on) <= enrolled_to)
        ]
        enrolled = [p for p in in_period if p.enrolled_on is not None and p.enrolled_on <= today]
        facts = _facts(session, enrolled, today=today, months=months)
        reports = tuple(
            _person_report(p, facts, today=today, months=months, incident_types=ALL_TYPES)
            for p in enrolled
        )
        closed: dict[str, int] = defaultdict(int)
        for p in in_period:
            if p.status == PersonStatus.CLOSED.value:
                closed[p.exit_reason or ExitReason.DISCHARGED.value] += 1
        flow = Flow(
            referred=len(in_period),
            enrolled=len(enrolled),
            active=sum(p.status == PersonStatus.ACTIVE.value for p in in_period),
            stepping_down=sum(p.status == PersonStatus.STEPPING_DOWN.value for p in in_period),
            closed=dict(closed),
        )
    cohort = outcomes.cohort_outcome([r.outcome for r in reports], ALL_TYPES)
    with vault.write() as session:
        vault.audit(session, Action.REPORT, "cohort", None, people=len(in_period), months=months)
    return CohortReport(months, today, flow, cohort, reports, CohortEngagement.of(reports))
