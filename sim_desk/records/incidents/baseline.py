"""Baseline counts: totals known only for a period before enrolment, with their corrections."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sim_desk.records.codes import (
    IncidentSource,
    IncidentType,
)
from sim_desk.records.errors import NotFound, ValidationError
from sim_desk.records.incidents.recording import (
    RevisionView,
    correction_reason,
    next_revision,
    plain_value,
    revision_history,
)
from sim_desk.records.model import (
    BaselineCount,
    BaselineCountRevision,
    Person,
)
from sim_desk.records.people import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import (
    check_count,
    check_not_future,
    check_order,
)
from sim_desk.records.vault.audit import Action

# -- baseline counts ------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineCountView:
    id: uuid.UUID
    incident_type: IncidentType
    period_start: date
    period_end: date
    count: int
    source: IncidentSource
    #: How many times it was corrected (earlier versions kept: ``baseline_count_history``).
    corrections: int = 0


def _plain_date(value: object, *, field: str, label: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(f"{label}: enter a date.", field)
    return value


@dataclass(frozen=True)
class _Baseline:
    incident_type: str
    period_start: date
    period_end: date
    count: int
    source: str


def _clean_baseline(
    incident_type: str, period_start: date, period_end: date, count: int, source: str
) -> _Baseline:
    kind = IncidentType.parse(str(incident_type), field="incident_type")
    origin = IncidentSource.parse(str(source), field="source")
    start = _plain_date(period_start, field="period_start", label="Period start")
    end = _plain_date(period_end, field="period_end", label="Period end")
    check_order(
        start, end, field="period_end", message="Period end: it is before the period start."
    )
    total = check_count(count, field="count", label="Count")
    return _Baseline(kind.value, start, end, total, origin.value)


def _check_baseline_for(
    vault: UnlockedVault,
    session: Session,
    person: Person,
    clean: _Baseline,
    *,
    other_than: uuid.UUID | None = None,
) -> None:
    """The checks that need the person and their other counts (see record_baseline_count)."""
    start, end = clean.period_start, clean.period_end
    if person.enrolled_on is not None:
        if end >= person.enrolled_on:
            raise ValidationError(
                f"Period end: a baseline count covers the time before enrolment"
                f" ({person.enrolled_on:%d/%m/%Y}), so its last day can be"
                f" {person.enrolled_on - timedelta(days=1):%d/%m/%Y} at the latest. Record"
                " incidents since enrolment one by one.",
                "period_end",
            )
    else:
        check_not_future(end, today=vault.today(), field="period_end", label="Period end")
    check_order(
        person.date_of_birth,
        start,
        field="period_start",
        message="Period start: it is before this person's date of birth; check the year.",
    )
    query = select(BaselineCount.id).where(
        BaselineCount.person_id == person.id,
        BaselineCount.incident_type == clean.incident_type,
        BaselineCount.period_start <= end,
        BaselineCount.period_end >= start,
    )
    if other_than is not None:
        query = query.where(BaselineCount.id != other_than)
    if session.execute(query).first():
        raise ValidationError(
            "Period: it overlaps a count of the same type already recorded, so the same"
            " incidents would be counted twice. Correct that count or choose another period.",
            "period_start",
        )


def record_baseline_count(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    incident_type: str,
    period_start: date,
    period_end: date,
    count: int,
    source: str,
) -> uuid.UUID:
    """Records a total for a period before enrolment (for example 9 s136 in the year before).

    The period's last day must be before the enrolment date (the day of enrolment belongs to
    the *after* window), or not after today for someone not yet enrolled, and must not overlap
    another count of the same type (which would count the same incidents twice).
    """
    vault.require_role(*CASEWORKERS, doing="record baseline counts")
    clean = _clean_baseline(incident_type, period_start, period_end, count, source)
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        _check_baseline_for(vault, session, person, clean)
        row = BaselineCount(
            person_id=person.id,
            incident_type=clean.incident_type,
            period_start=clean.period_start,
            period_end=clean.period_end,
            count=clean.count,
            source=clean.source,
            created_by=vault.actor.user_id,
        )
        session.add(row)
        session.flush()
        vault.audit(
            session,
            Action.CREATE,
            "baseline_count",
            row.id,
            person=person.id,
            type=clean.incident_type,
            count=clean.count,
        )
        return row.id


_BASELINE_FIELDS = ("incident_type", "period_start", "period_end", "count", "source")


def update_baseline_count(
    vault: UnlockedVault,
    count_id: uuid.UUID,
    incident_type: str,
    period_start: date,
    period_end: date,
    count: int,
    source: str,
    *,
    reason: str | None = None,
) -> list[str]:
    """Corrects a baseline count (same checks as recording one, the count itself aside from
    the overlap check); the earlier version is kept as a revision with ``reason``. Returns (and
    audits) the names of the fields that changed; nothing changed keeps no revision."""
    vault.require_role(*CASEWORKERS, doing="correct baseline counts")
    clean = _clean_baseline(incident_type, period_start, period_end, count, source)
    why = correction_reason(reason)
    with vault.write() as session:
        row = session.get(BaselineCount, count_id)
        if row is None:
            raise NotFound("That baseline count was not found. It may have been restored away.")
        person = load_person(vault, session, row.person_id)
        _check_baseline_for(vault, session, person, clean, other_than=row.id)
        before = {name: plain_value(getattr(row, name)) for name in _BASELINE_FIELDS}
        changed = [n for n in _BASELINE_FIELDS if getattr(row, n) != getattr(clean, n)]
        if not changed:
            return []
        revision = next_revision(session, BaselineCountRevision.baseline_count_id, row.id)
        session.add(
            BaselineCountRevision(
                baseline_count_id=row.id,
                revision=revision,
                fields=before,
                reason=why,
                created_by=vault.actor.user_id,
            )
        )
        for name in changed:
            setattr(row, name, getattr(clean, name))
        vault.audit(
            session,
            Action.UPDATE,
            "baseline_count",
            row.id,
            person=person.id,
            fields=changed,
            revision=revision + 1,
        )
        return changed


def baseline_count_history(vault: UnlockedVault, count_id: uuid.UUID) -> list[RevisionView]:
    """Earlier versions of a corrected baseline count, oldest first."""
    with vault.read() as session:
        row = session.get(BaselineCount, count_id)
        if row is None:
            raise NotFound("That baseline count was not found. It may have been restored away.")
        load_person(vault, session, row.person_id)
        return revision_history(
            session, BaselineCountRevision, BaselineCountRevision.baseline_count_id, count_id
        )


def list_baseline_counts(vault: UnlockedVault, person_id: uuid.UUID) -> list[BaselineCountView]:
    """A person's baseline counts, by type then period."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        corrections = (
            select(BaselineCountRevision.baseline_count_id, func.count().label("n"))
            .group_by(BaselineCountRevision.baseline_count_id)
            .subquery()
        )
        rows = session.execute(
            select(BaselineCount, corrections.c.n)
            .outerjoin(corrections, corrections.c.baseline_count_id == BaselineCount.id)
            .where(BaselineCount.person_id == person_id)
            .order_by(BaselineCount.incident_type, BaselineCount.period_start)
        ).all()
        return [
            BaselineCountView(
                b.id,
                IncidentType(b.incident_type),
                b.period_start,
                b.period_end,
                b.count,
                IncidentSource(b.source),
                n or 0,
            )
            for b, n in rows
        ]
