"""Plans and planned visits as read for a person's Visit plan tab."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select

from sim_desk.records.codes import (
    ConsultationMechanism,
    PlannedVisitStatus,
    VisitFrequency,
)
from sim_desk.records.model import Contact, PlannedVisit, VisitPlan
from sim_desk.records.people import load_person
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.records.visits.recurrence import DueState, due_state, start_of_local_day

# -- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanView:
    id: uuid.UUID
    person_id: uuid.UUID
    frequency: VisitFrequency
    first_visit_at: datetime
    end_on: date | None
    occurrences: int | None
    duration_minutes: int
    mechanism: ConsultationMechanism
    place: str | None
    active: bool
    visits: int
    still_planned: int
    done: int
    missed: int
    next_due_at: datetime | None


@dataclass(frozen=True)
class PlannedVisitView:
    id: uuid.UUID
    person_id: uuid.UUID
    plan_id: uuid.UUID | None
    due_at: datetime
    due_on: date
    status: PlannedVisitStatus
    status_reason: str | None
    rescheduled_to_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    done_on: date | None
    #: Derived at query time from today's UK date; None unless the visit is still planned.
    state: DueState | None

    @property
    def is_overdue(self) -> bool:
        return self.state == DueState.OVERDUE


def list_plans(vault: UnlockedVault, person_id: uuid.UUID) -> list[PlanView]:
    """A person's visit plans, running ones first, newest first within each."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        planned = PlannedVisitStatus.PLANNED.value
        today_starts = start_of_local_day(vault.today())
        counts = (
            select(
                PlannedVisit.plan_id.label("plan_id"),
                func.count().label("visits"),
                func.count().filter(PlannedVisit.status == planned).label("still_planned"),
                func.count().filter(PlannedVisit.status == "done").label("done"),
                func.count().filter(PlannedVisit.status == "missed").label("missed"),
                func.min(PlannedVisit.due_at)
                .filter(and_(PlannedVisit.status == planned, PlannedVisit.due_at >= today_starts))
                .label("next_due_at"),
            )
            .where(PlannedVisit.person_id == person_id)
            .group_by(PlannedVisit.plan_id)
            .subquery()
        )
        rows = session.execute(
            select(VisitPlan, counts)
            .outerjoin(counts, counts.c.plan_id == VisitPlan.id)
            .where(VisitPlan.person_id == person_id)
            .order_by(VisitPlan.active.desc(), VisitPlan.first_visit_at.desc())
        ).all()
        return [
            PlanView(
                id=plan.id,
                person_id=plan.person_id,
                frequency=VisitFrequency(plan.frequency),
                first_visit_at=plan.first_visit_at,
                end_on=plan.end_on,
                occurrences=plan.occurrences,
                duration_minutes=plan.duration_minutes,
                mechanism=ConsultationMechanism(plan.mechanism),
                place=plan.place,
                active=plan.active,
                visits=row.visits or 0,
                still_planned=row.still_planned or 0,
                done=row.done or 0,
                missed=row.missed or 0,
                next_due_at=row.next_due_at,
            )
            for row in rows
            for plan in [row[0]]
        ]


def list_planned_visits(
    vault: UnlockedVault, person_id: uuid.UUID, *, include_past: bool = True
) -> list[PlannedVisitView]:
    """A person's planned visits in due order, each with its derived due state.

    Args:
        include_past: when False, visits due before today are left out unless they are still
            planned (overdue), because an overdue visit still needs something done about it.
    """
    with vault.read() as session:
        load_person(vault, session, person_id)
        today = vault.today()
        query = (
            select(PlannedVisit, Contact.id, Contact.started_at)
            .outerjoin(
                Contact,
                and_(
                    Contact.planned_visit_id == PlannedVisit.id,
                    Contact.person_id == PlannedVisit.person_id,
                ),
            )
            .where(PlannedVisit.person_id == person_id)
            .order_by(PlannedVisit.due_at, PlannedVisit.created_at, Contact.started_at)
        )
        if not include_past:
            query = query.where(
                (PlannedVisit.due_at >= start_of_local_day(today))
                | (PlannedVisit.status == PlannedVisitStatus.PLANNED.value)
            )
        views: dict[uuid.UUID, PlannedVisitView] = {}
        for visit, contact_id, contact_started in session.execute(query):
            if visit.id in views:  # two contacts linked to one visit: the first one did it
                continue
            views[visit.id] = PlannedVisitView(
                id=visit.id,
                person_id=visit.person_id,
                plan_id=visit.plan_id,
                due_at=visit.due_at,
                due_on=local_date(visit.due_at),
                status=PlannedVisitStatus(visit.status),
                status_reason=visit.status_reason,
                rescheduled_to_id=visit.rescheduled_to_id,
                contact_id=contact_id,
                done_on=local_date(contact_started) if contact_started else None,
                state=due_state(visit.status, visit.due_at, today),
            )
        return list(views.values())
