"""Read use cases and permissions for the exchange layer: anonymised exports and calendars.

Anonymised exports are for analysts and team leads. They get per-person facts (internal ids,
codes, dates and outcome figures) but never names, NHS numbers, police references, dates of
birth or free text: the exporter generalises and suppresses what it is given, and what it is
not given it cannot leak. Longitudinal linkage (stable pseudonyms across exports) uses a key kept
inside the vault database; a team lead grants a user the right to use it.

Calendars are for the pair who make the visits (and team leads): events carry initials worked out
here, so the full name never leaves this layer.
"""

from __future__ import annotations

import secrets
import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import load_only

from sim_desk.records import outcomes
from sim_desk.records.codes import ExitReason, PersonStatus, PlannedVisitStatus, Role
from sim_desk.records.dates import age_on
from sim_desk.records.errors import NotFound, PermissionDenied, ValidationError
from sim_desk.records.model import (
    LinkageGrant,
    Pair,
    Person,
    PersonStatusChange,
    PlannedVisit,
    User,
    VaultMeta,
    VisitPlan,
)
from sim_desk.records.permissions import EXPORTERS
from sim_desk.records.read_models import outcome_data
from sim_desk.records.team.keyring import team_linkage_key
from sim_desk.records.team.linkage_holders import holder_stops, live_grant
from sim_desk.records.unit_of_work import LOCAL_ZONE, UnlockedVault

#: Who may run anonymised exports.
#: Who may put planned visits into a calendar file.
CALENDAR_USERS = (Role.OFFICER, Role.CLINICIAN, Role.TEAM_LEAD)
#: Audit actions for linkage grants.
LINKAGE_GRANTED = "linkage.granted"
KEY_BYTES = 32
#: A calendar covers at most this many days ahead.
MAX_CALENDAR_DAYS = 366


# -- longitudinal linkage -------------------------------------------------------------------


_live_grant = live_grant


def grant_linkage(vault: UnlockedVault, user_id: uuid.UUID) -> None:
    """Lets a user pseudonymise exports with the vault's linkage key (team leads only).

    The key is made at the first grant. Granting twice changes nothing.

    Raises:
        PermissionDenied: the signed-in user is not a team lead.
        ValidationError: the user is not an active analyst or team lead.
    """
    vault.require_role(Role.TEAM_LEAD, doing="grant longitudinal linkage")
    with vault.write() as session:
        user = session.get(User, user_id)
        if user is None or not user.active or Role(user.role) not in EXPORTERS:
            raise ValidationError(
                "Linkage: choose an active analyst or team lead; only they run exports.", "user"
            )
        if _live_grant(session, user.id) is not None:
            return
        meta = session.execute(select(VaultMeta)).scalar_one()
        made_key = meta.linkage_key is None
        if made_key:
            meta.linkage_key = secrets.token_bytes(KEY_BYTES)
        session.add(LinkageGrant(user_id=user.id, created_by=vault.actor.user_id))
        vault.audit(session, LINKAGE_GRANTED, "user", user.id, new_key=made_key)


def revoke_linkage(vault: UnlockedVault, user_id: uuid.UUID) -> None:
    """Withdraws a user's linkage grant (team leads only); a no-op if there is none. On a
    team, the next sync starts a linkage epoch the user's laptop is not given (teamserver/keys)."""
    vault.require_role(Role.TEAM_LEAD, doing="revoke longitudinal linkage")
    with vault.write() as session:
        if _live_grant(session, user_id) is not None:
            holder_stops(vault, session, user_id)


def linkage_granted(vault: UnlockedVault) -> bool:
    """Whether the signed-in user may ask for linked pseudonyms (for the wizard's check box)."""
    with vault.read() as session:
        return _live_grant(session, vault.actor.user_id) is not None


