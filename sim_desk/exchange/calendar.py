"""Planned visits as an iCalendar (.ics) file, for Outlook and other calendars.

A calendar is not an encrypted place: it is synced to mail servers and phones and shown on
screens in shared offices. So an event holds only the person's initials, a short reference, the
time, the length and how the visit happens (face to face, telephone, ...). Never a full name, an
NHS number, a police reference, a place or an address, or a note. Where initials would spell the
whole name (one-letter name parts, as in many Chinese names) none are given.

The reference is the first 6 hex digits of HMAC-SHA256 over the person's internal record id,
keyed from the vault's id: the same person keeps the same reference in every calendar from this
vault, it says nothing without the vault (the record id never leaves it), and it matches no
NHS number, police reference or analyst pseudonym. Times carry the Europe/London zone with its
VTIMEZONE, so visits stay at their UK wall-clock time across clock changes.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sim_desk.exchange.files import sha256, write_file
from sim_desk.records.codes import ConsultationMechanism
from sim_desk.records.errors import PermissionDenied
from sim_desk.records.read_models import export_data
from sim_desk.records.unit_of_work import LOCAL_ZONE, UnlockedVault
from sim_desk.records.vault.audit import Action

Progress = Callable[[float, str], None]
PRODID = "-//SIM Desk//Planned visits//EN"
REFERENCE_DIGITS = 6


def reference(vault_id: uuid.UUID, person_id: uuid.UUID) -> str:
    """A short reference for a person in calendars from this vault, such as "3F9A2C"."""
    key = hashlib.sha256(b"sim-desk calendar reference|" + vault_id.bytes).digest()
    digest = hmac.new(key, person_id.bytes, hashlib.sha256).hexdigest()
    return digest[:REFERENCE_DIGITS].upper()


@dataclass(frozen=True)
class CalendarEvent:
    """One event as it will be written (what a wizard previews)."""

    uid: str
    summary: str
    description: str
    start: datetime  # aware, Europe/London
    duration_minutes: int
    reference: str


@dataclass(frozen=True)
class CalendarPlan:
    vault_id: uuid.UUID
    pair_ids: tuple[uuid.UUID, ...]
    title: str
    start: date
    end: date  # first day not included
    events: tuple[CalendarEvent, ...]


@dataclass(frozen=True)
class CalendarResult:
    destination: Path
    events: int
    sha256: str


def _event(vault_id: uuid.UUID, visit: export_data.CalendarVisit) -> CalendarEvent:
    ref = reference(vault_id, visit.person_id)
    who = f"{visit.initials} " if visit.initials else ""
    how = ConsultationMechanism(visit.mechanism).label
    return CalendarEvent(
        uid=f"{visit.visit_id}@sim-desk",
        summary=f"SIM visit: {who}(ref {ref})",
        description=f"Planned SIM visit ({how.lower()}). Reference {ref}. The details are in"
        " SIM Desk.",
        start=visit.due_at.astimezone(LOCAL_ZONE),
        duration_minutes=visit.duration_minutes,
        reference=ref,
    )


def plan_calendar(
    vault: UnlockedVault,
    *,
    pair_id: uuid.UUID | None = None,
    start: date | None = None,
    days: int = 90,
    progress: Progress | None = None,
) -> CalendarPlan:
    """The still-planned visits of a pair (or of all the user's pairs) from ``start``, as events.

    Raises:
        PermissionDenied: an analyst, or another pair's visits asked for by an officer or
            clinician.
        ValidationError: a team lead named no pair, or ``days`` is out of range (1 to 366).
    """
    if progress is not None:
        progress(0.0, "Reading planned visits")
    found = export_data.calendar_visits(vault, pair_id=pair_id, start=start, days=days)
    if progress is not None:
        progress(1.0, "Ready to write")
    return CalendarPlan(
        vault_id=vault.vault_id,
        pair_ids=found.pair_ids,
        title="SIM visits: " + ", ".join(found.pair_names),
        start=found.start,
        end=found.end,
        events=tuple(_event(vault.vault_id, v) for v in found.visits),
    )


def calendar_bytes(plan: CalendarPlan, *, stamp: datetime) -> bytes:
    """The .ics file: one VEVENT per visit, a VTIMEZONE for Europe/London."""
    from icalendar import Calendar, Event  # imported on first use

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", plan.title)
    calendar.add("x-wr-timezone", "Europe/London")
    for item in plan.events:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", item.start)
        event.add("duration", timedelta(minutes=item.duration_minutes))
        event.add("summary", item.summary)
        event.add("description", item.description)
        event.add("class", "CONFIDENTIAL")  # shown as private to anyone the calendar is shared with
        event.add("transp", "OPAQUE")
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    # Transitions from a year before the first visit to a year after the last: enough for any
    # calendar, and far smaller than the zone's whole history.
    calendar.add_missing_timezones(
        first_date=date(plan.start.year - 1, 1, 1), last_date=date(plan.end.year + 2, 1, 1)
    )
    return bytes(calendar.to_ical())


def write_calendar(
    vault: UnlockedVault, plan: CalendarPlan, destination: Path, *, progress: Progress | None = None
) -> CalendarResult:
    """Writes the .ics file atomically, owner-only (0600), with one audit entry and its hash.

    Raises:
        PermissionDenied: the plan is from another vault.
        ValidationError: the destination is a folder, or its folder does not exist.
    """
    if plan.vault_id != vault.vault_id:
        raise PermissionDenied("This calendar was prepared from another vault; prepare it again.")
    vault.require_role(*export_data.CALENDAR_USERS, doing="export planned visits to a calendar")
    destination = Path(destination)
    if progress is not None:
        progress(0.0, "Writing the calendar")
    data = calendar_bytes(plan, stamp=vault.now())
    digest = sha256(data)

    def commit(rename: Callable[[], None]) -> None:
        with vault.write() as session:
            vault.audit(
                session,
                Action.EXPORT,
                "calendar",
                None,
                kind="calendar",
                events=len(plan.events),
                pairs=list(plan.pair_ids),
                days=(plan.end - plan.start).days,
                ics=digest,
            )
            rename()

    write_file(destination, data, commit)
    if progress is not None:
        progress(1.0, "Done")
    return CalendarResult(destination, len(plan.events), digest)


def export_calendar(
    vault: UnlockedVault,
    destination: Path,
    *,
    pair_id: uuid.UUID | None = None,
    start: date | None = None,
    days: int = 90,
) -> CalendarResult:
    """Plans and writes in one go (the command line's ``sim-desk calendar``)."""
    plan = plan_calendar(vault, pair_id=pair_id, start=start, days=days)
    return write_calendar(vault, plan, destination)
