"""The Today view (visits due, people not seen for 28 days, recent incidents); vault counts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from sim_desk.records.circle import ReferralKind, ReferralStatus
from sim_desk.records.codes import (
    ConsultationMechanism,
    IncidentType,
    PersonStatus,
    VisitFrequency,
)
from sim_desk.records.model import (
    Contact,
    Incident,
    OnwardReferral,
    Person,
    PlannedVisit,
    VisitPlan,
)
from sim_desk.records.people import visible_people_filter
from sim_desk.records.permissions import FIELD_STAFF
from sim_desk.records.read_models.caseload.caseload import (
    NOT_SEEN_DAYS,
    RECENT_INCIDENT_DAYS,
    SEEN,
    STILL_PLANNED,
)
from sim_desk.records.read_models.caseload.search import display_name, search_key
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.records.visits import start_of_local_day

# -- the Today view -------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitDue:
    visit_id: uuid.UUID
    person_id: uuid.UUID
    display_name: str
    #: What is due, for people: "Fortnightly visit (Face to face)".
    what: str
    due_at: datetime
    due_on: date
    #: 0 for a visit due today.
    days_overdue: int
    place: str | None


@dataclass(frozen=True)
class NotSeen:
    person_id: uuid.UUID
    display_name: str
    status: PersonStatus
    #: None when they have never been seen.
    last_seen_on: date | None
    #: The day the count runs from: the last time they were seen, or their enrolment date.
    counted_from: date
    days_not_seen: int
    what: str


@dataclass(frozen=True)
class RecentIncident:
    incident_id: uuid.UUID
    person_id: uuid.UUID
    display_name: str
    incident_type: IncidentType
    what: str
    occurred_at: datetime
    occurred_on: date
    is_harm: bool


@dataclass(frozen=True)
class FollowUpDue:
    """An onward referral, still open, whose follow-up date has come."""

    referral_id: uuid.UUID
    person_id: uuid.UUID
    display_name: str
    #: "Follow up referral to Northside Housing Options (waiting)".
    what: str
    follow_up_on: date
    #: 0 for a follow-up due today.
    days_overdue: int


@dataclass(frozen=True)
class TodayView:
    today: date
    due_today: tuple[VisitDue, ...]
    #: Oldest first.
    overdue: tuple[VisitDue, ...]
    #: Longest first.
    not_seen: tuple[NotSeen, ...]
    #: Newest first.
    recent_incidents: tuple[RecentIncident, ...]
    #: Oldest first.
    follow_ups: tuple[FollowUpDue, ...] = ()


def _visit_what(frequency: str | None, mechanism: str | None) -> str:
    kind = (
        "One-off visit"
        if frequency in (None, VisitFrequency.ONCE.value)
        else f"{VisitFrequency(frequency).label} visit"
    )
    return f"{kind} ({ConsultationMechanism(mechanism).label})" if mechanism else kind


def _visits_due(
    vault: UnlockedVault, session: Session, today: date
) -> tuple[list[VisitDue], list[VisitDue]]:
    query = (
        select(
            PlannedVisit.id,
            PlannedVisit.due_at,
            Person.id,
            Person.given_name,
            Person.family_name,
            Person.preferred_name,
            VisitPlan.frequency,
            VisitPlan.mechanism,
            VisitPlan.place,
        )
        .join(Person, Person.id == PlannedVisit.person_id)
        .outerjoin(VisitPlan, VisitPlan.id == PlannedVisit.plan_id)
        .where(
            visible_people_filter(vault),
            Person.status != PersonStatus.CLOSED.value,
            PlannedVisit.status == STILL_PLANNED,
            PlannedVisit.due_at < start_of_local_day(today + timedelta(days=1)),
        )
        .order_by(PlannedVisit.due_at)
    )
    due_today: list[VisitDue] = []
    overdue: list[VisitDue] = []
    for visit_id, due_at, pid, given, family, preferred, freq, mechanism, place in session.execute(
        query
    ):
        due_on = local_date(due_at)
        row = VisitDue(
            visit_id=visit_id,
            person_id=pid,
            display_name=display_name(given, family, preferred),
            what=_visit_what(freq, mechanism),
            due_at=due_at,
            due_on=due_on,
            days_overdue=(today - due_on).days,
            place=place,
        )
        (overdue if due_on < today else due_today).append(row)
    return due_today, overdue


def _not_seen(vault: UnlockedVault, session: Session, today: date) -> list[NotSeen]:
    # One seek per person, newest contact first, stopping at the first one where they were seen.
    last_seen = (
        select(Contact.started_at)
        .where(Contact.person_id == Person.id, Contact.attendance.in_(SEEN))
        .order_by(Contact.started_at.desc())
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )
    query = select(
        Person.id,
        Person.given_name,
        Person.family_name,
        Person.preferred_name,
        Person.status,
        Person.enrolled_on,
        Person.referred_on,
        last_seen,
    ).where(
        visible_people_filter(vault),
        Person.status.in_([PersonStatus.ACTIVE.value, PersonStatus.STEPPING_DOWN.value]),
    )
    rows = []
    for pid, given, family, preferred, status, enrolled, referred, seen_at in session.execute(
        query
    ):
        seen_on = local_date(seen_at) if seen_at else None
        since = seen_on or enrolled or referred
        days = (today - since).days
        if days <= NOT_SEEN_DAYS:
            continue
        what = (
            f"Not seen for {days} days"
            if seen_on
            else f"Not seen since enrolment on {since:%d/%m/%Y} ({days} days)"
        )
        rows.append(
            NotSeen(
                person_id=pid,
                display_name=display_name(given, family, preferred),
                status=PersonStatus(status),
                last_seen_on=seen_on,
                counted_from=since,
                days_not_seen=days,
                what=what,
            )
        )
    rows.sort(key=lambda r: (-r.days_not_seen, search_key(r.display_name)))
    return rows


def _recent_incidents(vault: UnlockedVault, session: Session, today: date) -> list[RecentIncident]:
    query = (
        select(
            Incident.id,
            Incident.incident_type,
            Incident.occurred_at,
            Person.id,
            Person.given_name,
            Person.family_name,
            Person.preferred_name,
        )
        .join(Person, Person.id == Incident.person_id)
        .where(
            visible_people_filter(vault),
            Incident.occurred_at
            >= start_of_local_day(today - timedelta(days=RECENT_INCIDENT_DAYS)),
        )
        .order_by(Incident.occurred_at.desc())
    )
    rows = []
    for incident_id, code, occurred_at, pid, given, family, preferred in session.execute(query):
        kind = IncidentType(code)
        rows.append(
            RecentIncident(
                incident_id=incident_id,
                person_id=pid,
                display_name=display_name(given, family, preferred),
                incident_type=kind,
                what=kind.label,
                occurred_at=occurred_at,
                occurred_on=local_date(occurred_at),
                is_harm=kind.is_harm,
            )
        )
    return rows


def _follow_ups(vault: UnlockedVault, session: Session, today: date) -> list[FollowUpDue]:
    still_open = [s.value for s in ReferralStatus if s.is_open]
    query = (
        select(
            OnwardReferral.id,
            OnwardReferral.kind,
            OnwardReferral.to_whom,
            OnwardReferral.status,
            OnwardReferral.follow_up_on,
            Person.id,
            Person.given_name,
            Person.family_name,
            Person.preferred_name,
        )
        .join(Person, Person.id == OnwardReferral.person_id)
        .where(
            visible_people_filter(vault),
            Person.status != PersonStatus.CLOSED.value,
            OnwardReferral.follow_up_on <= today,
            OnwardReferral.status.in_(still_open),
        )
        .order_by(OnwardReferral.follow_up_on)
    )
    rows = []
    for referral_id, kind, to_whom, status, due, pid, given, family, preferred in session.execute(
        query
    ):
        label = ReferralKind(kind).label.lower()
        assert due is not None  # the WHERE clause asks for a date
        rows.append(
            FollowUpDue(
                referral_id=referral_id,
                person_id=pid,
                display_name=display_name(given, family, preferred),
                what=f"Follow up {label} to {to_whom} ({ReferralStatus(status).label.lower()})",
                follow_up_on=due,
                days_overdue=(today - due).days,
            )
        )
    return rows


def today_view(vault: UnlockedVault) -> TodayView:
    """What needs attention today: visits due and overdue, people not seen, recent incidents.

    A visit is due today when it is still planned and its UK due date is today, and overdue when
    that date is before today. Visits of people whose record is closed are left out. "Not seen"
    counts active and stepping-down people whose last contact where they were seen (attended, or
    late and seen) was more than 28 days ago; someone never seen counts from their enrolment date.
    An onward referral's follow-up shows from its date on while the referral is still open
    (sent, waiting or accepted).

    Raises:
        PermissionDenied: an analyst's sign-in.
    """
    today = vault.today()
    with vault.read() as session:
        due_today, overdue = _visits_due(vault, session, today)
        return TodayView(
            today=today,
            due_today=tuple(due_today),
            overdue=tuple(overdue),
            not_seen=tuple(_not_seen(vault, session, today)),
            recent_incidents=tuple(_recent_incidents(vault, session, today)),
            follow_ups=tuple(_follow_ups(vault, session, today)),
        )


@dataclass(frozen=True)
class VaultCounts:
    """How much the vault holds within what this user may see: counts only, no names."""

    people_by_status: dict[str, int]
    contacts: int
    incidents: int
    planned_visits: int

    @property
    def people(self) -> int:
        return sum(self.people_by_status.values())


def vault_counts(vault: UnlockedVault) -> VaultCounts:
    """Counts for `sim-desk summary`: everyone for team leads and analysts (aggregates only),
    the pair's caseload for officers and clinicians."""
    scope = Person.pair_id.in_(vault.actor.pair_ids) if vault.actor.role in FIELD_STAFF else true()
    with vault.read() as session:
        by_status = dict(
            session.execute(
                select(Person.status, func.count()).where(scope).group_by(Person.status)
            ).all()
        )

        def count(model: Any) -> int:
            query = (
                select(func.count()).select_from(model).join(Person, Person.id == model.person_id)
            )
            return int(session.execute(query.where(scope)).scalar_one())

        return VaultCounts(by_status, count(Contact), count(Incident), count(PlannedVisit))