def pseudonym_key(vault: UnlockedVault, *, linkage: bool) -> bytes:
    """The key for this export's pseudonyms: fresh and random, or the team's (else the
    vault's) linkage key. Raises PermissionDenied: not an exporter, or linkage not granted."""
    vault.require_role(*EXPORTERS, doing="run anonymised exports")
    if not linkage:
        return secrets.token_bytes(KEY_BYTES)
    if (team_key := team_linkage_key(vault)) is not None:
        return team_key  # on a team, the wrapped key is the grant (see keyring)
    with vault.read() as session:
        grant = _live_grant(session, vault.actor.user_id)
        key = session.execute(select(VaultMeta.linkage_key)).scalar_one()
        if grant is None or key is None:
            raise PermissionDenied(
                "Linked pseudonyms need your team lead's permission (longitudinal linkage)."
                " Export without linkage, or ask them to grant it."
            )
        return bytes(key)


# -- the cohort for an anonymised export ----------------------------------------------------


def period_end(today: date) -> date:
    """The data date of an export made ``today``: the last day of the month before.

    Exports describe whole months only, so two exports made in the same month describe the
    same period, and the release log (:mod:`sim_desk.records.read_models.releases`) can keep them
    equal.
    """
    return today.replace(day=1) - timedelta(days=1)


@dataclass(frozen=True)
class ExportPerson:
    """One enrolled person's facts for the exporter. No names, numbers, birth dates or text."""

    person_id: uuid.UUID
    age_at_enrolment: int | None
    gender: str
    ethnic_category: str
    borough: str | None
    enrolled_on: date
    enrolled_until: date  # the day after the last day followed up: closure, or the data date
    status: str  # on the data date
    outcome: outcomes.PersonOutcome
    engagement: outcomes.Engagement
    continuity: outcomes.ContinuityInput | None = None  # onward referrals, step-down


@dataclass(frozen=True)
class ExportFlow:
    """Everyone referred by the data date: enrolled or not, and their status on that date."""

    referred: int
    enrolled: int
    statuses: dict[str, int]  # waiting, active, stepping_down, closed_<exit reason>

    @property
    def not_enrolled(self) -> int:
        return self.referred - self.enrolled


@dataclass(frozen=True)
class ExportCohort:
    data_as_of: date  # the last day the figures cover
    months: int
    flow: ExportFlow
    people: tuple[ExportPerson, ...]

    @property
    def today(self) -> date:
        """The first day not covered (what the outcome windows call today)."""
        return self.data_as_of + timedelta(days=1)


def _status_on(
    person: Person, changes: list[tuple[date, str, str | None]], day: date
) -> tuple[str, str | None]:
    """A person's status (and exit reason) at the end of ``day``, from their history."""
    earlier = [c for c in changes if c[0] <= day]
    if earlier:
        _, status, reason = earlier[-1]
        return status, reason
    # No history (records from before it was kept): the dates say as much as can be known.
    if person.closed_on is not None and person.closed_on <= day:
        return PersonStatus.CLOSED.value, person.exit_reason
    if person.enrolled_on is not None and person.enrolled_on <= day:
        return PersonStatus.ACTIVE.value, None
    return PersonStatus.REFERRED.value, None


