"""Person and cohort outcome reports built from the facts (the PDFs and the Outcomes tab)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import (
    select,
)

from sim_desk.records import outcomes
from sim_desk.records.codes import (
    DEMAND_TYPES,
    HARM_TYPES,
    ExitReason,
    PersonStatus,
)
from sim_desk.records.errors import ValidationError
from sim_desk.records.model import (
    Person,
)
from sim_desk.records.people import load_person
from sim_desk.records.permissions import FIELD_STAFF
from sim_desk.records.read_models.outcome_data.continuity import read_continuity
from sim_desk.records.read_models.outcome_data.facts import Facts, read_facts
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.audit import Action

ALL_TYPES: tuple[str, ...] = tuple(t.value for t in (*DEMAND_TYPES, *HARM_TYPES))


@dataclass(frozen=True)
class PersonOutcomeReport:
    person_id: uuid.UUID
    outcome: outcomes.PersonOutcome
    engagement: outcomes.Engagement
    #: Onward referrals and continuing support (outcomes beyond demand).
    continuity: outcomes.ContinuityInput | None = None


@dataclass(frozen=True)
class Flow:
    """Intention to treat: where everyone referred in the cohort's scope went.

    ``closed`` counts, by exit reason, people whose record closed after they were enrolled;
    ``closed_at_referral`` those whose referral closed before they ever were, whatever the
    reason given, so the rows under "enrolled" add up to the people enrolled.
    """

    referred: int
    enrolled: int
    active: int
    stepping_down: int
    closed: dict[str, int]  # exit reason code -> people enrolled, then closed
    closed_at_referral: dict[str, int] = field(default_factory=dict)  # never enrolled

    @property
    def not_enrolled(self) -> int:
        return self.referred - self.enrolled

    @property
    def waiting(self) -> int:
        """Referred, not enrolled, and not closed: still waiting."""
        return self.not_enrolled - sum(self.closed_at_referral.values())

    @classmethod
    def of(cls, people: Sequence[Person], *, today: date) -> Flow:
        """Where these people (everyone referred in scope) went, as their records stand."""
        enrolled = [p for p in people if p.enrolled_on is not None and p.enrolled_on <= today]
        closed: dict[str, int] = defaultdict(int)
        at_referral: dict[str, int] = defaultdict(int)
        for p in people:
            if p.status != PersonStatus.CLOSED.value:
                continue
            reason = p.exit_reason or ExitReason.DISCHARGED.value
            if p.enrolled_on is None:
                at_referral[reason] += 1
            else:
                closed[reason] += 1
        return cls(
            referred=len(people),
            enrolled=len(enrolled),
            active=sum(p.status == PersonStatus.ACTIVE.value for p in enrolled),
            stepping_down=sum(p.status == PersonStatus.STEPPING_DOWN.value for p in enrolled),
            closed=dict(closed),
            closed_at_referral=dict(at_referral),
        )


@dataclass(frozen=True)
class CohortEngagement:
    """Engagement pooled over everyone enrolled, each from enrolment to the end of follow-up
    (closure, or today). Contacts outside it are counted apart: before enrolment (during
    referral) and after closure."""

    contacts: int
    person_months: float
    attended: int
    planned_due: int
    planned_done_on_time: int
    contacts_before: int = 0
    contacts_after: int = 0

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
                r.outcome.windows.followed.days / outcomes.DAYS_PER_MONTH for r in reports
            ),
            attended=sum(r.engagement.attended for r in reports),
            planned_due=sum(r.engagement.planned_due for r in reports),
            planned_done_on_time=sum(r.engagement.planned_done_on_time for r in reports),
            contacts_before=sum(r.engagement.contacts_before for r in reports),
            contacts_after=sum(r.engagement.contacts_after for r in reports),
        )


@dataclass(frozen=True)
class CohortReport:
    months: int
    today: date
    flow: Flow
    outcome: outcomes.CohortOutcome
    people: tuple[PersonOutcomeReport, ...]
    engagement: CohortEngagement
    #: Onward referrals made, their outcomes, connection with continuing support at
    #: step-down and days to first contact, over everyone enrolled.
    continuity: outcomes.Continuity | None = None


_NO_CONTACTS = outcomes.ContactCounts(0, 0, None)
_NO_VISITS = outcomes.VisitCounts(0, 0)


def person_report(
    person: Person,
    facts: Facts,
    *,
    today: date,
    months: int,
    incident_types: Sequence[str],
    continuity: outcomes.ContinuityInput | None = None,
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
        facts.contacts.get(person.id, _NO_CONTACTS),
        facts.visits.get(person.id, _NO_VISITS),
        outcome.windows.followed,
        today,
    )
    return PersonOutcomeReport(person.id, outcome, engaged, continuity)


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
        facts = read_facts(session, [person], today=today, months=months)
        circle = read_continuity(session, [person])
        return person_report(
            person,
            facts,
            today=today,
            months=months,
            incident_types=ALL_TYPES,
            continuity=circle[person.id],
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
        if vault.actor.role in FIELD_STAFF:
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
        facts = read_facts(session, enrolled, today=today, months=months)
        circle = read_continuity(session, enrolled)
        reports = tuple(
            person_report(
                p,
                facts,
                today=today,
                months=months,
                incident_types=ALL_TYPES,
                continuity=circle[p.id],
            )
            for p in enrolled
        )
        flow = Flow.of(in_period, today=today)
    cohort = outcomes.cohort_outcome([r.outcome for r in reports], ALL_TYPES)
    with vault.write() as session:
        vault.audit(session, Action.REPORT, "cohort", None, people=len(in_period), months=months)
    return CohortReport(
        months,
        today,
        flow,
        cohort,
        reports,
        CohortEngagement.of(reports),
        outcomes.continuity([circle[r.person_id] for r in reports]),
    )
