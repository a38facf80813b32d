"""Queries behind the Today view and the caseload list.

Officers and clinicians see their own pair's caseload, team leads see everyone, and analysts see no
one here (they work with anonymised figures). Everything below is read-only and derived when asked
for: "due today", "overdue" and "not seen for 28 days" are never stored.

**Name search.** SQLite's ``LOWER()`` and ``LIKE`` fold ASCII letters only, so "wójcik" would not
find "WÓJCIK" and "ανδρέας" would not find "ΑΝΔΡΈΑΣ". The schema has no search-key column and we do
not add one (it would be a second copy of every name to keep in step), so names are matched in
Python: a caseload is at most a few thousand people, and reading their names is one indexed query
of a few milliseconds. Both the names and the search text are turned into a search key: Unicode
case folding (which handles Greek final sigma, German ß, Turkish dotted I), compatibility
decomposition with accents removed (so "Wojcik" on a UK keyboard finds "Wójcik"), a few letters
that have no decomposition ("ł" → "l"), and punctuation dropped ("O'Neil" = "ONeil"). Every word
typed must appear in the given, family or preferred name, or in given and family run together
(so "李小龙" finds 李 小龙 however the two parts were entered).

**Speed.** Last contact and next planned visit are looked up only for the rows that are shown
(one statement per page, not one per person). They are correlated subqueries that SQLite answers
with one seek each on ``ix_contacts_person_started`` and ``ix_planned_visits_person_due``; with
2,000 people and 500,000 contacts a GROUP BY over the contacts table reads the whole index
(about 300 ms) where the seeks take about 30 ms for all 2,000 people and under 1 ms for a page.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session

from sim_desk.records.codes import (
    Attendance,
    ConsultationMechanism,
    IncidentType,
    PersonStatus,
    PlannedVisitStatus,
    Role,
    VisitFrequency,
)
from sim_desk.records.errors import ValidationError
from sim_desk.records.model import Contact, Incident, Pair, Person, PlannedVisit, VisitPlan
from sim_desk.records.people import visible_people_filter
from sim_desk.records.unlocked import UnlockedVault
from sim_desk.records.validation import mask_nhs_number
from sim_desk.records.visits import local_date, start_of_local_day

#: Someone active or stepping down is "not seen" once this many whole days have passed since the
#: day they were last seen: seen 28 days ago is fine, 29 days ago is flagged.
NOT_SEEN_DAYS = 28
#: The Today view lists incidents that happened on or after the same weekday last week.
RECENT_INCIDENT_DAYS = 7
ORDERINGS = ("name", "status", "last_contact", "next_visit")

_SEEN = tuple(a.value for a in Attendance if a.seen)
_STILL_PLANNED = PlannedVisitStatus.PLANNED.value
# "Not settled" is written as NOT IN so that SQLite seeks per person on
# ix_planned_visits_person_due. With `status = 'planned'` it picks ix_planned_visits_status_due
# instead and reads every future planned visit once per person (18 s for 2,000 people).
_SETTLED = tuple(s.value for s in PlannedVisitStatus if s != PlannedVisitStatus.PLANNED)
_ID_BATCH = 500  # bound parameters per IN list


# -- names ----------------------------------------------------------------------------------

# Letters that Unicode does not decompose into a base letter and an accent.
_EXTRA_FOLDS = {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŀ": "l", "æ": "ae", "œ": "oe"}


class _CharacterFolds(dict[int, str | None]):
    """A ``str.translate`` table worked out one character at a time as characters turn up:
    accents and other combining marks and punctuation dropped, any space made a plain space."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        if unicodedata.category(char)[0] in "MP":
            value = None
        elif char.isspace():
            value = " "
        else:
            value = _EXTRA_FOLDS.get(char, char)
        self[code] = value
        return value


_FOLDS = _CharacterFolds()


def search_key(text: str) -> str:
    """The form names and search text are compared in: case, accents and punctuation ignored."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return " ".join(folded.translate(_FOLDS).split())


def display_name(given: str, family: str, preferred: str | None = None) -> str:
    """Given and family name; a preferred name that differs from the given one follows in
    brackets, so the name the person uses is never hidden: "Zofia Wójcik (Zosia)"."""
    name = " ".join(part for part in (given, family) if part)
    if preferred and preferred != given:
        return f"{name} ({preferred})" if name else preferred
    return name


#: Past this many texts, the memo of search keys starts again (one search rebuilds it).
_FOLDED_KEPT = 50_000


class _Folded(dict[str, str]):
    """:func:`search_key` of every text folded so far, worked out once each."""

    def __missing__(self, text: str) -> str:
        value = self[text] = search_key(text)
        return value


def _folded(vault: UnlockedVault) -> _Folded:
    """The search keys of names and references already folded in this sign-in.

    Each keystroke matches (and sorts) every visible person, and folding 6,000 names took
    longer than the query that reads them. A key depends on its text alone, so it is kept in
    the vault's cache, which is emptied on lock.
    """
    memo = vault.cache.get("caseload.folded")
    if memo is None or len(memo) > _FOLDED_KEPT:
        memo = vault.cache["caseload.folded"] = _Folded()
    return memo


@dataclass(frozen=True)
class _Query:
    """Search text split into what it can match."""

    words: tuple[str, ...]
    digits: str | None
    reference: str

    @classmethod
    def parse(cls, text: str) -> _Query:
        stripped = "".join(c for c in text if not c.isspace() and c != "-")
        digits = stripped if stripped.isascii() and stripped.isdigit() else None
        key = search_key(text)
        return cls(tuple(key.split()), digits, key.replace(" ", ""))

    @property
    def empty(self) -> bool:
        return not self.words and not self.digits

    def matches(
        self,
        given: str,
        family: str,
        preferred: str | None,
        nhs_number: str | None,
        police_reference: str | None,
        folded: _Folded | None = None,
    ) -> bool:
        if self.empty:
            return True
        if self.digits is not None and nhs_number is not None and self.digits in nhs_number:
            return True
        fold = search_key if folded is None else folded.__getitem__
        if (
            police_reference is not None
            and self.reference
            and self.reference in fold(police_reference).replace(" ", "")
        ):
            return True
        if self.digits is not None:
            return False  # a number is never part of a name
        g, f, p = fold(given), fold(family), fold(preferred or "")
        haystack = "\n".join((g, f, p, g + f, f + g))
        return all(word in haystack for word in self.words)


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
    search = _Query.parse(text or "")
    folded = _folded(vault)
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
    search = _Query.parse(text or "")
    folded = _folded(vault)
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
class TodayView:
    today: date
    due_today: tuple[VisitDue, ...]
    #: Oldest first.
    overdue: tuple[VisitDue, ...]
    #: Longest first.
    not_seen: tuple[NotSeen, ...]
    #: Newest first.
    recent_incidents: tuple[RecentIncident, ...]


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
            PlannedVisit.status == _STILL_PLANNED,
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
        .where(Contact.person_id == Person.id, Contact.attendance.in_(_SEEN))
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


def today_view(vault: UnlockedVault) -> TodayView:
    """What needs attention today: visits due and overdue, people not seen, recent incidents.

    A visit is due today when it is still planned and its UK due date is today, and overdue when
    that date is before today. Visits of people whose record is closed are left out. "Not seen"
    counts active and stepping-down people whose last contact where they were seen (attended, or
    late and seen) was more than 28 days ago; someone never seen counts from their enrolment date.

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
    scope = (
        Person.pair_id.in_(vault.actor.pair_ids)
        if vault.actor.role in (Role.OFFICER, Role.CLINICIAN)
        else true()
    )
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