def export_cohort(
    vault: UnlockedVault, *, months: int = 12, as_of: date | None = None
) -> ExportCohort:
    """Everyone referred (for the flow) and every enrolled person's figures, team-wide, as at
    the end of ``as_of`` (default: the last day of last month, :func:`period_end`).

    Records entered later about days up to ``as_of`` are included: that is what the release log
    is for (a second export of the same period repeats the first).

    Raises:
        PermissionDenied: the signed-in user is not an analyst or team lead.
        ValidationError: the window is not 6, 12 or 24 months, or ``as_of`` is not yet over.
    """
    vault.require_role(*EXPORTERS, doing="run anonymised exports")
    if months not in outcomes.ALLOWED_MONTHS:
        raise ValidationError("Window: choose 6, 12 or 24 months.", "months")
    data_as_of = as_of or period_end(vault.today())
    if data_as_of >= vault.today():
        raise ValidationError("Data date: choose a day that is over (before today).", "as_of")
    today = data_as_of + timedelta(days=1)
    with vault.read() as session:
        history: dict[uuid.UUID, list[tuple[date, str, str | None]]] = defaultdict(list)
        for person_id, changed_on, to_status, exit_reason in session.execute(
            select(
                PersonStatusChange.person_id,
                PersonStatusChange.changed_on,
                PersonStatusChange.to_status,
                PersonStatusChange.exit_reason,
            ).order_by(
                PersonStatusChange.person_id,
                PersonStatusChange.changed_on,
                PersonStatusChange.created_at,
                PersonStatusChange.id,
            )
        ):
            history[person_id].append((changed_on, to_status, exit_reason))
        # Only the columns the figures need: a trust-wide vault's goals, plans and notes are
        # long text, and decrypting them for nothing costs a good share of an export.
        needed = load_only(
            Person.id,
            Person.referred_on,
            Person.enrolled_on,
            Person.closed_on,
            Person.exit_reason,
            Person.date_of_birth,
            Person.gender,
            Person.ethnic_category,
            Person.borough,
            Person.status,
        )
        scope = [
            p
            for p in session.execute(select(Person).options(needed).order_by(Person.id)).scalars()
            if p.referred_on <= data_as_of or (history[p.id] and history[p.id][0][0] <= data_as_of)
        ]
        enrolled = [p for p in scope if p.enrolled_on is not None and p.enrolled_on <= data_as_of]
        facts = outcome_data.read_facts(
            session, enrolled, today=today, months=months, planned_visits=False
        )
        circle = outcome_data.read_continuity(session, enrolled, as_of=data_as_of)
        statuses: dict[str, int] = defaultdict(int)
        status_of: dict[uuid.UUID, str] = {}
        for person in scope:
            status, reason = _status_on(person, history[person.id], data_as_of)
            status_of[person.id] = status
            if status == PersonStatus.CLOSED.value:
                statuses[f"closed_{reason or ExitReason.DISCHARGED.value}"] += 1
            elif status == PersonStatus.REFERRED.value:
                statuses["waiting"] += 1
            else:
                statuses[status] += 1
        rows = []
        for person in enrolled:
            report = outcome_data.person_report(
                person,
                facts,
                today=today,
                months=months,
                incident_types=outcome_data.ALL_TYPES,
            )
            assert person.enrolled_on is not None
            rows.append(
                ExportPerson(
                    person_id=person.id,
                    age_at_enrolment=age_on(person.date_of_birth, person.enrolled_on)
                    if person.date_of_birth
                    else None,
                    gender=person.gender,
                    ethnic_category=person.ethnic_category,
                    borough=person.borough,
                    enrolled_on=person.enrolled_on,
                    enrolled_until=min(person.closed_on, today) if person.closed_on else today,
                    status=status_of[person.id],
                    outcome=report.outcome,
                    engagement=report.engagement,
                    continuity=circle[person.id],
                )
            )
    flow = ExportFlow(referred=len(scope), enrolled=len(enrolled), statuses=dict(statuses))
    return ExportCohort(data_as_of, months, flow, tuple(rows))


# -- planned visits for a calendar ----------------------------------------------------------


@dataclass(frozen=True)
class CalendarVisit:
    """A still-planned visit, with only what a calendar outside the vault may hold."""

    visit_id: uuid.UUID
    person_id: uuid.UUID
    initials: str  # "" when initials would spell the whole name (one-letter name parts)
    due_at: datetime
    duration_minutes: int
    mechanism: str


@dataclass(frozen=True)
class CalendarVisits:
    pair_ids: tuple[uuid.UUID, ...]
    pair_names: tuple[str, ...]
    start: date
    end: date  # first day not included
    visits: tuple[CalendarVisit, ...]


_MARKS = ("Mn", "Mc", "Me")


