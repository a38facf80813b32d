"""Reading outcome facts from the vault: only the rows inside each person's windows."""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    and_,
    case,
    func,
    insert,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from sim_desk.records import outcomes
from sim_desk.records.codes import (
    Attendance,
    IncidentType,
    PlannedVisitStatus,
)
from sim_desk.records.incidents import stay_for
from sim_desk.records.model import (
    BaselineCount,
    Contact,
    Incident,
    Person,
    PlannedVisit,
    UTCDateTime,
)
from sim_desk.records.unit_of_work import LOCAL_ZONE, local_date
from sim_desk.records.visits import start_of_local_day

_SEEN = frozenset(a.value for a in Attendance if a.seen)


@dataclass(frozen=True)
class Facts:
    """One query's worth of each kind of fact, grouped by person.

    Contacts and planned visits are counted, not listed: the figures need only how many fall in
    the person's after window (by the UK calendar), and which.
    """

    events: dict[uuid.UUID, list[outcomes.Event]]
    baselines: dict[uuid.UUID, list[outcomes.BaselineCount]]
    stays: dict[uuid.UUID, list[outcomes.Stay]]
    contacts: dict[uuid.UUID, outcomes.ContactCounts]
    visits: dict[uuid.UUID, outcomes.VisitCounts]


#: Each person's windows, for the length of one :func:`facts` call: a temporary table (in
#: memory: temp_store=MEMORY) on the session's own connection, gone at the end of the transaction.
#: Its own MetaData, so it is no part of the vault's schema.
_WINDOWS = Table(
    "outcome_windows",
    MetaData(),
    Column("n", Integer, primary_key=True),
    Column("person_id", Uuid, nullable=False),
    # The windows as UTC moments: from the start of a first UK day to the start of the UK day
    # after the last (the prior window runs on into the before and after windows).
    Column("prior_from", UTCDateTime, nullable=False),
    Column("prior_start", Date, nullable=False),  # its first day, for stays that reach into it
    Column("after_from", UTCDateTime, nullable=False),  # enrolment: after and followed start
    Column("followed_to", UTCDateTime, nullable=False),  # end of follow-up (engagement)
    Column("observed_to", UTCDateTime, nullable=False),  # end of today: later incidents too
    prefixes=["TEMPORARY"],
)


#: When UK clocks are not on UTC (summer time, and the odd wartime and 1968-71 exceptions), as
#: UTC spans with the shift written as an SQLite date modifier: lets the database date a
#: stored UTC moment by the UK calendar (_uk_date). Filled for the years a call needs.
_SHIFTS = Table(
    "uk_clock_shifts",
    MetaData(),
    Column("starts", UTCDateTime, primary_key=True),
    Column("ends", UTCDateTime, nullable=False),
    Column("shift", String, nullable=False),
    prefixes=["TEMPORARY"],
)


def _offset(moment: datetime) -> timedelta:
    return moment.astimezone(LOCAL_ZONE).utcoffset() or timedelta(0)


