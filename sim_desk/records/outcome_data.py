"""Use cases that gather a vault's facts and hand them to the pure arithmetic in ``outcomes``.

Queries are shaped for a trust-wide vault: one query per kind of fact for the whole cohort,
grouped in Python, never one query per person.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
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
from sim_desk.records.model import BaselineCount, Contact, Incident, Person, PlannedVisit
from sim_desk.records.people import load_person
from sim_desk.records.unlocked import UnlockedVault, local_date

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


def _facts(
    session: Session, person_ids: Sequence[uuid.UUID]
) -> tuple[
    dict[uuid.UUID, list[outcomes.Event]],
    dict[uuid.UUID, list[outcomes.BaselineCount]],
    dict[uuid.UUID, list[outcomes.Stay]],
    dict[uuid.UUID, list[outcomes.ContactFact]],
    dict[uuid.UUID, list[outcomes.PlannedVisitFact]],
]:
    events: dict[uuid.UUID, list[outcomes.Event]] = defaultdict(list)
    baselines: dict[uuid.UUID, list[outcomes.BaselineCount]] = defaultdict(list)
    stays: dict[uuid.UUID, list[outcomes.Stay]] = defaultdict(list)
    contacts: dict[uuid.UUID, list[outcomes.ContactFact]] = defaultdict(list)
    visits: dict[uuid.UUID, list[outcomes.PlannedVisitFact]] = defaultdict(list)
    # SQLite allows ~32k bound parameters; chunk so a trust-wide cohort never hits the limit.
    for chunk in _chunks(person_ids, 900):
        for pid, at, kind, custody, ended in session.execute(
            select(
                Incident.person_id,
                Incident.occurred_at,
                Incident.incident_type,
                Incident.custody,
                Incident.ended_on,
            ).where(Incident.person_id.in_(chunk))
        ):
            day = local_date(at)
            events[pid].append(outcomes.Event(day, kind))
            stay = stay_for(kind, day, custody, ended)
            if stay is not None:
                stays[pid].append(stay)
        for row in session.execute(
            select(BaselineCount).where(BaselineCount.person_id.in_(chunk))
        ).scalars():
            baselines[row.person_id].append(
                outcomes.BaselineCount(
                    row.incident_type, row.period_start, row.period_end, row.count
                )
            )
        for pid, at, attendance in session.execute(
            select(Contact.person_id, Contact.started_at, Contact.attendance).where(
                Contact.person_id.in_(chunk)
            )
        ):
            contacts[pid].append(outcomes.ContactFact(at, attendance in _SEEN))
        done_at = (
            select(Contact.started_at)
            .where(Contact.planned_visit_id == PlannedVisit.id)
            .order_by(Contact.started_at)
            .limit(1)
            .scalar_subquery()
        )
        for pid, due, status, done in session.execute(
            select(PlannedVisit.person_id, PlannedVisit.due_at, PlannedVisit.status, done_at).where(
                PlannedVisit.person_id.in_(chunk)
            )
        ):
            visits[pid].append(
                outcomes.PlannedVisitFact(
                    local_date(due), status, local_date(done) if done else None
                )
            )
    return events, baselines, stays, contacts, visits


def _chunks(items: Sequence[uuid.UUID], size: int) -> Iterable[Sequence[uuid.UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _person_report(
    person: Person,
    facts: tuple[dict, dict, dict, dict, dict],  # type: ignore[type-arg]
    *,
    today: date,
    months: int,
    incident_types: Sequence[str],
) -> PersonOutcomeReport:
    assert person.enrolled_on is not None
    events, baselines, stays, contacts, visits = facts
    outcome = outcomes.person_outcome(
        outcomes.PersonOutcomeInput(
            person_key=str(person.id),
            enrolled_on=person.enrolled_on,
            closed_on=person.closed_on,
            events=tuple(events.get(person.id, ())),
            baseline_counts=tuple(baselines.get(person.id, ())),
            stays=tuple(stays.get(person.id, ())),
        ),
        today=today,
        months=months,
        incident_types=incident_types,
    )
    engaged = outcomes.engagement(
        contacts.get(person.id, ()), visits.get(person.id, ()), outcome.windows.after, today
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
        facts = _facts(session, [person.id])
        return _person_report(
            person, facts, today=vault.today(), months=months, incident_types=ALL_TYPES
        )


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
        facts = _facts(session, [p.id for p in enrolled])
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