def _letters(text: str) -> str:
    """The letters of a name part with their combining marks: no digits, quotes or brackets."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category.startswith("L") or (category in _MARKS and out):
            out.append(char)
    return "".join(out)


def _first_grapheme(letters: str) -> str:
    """The first letter with its combining marks (a good-enough grapheme for initials)."""
    if not letters:
        return ""
    out = letters[0]
    for char in letters[1:]:
        if unicodedata.category(char) not in _MARKS:
            break
        out += char
    return out


def initials(given_name: str, family_name: str) -> str:
    """Initials such as "A.O." for Amara Okafor, from letters only ("'Ana (Nan)" gives "A.").

    When every part of the name is a single letter (common in Chinese names), the initials would
    be the full name, so none are given and the calendar reference alone identifies the event.
    """
    parts = [p for p in (_letters(given_name), _letters(family_name)) if p]
    firsts = [_first_grapheme(p) for p in parts]
    if not parts or all(first == part for first, part in zip(firsts, parts, strict=True)):
        return ""
    return "".join(f"{first.upper()}." for first in firsts)


def calendar_visits(
    vault: UnlockedVault,
    *,
    pair_id: uuid.UUID | None = None,
    start: date | None = None,
    days: int = 90,
) -> CalendarVisits:
    """Still-planned visits of one pair, or of the signed-in user's pairs, from ``start``.

    Args:
        pair_id: the pair; officers and clinicians may leave it out for all their pairs, and may
            name only their own. Team leads must name one.
        start: the first UK day (default today).
        days: how many days the calendar covers (1 to 366).

    Raises:
        PermissionDenied: an analyst, or a pair that is not the user's own.
        ValidationError: no pair chosen by a team lead, or a bad number of days.
        NotFound: the pair does not exist.
    """
    vault.require_role(*CALENDAR_USERS, doing="export planned visits to a calendar")
    if not 1 <= days <= MAX_CALENDAR_DAYS:
        raise ValidationError(f"Days: choose 1 to {MAX_CALENDAR_DAYS} days ahead.", "days")
    first_day = start or vault.today()
    last_day = first_day + timedelta(days=days)
    if pair_id is None:
        if vault.actor.role == Role.TEAM_LEAD or not vault.actor.pair_ids:
            raise ValidationError("Pair: choose the pair whose visits to export.", "pair_id")
        pair_ids = sorted(vault.actor.pair_ids)
    else:
        if vault.actor.role != Role.TEAM_LEAD and pair_id not in vault.actor.pair_ids:
            raise PermissionDenied("You can export the visits of your own pair only.")
        pair_ids = [pair_id]
    with vault.read() as session:
        pairs = [session.get(Pair, p) for p in pair_ids]
        if any(p is None for p in pairs):
            raise NotFound("That pair was not found. It may have been closed.")
        begin = datetime.combine(first_day, time(0), tzinfo=LOCAL_ZONE).astimezone(UTC)
        end = datetime.combine(last_day, time(0), tzinfo=LOCAL_ZONE).astimezone(UTC)
        rows = session.execute(
            select(
                PlannedVisit.id,
                PlannedVisit.due_at,
                Person.id,
                Person.given_name,
                Person.family_name,
                VisitPlan.duration_minutes,
                VisitPlan.mechanism,
            )
            .join(Person, Person.id == PlannedVisit.person_id)
            .outerjoin(VisitPlan, VisitPlan.id == PlannedVisit.plan_id)
            .where(
                Person.pair_id.in_(pair_ids),
                PlannedVisit.status == PlannedVisitStatus.PLANNED.value,
                PlannedVisit.due_at >= begin,
                PlannedVisit.due_at < end,
            )
            .order_by(PlannedVisit.due_at, PlannedVisit.id)
        ).all()
        visits = tuple(
            CalendarVisit(
                visit_id=visit_id,
                person_id=person_id,
                initials=initials(given, family),
                due_at=due_at,
                duration_minutes=duration or 60,
                mechanism=mechanism or "01",
            )
            for visit_id, due_at, person_id, given, family, duration, mechanism in rows
        )
        names = tuple(p.name for p in pairs if p is not None)
    return CalendarVisits(tuple(pair_ids), names, first_day, last_day, visits)