def _clock_shifts(first_year: int, last_year: int) -> list[dict[str, object]]:
    """The rows of :data:`_SHIFTS` for these years, found from the time-zone rules: the offset
    is looked at on the first of each month, and each change is narrowed down to the minute."""
    months = [
        datetime(year, month, 1, tzinfo=UTC)
        for year in range(first_year, last_year + 2)
        for month in range(1, 13)
    ][: (last_year - first_year + 1) * 12 + 1]
    changes = [months[0]]
    for start, end in itertools.pairwise(months):
        if _offset(start) != _offset(end):
            low, high = start, end  # the offset changes in (low, high]
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                low, high = (middle, high) if _offset(middle) == _offset(start) else (low, middle)
            changes.append(high)
    changes.append(months[-1])
    rows = []
    for starts, ends in itertools.pairwise(changes):
        shift = _offset(starts)
        if shift:
            minutes = int(shift.total_seconds() // 60)
            rows.append({"starts": starts, "ends": ends, "shift": f"{minutes:+d} minutes"})
    return rows


def _uk_date(
    moment: ColumnElement[datetime] | InstrumentedAttribute[datetime],
) -> ColumnElement[str]:
    """SQL for the UK calendar date ('YYYY-MM-DD') of a stored UTC moment (NULL stays NULL).

    Since 1972 UK clocks are at most an hour ahead of UTC, so a moment before 23:00 UTC is on
    its UTC date (as in ``unlocked.local_date``); only the rest look up the clock shifts.
    """
    # Compared as the stored text ('YYYY-MM-DD HH:MM:SS.ffffff', which sorts as time does).
    text = type_coerce(moment, String)
    starts, ends = type_coerce(_SHIFTS.c.starts, String), type_coerce(_SHIFTS.c.ends, String)
    shift = (
        select(case((text < ends, _SHIFTS.c.shift), else_="+0 minutes"))
        .where(starts <= text)
        .order_by(_SHIFTS.c.starts.desc())
        .limit(1)
        .correlate_except(_SHIFTS)
        .scalar_subquery()
    )
    return case(
        (
            and_(func.substr(text, 12, 2) < "23", text >= "1972"),
            func.substr(text, 1, 10),
        ),
        else_=func.date(text, func.coalesce(shift, "+0 minutes")),
    )


def read_facts(
    session: Session,
    people: Sequence[Person],
    *,
    today: date,
    months: int,
    planned_visits: bool = True,
) -> Facts:
    """Every fact the outcome and engagement figures of these (enrolled) people depend on.

    ``planned_visits=False`` leaves out the planned visits done on time (the anonymised export
    publishes none, and on a trust-wide vault they are a third of the time).

    A trust-wide vault holds half a million contacts and hundreds of thousands of planned
    visits; reading them all took longer than a report may. So the people and their windows go
    into a small temporary table, and the database picks out, on its indexes, only the rows
    inside each person's window: one statement per kind of fact for the whole cohort. Rows name
    the person by their number in that table, which spares building a UUID for each row.
    """
    facts = Facts(defaultdict(list), defaultdict(list), defaultdict(list), {}, {})
    if not people:
        return facts
    ids = [p.id for p in people]
    windows = []
    for n, person in enumerate(people):
        assert person.enrolled_on is not None
        spans = outcomes.outcome_windows(
            person.enrolled_on, today=today, closed_on=person.closed_on, months=months
        )
        windows.append(
            {
                "n": n,
                "person_id": person.id,
                "prior_from": start_of_local_day(spans.prior.start),
                "prior_start": spans.prior.start,
                "after_from": start_of_local_day(spans.after.start),
                "followed_to": start_of_local_day(spans.followed.end),
                "observed_to": start_of_local_day(spans.later.end),
            }
        )
    w = _WINDOWS
    conn = session.connection()
    w.create(conn)
    _SHIFTS.create(conn)
    try:
        conn.execute(insert(w), windows)
        first = min(p.enrolled_on for p in people if p.enrolled_on is not None)
        conn.execute(insert(_SHIFTS), _clock_shifts(first.year - 1, today.year + 1))
        # Incidents from the start of the prior window to the end of today: those after the
        # after window are counted as later, never dropped. Before the prior window, only a
        # stay (an admission, custody) still going on when it opens matters, for days at risk.
        is_stay = or_(Incident.incident_type == IncidentType.MH_ADMISSION.value, Incident.custody)
        in_windows = and_(
            Incident.person_id == w.c.person_id,
            Incident.occurred_at >= w.c.prior_from,
            Incident.occurred_at < w.c.observed_to,
        )
        stays_reaching_in = and_(
            Incident.person_id == w.c.person_id,
            Incident.occurred_at < w.c.prior_from,
            is_stay,
            or_(Incident.ended_on.is_(None), Incident.ended_on >= w.c.prior_start),
        )
        columns = (
            w.c.n,
            Incident.occurred_at,
            Incident.incident_type,
            Incident.custody,
            Incident.ended_on,
        )
        for n, at, kind, custody, ended in conn.execute(select(*columns).join(w, in_windows)):
            pid = ids[n]
            day = local_date(at)
            facts.events[pid].append(outcomes.Event(day, kind))
            stay = stay_for(kind, day, custody, ended)
            if stay is not None:
                facts.stays[pid].append(stay)
        for n, at, kind, custody, ended in conn.execute(
            select(*columns).join(w, stays_reaching_in)
        ):
            stay = stay_for(kind, local_date(at), custody, ended)
            if stay is not None:
                facts.stays[ids[n]].append(stay)
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
        # Engagement needs only how many contacts each person's follow-up holds, how many were
        # attended, how many fall before or after it, and the newest attended one: the
        # database counts on the index, so the ~150,000 contacts of a trust-wide year never
        # come through Python.
        attended = func.sum(case((Contact.attendance.in_(sorted(_SEEN)), 1), else_=0))
        in_window = {
            n: (count, int(seen or 0))
            for n, count, seen in conn.execute(
                select(w.c.n, func.count(), attended)
                .join(
                    w,
                    and_(
                        Contact.person_id == w.c.person_id,
                        Contact.started_at >= w.c.after_from,
                        Contact.started_at < w.c.followed_to,
                    ),
                )
                .group_by(w.c.n)
            )
        }
        outside: dict[tuple[int, bool], int] = {}
        for later, edge in ((False, Contact.started_at < w.c.after_from),
                            (True, Contact.started_at >= w.c.followed_to)):  # fmt: skip
            for n, count in conn.execute(
                select(w.c.n, func.count())
                .select_from(Contact)
                .join(w, and_(Contact.person_id == w.c.person_id, edge))
                .group_by(w.c.n)
            ):
                outside[n, later] = count
        # "Days since last contact" looks at every attended contact up to today, in the window
        # or not: the newest one is one index seek per person.
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
            count, seen = in_window.get(n, (0, 0))
            facts.contacts[ids[n]] = outcomes.ContactCounts(
                count,
                seen,
                local_date(at) if at is not None else None,
                before_window=outside.get((n, False), 0),
                after_window=outside.get((n, True), 0),
            )
        # Planned visits are counted by the database too: due, and done on time, by the UK
        # calendar (see _uk_date), as outcomes.count_planned_visits defines them. The visits
        # are gathered first (MATERIALIZED), so that the contact that did each is looked up
        # once rather than once for each time _uk_date mentions it.
        if not planned_visits:
            return facts
        done_at = (
            select(func.min(Contact.started_at))
            .where(
                Contact.person_id == PlannedVisit.person_id,  # the index's first column
                Contact.planned_visit_id == PlannedVisit.id,
            )
            .scalar_subquery()
        )
        due = (
            select(
                w.c.n,
                PlannedVisit.due_at,
                PlannedVisit.status,
                done_at.label("done_at"),
            )
            .join(
                w,
                and_(
                    PlannedVisit.person_id == w.c.person_id,
                    PlannedVisit.due_at >= w.c.after_from,
                    PlannedVisit.due_at < w.c.followed_to,
                ),
            )
            .where(PlannedVisit.due_at < start_of_local_day(today + timedelta(days=1)))
            .cte("due_visits")
            .prefix_with("MATERIALIZED")
        )
        on_time = func.sum(
            case(
                (
                    and_(
                        due.c.status == PlannedVisitStatus.DONE.value,
                        _uk_date(due.c.done_at)
                        <= func.date(_uk_date(due.c.due_at), f"+{outcomes.ON_TIME_DAYS} days"),
                    ),
                    1,
                ),
                else_=0,
            )
        )
        for n, count, done in conn.execute(
            select(due.c.n, func.count(), on_time).group_by(due.c.n)
        ):
            facts.visits[ids[n]] = outcomes.VisitCounts(count, int(done or 0))
    finally:
        _SHIFTS.drop(conn)
        w.drop(conn)
    return facts
