"""The caseload list: search, filter, sort and count, a page at a time."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from sim_desk.records.codes import (
    Attendance,
    PersonStatus,
    PlannedVisitStatus,
)
from sim_desk.records.errors import ValidationError
from sim_desk.records.model import Contact, Pair, Person, PlannedVisit
from sim_desk.records.people import visible_people_filter
from sim_desk.records.read_models.caseload.search import Query, display_name, folded_names
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.records.validation import mask_nhs_number
from sim_desk.records.visits import start_of_local_day

#: Someone active or stepping down is "not seen" once this many whole days have passed since the
#: day they were last seen: seen 28 days ago is fine, 29 days ago is flagged.
NOT_SEEN_DAYS = 28
#: The Today view lists incidents that happened on or after the same weekday last week.
RECENT_INCIDENT_DAYS = 7
ORDERINGS = ("name", "status", "last_contact", "next_visit")

SEEN = tuple(a.value for a in Attendance if a.seen)
STILL_PLANNED = PlannedVisitStatus.PLANNED.value
# "Not settled" is written as NOT IN so that SQLite seeks per person on
# ix_planned_visits_person_due. With `status = 'planned'` it picks ix_planned_visits_status_due
# instead and reads every future planned visit once per person (18 s for 2,000 people).
_SETTLED = tuple(s.value for s in PlannedVisitStatus if s != PlannedVisitStatus.PLANNED)
_ID_BATCH = 500  # bound parameters per IN list


# -- the caseload list ----------------------------------------------------------------------


@dataclass(frozen=True)
class CaseloadRow:
    id: uuid.UUID
    display_name: str
    preferred_name: str | None
    status: PersonStatus
    pair_id: uuid.UUID | None
    pair_name: str | None
    #: Only the last four digits: the full number is on the person's record.
    nhs_number_masked: str | None
    last_contact_on: date | None
    next_visit_on: date | None


@dataclass(frozen=True)
class _Candidate:
    id: uuid.UUID
    given: str
    family: str
    preferred: str | None
    nhs_number: str | None
    status: str
    pair_id: uuid.UUID | None
    pair_name: str | None
    #: Family then given name, as search keys, then the id (so that equal names keep an order).
    name_order: tuple[str, str, str]


def _parse_statuses(statuses: Iterable[PersonStatus | str] | None) -> list[str] | None:
    if statuses is None:
        return None
    return [PersonStatus.parse(str(s), field="statuses").value for s in statuses]


#: Any select over people (the columns differ between listing and counting).
_PeopleSelect = TypeVar("_PeopleSelect", bound="Select[*tuple[Any, ...]]")


def _filtered(
    vault: UnlockedVault,
    query: _PeopleSelect,
    statuses: Iterable[PersonStatus | str] | None,
    pair_id: uuid.UUID | None,
) -> _PeopleSelect:
    query = query.where(visible_people_filter(vault))
    wanted = _parse_statuses(statuses)
    if wanted is not None:
        query = query.where(Person.status.in_(wanted))
    if pair_id is not None:
        query = query.where(Person.pair_id == pair_id)
    return query


def _matching(
    vault: UnlockedVault,
    session: Session,
    text: str,
    statuses: Iterable[PersonStatus | str] | None,
    pair_id: uuid.UUID | None,
) -> list[_Candidate]:
    """Everyone visible who passes the filters, in no particular order."""
    query = select(
        Person.id,
        Person.given_name,
        Person.family_name,
        Person.preferred_name,
        Person.nhs_number,
        Person.police_reference,
        Person.status,
        Person.pair_id,
        Pair.name,
    ).outerjoin(Pair, Pair.id == Person.pair_id)
    search = Query.parse(text or "")
    folded = folded_names(vault)
    return [
        _Candidate(
            pid,
            given,
            family,
            preferred,
            nhs,
            status,
            pair,
            pair_name,
            (folded[family or given], folded[given], str(pid)),
        )
        for pid, given, family, preferred, nhs, ref, status, pair, pair_name in session.execute(
            _filtered(vault, query, statuses, pair_id)
        )
        if search.matches(given, family, preferred, nhs, ref, folded)
    ]


def _batches(ids: Sequence[uuid.UUID]) -> Iterable[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), _ID_BATCH):
        yield ids[start : start + _ID_BATCH]


def _last_contact_column() -> ColumnElement[Any]:
    return (
        select(func.max(Contact.started_at))
        .where(Contact.person_id == Person.id)
        .correlate(Person)
        .scalar_subquery()
    )


def _next_visit_column(today: date) -> ColumnElement[Any]:
    return (
        select(func.min(PlannedVisit.due_at))
        .where(
            PlannedVisit.person_id == Person.id,
            PlannedVisit.status.not_in(_SETTLED),
            PlannedVisit.due_at >= start_of_local_day(today),
        )
        .correlate(Person)
        .scalar_subquery()
    )


def _dates(
    session: Session, ids: Sequence[uuid.UUID], today: date
) -> dict[uuid.UUID, tuple[date | None, date | None]]:
    """Last contact and next planned visit (UK dates) for these people."""
    result: dict[uuid.UUID, tuple[date | None, date | None]] = {}
    for batch in _batches(ids):
        query = select(Person.id, _last_contact_column(), _next_visit_column(today)).where(
            Person.id.in_(batch)
        )
        for pid, last, upcoming in session.execute(query):
            result[pid] = (
                local_date(last) if last else None,
                local_date(upcoming) if upcoming else None,
            )
    return result


def search_caseload(
    vault: UnlockedVault,
    text: str = "",
    *,
    statuses: Iterable[PersonStatus | str] | None = None,
    pair_id: uuid.UUID | None = None,
    order_by: str = "name",
    limit: int | None = None,
    offset: int = 0,
) -> list[CaseloadRow]:
    """The caseload list: people matching ``text`` and the filters, one page of them.

    Args:
        text: part of a name (any script, any case, accents optional), part of an NHS number
            (spaces ignored) or part of a police reference. Empty matches everyone.
        statuses: only people with one of these statuses; None for all.
        pair_id: only this pair's caseload.
        order_by: "name" (family then given name), "status", "last_contact" (longest since
            contact first, never contacted first) or "next_visit" (soonest first, none last).
        limit: at most this many rows; None for all.
        offset: rows to skip, for paging.

    Raises:
        PermissionDenied: an analyst's sign-in.
    """
    if order_by not in ORDERINGS:
        raise ValidationError(f"Sort order: choose one of {', '.join(ORDERINGS)}.", "order_by")
    for value in (offset, limit):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValidationError("Paging: use whole numbers.", "offset")
    if offset < 0 or (limit is not None and limit < 0):
        raise ValidationError("Paging: the page size and start cannot be negative.", "offset")
    today = vault.today()
    with vault.read() as session:
        found = _matching(vault, session, text, statuses, pair_id)
        end = None if limit is None else offset + limit
        if order_by in ("name", "status"):
            found.sort(key=lambda c: c.name_order)
            if order_by == "status":
                found.sort(key=lambda c: list(PersonStatus).index(PersonStatus(c.status)))
            page = found[offset:end]
            dates = _dates(session, [c.id for c in page], today)
        else:
            dates = _dates(session, [c.id for c in found], today)
            found.sort(key=lambda c: c.name_order)
            if order_by == "last_contact":
                found.sort(key=lambda c: dates[c.id][0] or date.min)
            else:
                found.sort(key=lambda c: dates[c.id][1] or date.max)
            page = found[offset:end]
        return [
            CaseloadRow(
                id=c.id,
                display_name=display_name(c.given, c.family, c.preferred),
                preferred_name=c.preferred,
                status=PersonStatus(c.status),
                pair_id=c.pair_id,
                pair_name=c.pair_name,
                nhs_number_masked=mask_nhs_number(c.nhs_number) if c.nhs_number else None,
                last_contact_on=dates[c.id][0],
                next_visit_on=dates[c.id][1],
            )
            for c in page
        ]


def count_caseload(
    vault: UnlockedVault,
    text: str = "",
    *,
    statuses: Iterable[PersonStatus | str] | None = None,
    pair_id: uuid.UUID | None = None,
) -> int:
    """How many people :func:`search_caseload` would list with the same text and filters."""
    search = Query.parse(text or "")
    folded = folded_names(vault)
    # The fields a match looks at, and no more: counting needs no ids, pairs or sort keys.
    query = select(
        Person.given_name,
        Person.family_name,
        Person.preferred_name,
        Person.nhs_number,
        Person.police_reference,
    )
    with vault.read() as session:
        return sum(
            1
            for given, family, preferred, nhs, ref in session.execute(
                _filtered(vault, query, statuses, pair_id)
            )
            if search.matches(given, family, preferred, nhs, ref, folded)
        )
