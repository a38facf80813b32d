"""Use cases for incidents: crisis events and harms, s136 episodes, baseline counts, disclosures.

Demand (s136, 999 calls, A&E, admissions …) and harms (self-harm, complaints, police or legal
action …) are both incidents, so that a report can never show demand without harms beside it.

Every Section 136 detention has exactly one episode row. When only the event is known (an import
from a police spreadsheet), the episode holds the detention time and leaves the rest unknown,
rather than the detention being counted without any of its detail.

Times are stored as UTC; dates people reason about (discharge, age at detention, "not before the
date of birth") are UK dates.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sim_desk.records import outcomes
from sim_desk.records.audit import Action
from sim_desk.records.codes import (
    Conveyance,
    IncidentSource,
    IncidentType,
    LawfulBasis,
    LegalAction,
    PersonAsked,
    PlaceOfSafety,
    S136Outcome,
)
from sim_desk.records.errors import NotFound, PermissionDenied, ValidationError
from sim_desk.records.model import (
    BaselineCount,
    BaselineCountRevision,
    Disclosure,
    Incident,
    IncidentRevision,
    Person,
    PlaceOfSafetyUse,
    S136Episode,
    User,
)
from sim_desk.records.people import CASEWORKERS, load_person
from sim_desk.records.unlocked import UnlockedVault, local_date
from sim_desk.records.validation import (
    check_count,
    check_moment_not_future,
    check_not_future,
    check_order,
    clean_text,
)

MAX_SUMMARY_CHARS = 2_000
#: The Mental Health Act allows the 24 hours of a s136 detention to be extended by up to 12.
MAX_EXTENSION_HOURS = 12
MAX_PLACES_OF_SAFETY = 10
#: Since the Policing and Crime Act 2017, a police station is never a place of safety for a child.
ADULT_AGE = 18


def age_on(date_of_birth: date, day: date) -> int:
    """Age in whole years on ``day``."""
    birthday_to_come = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - birthday_to_come


# -- details, as entered --------------------------------------------------------------------


@dataclass
class S136Details:
    """The detail of a Section 136 detention. ``places`` are (place code, arrival or None), in
    the order they were used."""

    detained_at: datetime
    health_professional_consulted: bool | None = None
    conveyance: str | None = None
    arrived_at: datetime | None = None
    extension_hours: int | None = None
    outcome: str | None = None
    places: list[tuple[str, datetime | None]] = field(default_factory=list)


@dataclass
class IncidentDetails:
    """Everything a form (or an import row) says about an incident."""

    occurred_at: datetime
    incident_type: str
    source: str
    custody: bool = False
    ended_on: date | None = None
    legal_action: str | None = None
    source_reference: str | None = None
    summary: str | None = None
    s136: S136Details | None = None


@dataclass(frozen=True)
class _Episode:
    detained_at: datetime
    health_professional_consulted: bool | None = None
    conveyance: str | None = None
    arrived_at: datetime | None = None
    extension_hours: int | None = None
    outcome: str | None = None
    places: tuple[tuple[str, datetime | None], ...] = ()

    @classmethod
    def from_row(cls, episode: S136Episode) -> _Episode:
        return cls(
            episode.detained_at,
            episode.health_professional_consulted,
            episode.conveyance,
            episode.arrived_at,
            episode.extension_hours,
            episode.outcome,
            tuple((p.place, p.arrived_at) for p in episode.places),
        )


EPISODE_FIELDS = (
    "detained_at",
    "health_professional_consulted",
    "conveyance",
    "arrived_at",
    "extension_hours",
    "outcome",
)


@dataclass(frozen=True)
class _Clean:
    values: dict[str, Any]  # incident columns
    episode: _Episode | None  # the s136 detail given, if any


# -- validation -----------------------------------------------------------------------------


def _moment(value: object, vault: UnlockedVault, *, field: str, label: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError(f"{label}: enter a date and time.", field)
    check_moment_not_future(value, now=vault.now(), field=field, label=label)
    return value


def _optional_bool(value: object, *, field: str, label: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValidationError(f"{label}: answer yes, no, or leave it as not known.", field)
    return value


def _clean_episode(vault: UnlockedVault, s136: S136Details) -> _Episode:
    detained = _moment(s136.detained_at, vault, field="detained_at", label="Time detained")
    arrived = None
    if s136.arrived_at is not None:
        arrived = _moment(s136.arrived_at, vault, field="arrived_at", label="Arrival time")
        if arrived < detained:
            raise ValidationError(
                "Arrival time: it is before the time of detention; check both times.", "arrived_at"
            )
    hours = s136.extension_hours
    if hours is not None:
        if isinstance(hours, bool) or not isinstance(hours, int):
            raise ValidationError("Extension: enter whole hours.", "extension_hours")
        if not 0 <= hours <= MAX_EXTENSION_HOURS:
            raise ValidationError(
                f"Extension: the Mental Health Act allows an extension of 0 to"
                f" {MAX_EXTENSION_HOURS} hours beyond the 24; check the figure.",
                "extension_hours",
            )
    if len(s136.places) > MAX_PLACES_OF_SAFETY:
        raise ValidationError(
            f"Places of safety: at most {MAX_PLACES_OF_SAFETY} can be recorded.", "places"
        )
    places: list[tuple[str, datetime | None]] = []
    previous = detained
    for number, item in enumerate(s136.places, start=1):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValidationError(
                f"Place of safety {number}: give the place and its arrival time (or none).",
                "places",
            )
        code = PlaceOfSafety.parse(str(item[0]), field="places").value
        when = None
        if item[1] is not None:
            when = _moment(item[1], vault, field="places", label=f"Place of safety {number}")
            if when < previous:
                raise ValidationError(
                    f"Place of safety {number}: the arrival is before the detention or the"
                    " place before it; list the places in the order they were used.",
                    "places",
                )
            previous = when
        places.append((code, when))
    return _Episode(
        detained_at=detained,
        health_professional_consulted=_optional_bool(
            s136.health_professional_consulted,
            field="health_professional_consulted",
            label="Health professional consulted",
        ),
        conveyance=None
        if s136.conveyance is None
        else Conveyance.parse(s136.conveyance, field="conveyance").value,
        arrived_at=arrived,
        extension_hours=hours,
        outcome=None
        if s136.outcome is None
        else S136Outcome.parse(s136.outcome, field="outcome").value,
        places=tuple(places),
    )


def _clean_incident(vault: UnlockedVault, details: IncidentDetails) -> _Clean:
    occurred = _moment(details.occurred_at, vault, field="occurred_at", label="Date and time")
    kind = IncidentType.parse(str(details.incident_type), field="incident_type")
    source = IncidentSource.parse(str(details.source), field="source")
    if not isinstance(details.custody, bool):
        raise ValidationError("Custody: answer yes or no.", "custody")
    ended = details.ended_on
    if ended is not None:
        if isinstance(ended, datetime) or not isinstance(ended, date):
            raise ValidationError("End date: enter a date.", "ended_on")
        if kind != IncidentType.MH_ADMISSION and not details.custody:
            raise ValidationError(
                "End date: only a mental-health admission (the discharge date) or time in custody"
                " (the release date) has one; leave it blank for this incident.",
                "ended_on",
            )
        check_not_future(ended, today=vault.today(), field="ended_on", label="End date")
        check_order(
            local_date(occurred),
            ended,
            field="ended_on",
            message="End date: it is before the incident's date; check both dates.",
        )
    legal = None
    if kind == IncidentType.POLICE_LEGAL_ACTION:
        if details.legal_action is None or not str(details.legal_action).strip():
            raise ValidationError(
                "Legal action: say which (community protection notice, behaviour order,"
                " prosecution or other).",
                "legal_action",
            )
        legal = LegalAction.parse(str(details.legal_action), field="legal_action").value
    elif details.legal_action is not None and str(details.legal_action).strip():
        raise ValidationError(
            "Legal action: only a 'Police or legal action' incident has one; change the type or"
            " leave it blank.",
            "legal_action",
        )
    episode = None
    if details.s136 is not None:
        if kind != IncidentType.S136:
            raise ValidationError(
                "Section 136 details: only a Section 136 detention has them; change the type or"
                " leave them out.",
                "s136",
            )
        episode = _clean_episode(vault, details.s136)
    values = {
        "occurred_at": occurred,
        "incident_type": kind.value,
        "source": source.value,
        "custody": details.custody,
        "ended_on": ended,
        "legal_action": legal,
        "source_reference": clean_text(
            details.source_reference,
            field="source_reference",
            label="Source reference",
            max_chars=100,
        ),
        "summary": clean_text(
            details.summary,
            field="summary",
            label="Summary",
            max_chars=MAX_SUMMARY_CHARS,
            multiline=True,
        ),
    }
    return _Clean(values, episode)


def _check_for_person(person: Person, occurred_at: datetime, episode: _Episode | None) -> None:
    """The checks that need the person: nothing before birth, no police station for a child."""
    dob = person.date_of_birth
    if dob is None:
        return  # allowed; the episode view flags a police station used at an unknown age
    if local_date(occurred_at) < dob:
        raise ValidationError(
            "Date and time: it is before this person's date of birth; check the year.",
            "occurred_at",
        )
    if episode is None:
        return
    detained_on = local_date(episode.detained_at)
    if detained_on < dob:
        raise ValidationError(
            "Time detained: it is before this person's date of birth; check the year.",
            "detained_at",
        )
    police_station = PlaceOfSafety.POLICE_STATION.value
    if age_on(dob, detained_on) < ADULT_AGE and any(p == police_station for p, _ in episode.places):
        raise ValidationError(
            "Places of safety: a police station must never be used as a place of safety for"
            " someone under 18, and this person was under 18 when detained. Check the date of"
            " birth and the places; if a child really was held at a police station, tell your"
            " team lead so it is raised as a safeguarding concern.",
            "places",
        )


def validate_incident(vault: UnlockedVault, person: Person, details: IncidentDetails) -> None:
    """Raises ValidationError if ``details`` cannot be recorded for ``person``; writes nothing.

    Used by importers to check every row before anything is written.
    """
    clean = _clean_incident(vault, details)
    episode = clean.episode
    if episode is None and clean.values["incident_type"] == IncidentType.S136.value:
        episode = _Episode(clean.values["occurred_at"])
    _check_for_person(person, clean.values["occurred_at"], episode)


def _add_episode(session: Session, incident: Incident, episode: _Episode, by: Any) -> None:
    row = S136Episode(
        incident_id=incident.id,
        created_by=by,
        **{name: getattr(episode, name) for name in EPISODE_FIELDS},
    )
    session.add(row)
    session.flush()
    _add_places(session, row, episode.places, by)


def _add_places(
    session: Session,
    episode: S136Episode,
    places: tuple[tuple[str, datetime | None], ...],
    by: Any,
) -> None:
    for sequence, (place, arrived) in enumerate(places, start=1):
        session.add(
            PlaceOfSafetyUse(
                episode_id=episode.id,
                sequence=sequence,
                place=place,
                arrived_at=arrived,
                created_by=by,
            )
        )


def _add_incident(
    vault: UnlockedVault, session: Session, person: Person, details: IncidentDetails
) -> Incident:
    """Validates and adds an incident (and its s136 episode) in the caller's transaction.

    The caller has already checked that this user may see ``person``, and audits the change.
    """
    clean = _clean_incident(vault, details)
    occurred: datetime = clean.values["occurred_at"]
    episode = clean.episode
    if episode is None and clean.values["incident_type"] == IncidentType.S136.value:
        episode = _Episode(occurred)
    _check_for_person(person, occurred, episode)
    incident = Incident(person_id=person.id, created_by=vault.actor.user_id, **clean.values)
    session.add(incident)
    session.flush()
    if episode is not None:
        _add_episode(session, incident, episode, vault.actor.user_id)
    return incident


# -- use cases: incidents -------------------------------------------------------------------


def record_incident(
    vault: UnlockedVault, person_id: uuid.UUID, details: IncidentDetails
) -> uuid.UUID:
    """Records an incident for a person on this user's caseload; returns its id."""
    vault.require_role(*CASEWORKERS, doing="record incidents")
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        incident = _add_incident(vault, session, person, details)
        vault.audit(
            session,
            Action.CREATE,
            "incident",
            incident.id,
            person=person.id,
            type=incident.incident_type,
        )
        return incident.id


def update_incident(
    vault: UnlockedVault,
    incident_id: uuid.UUID,
    details: IncidentDetails,
    *,
    reason: str | None = None,
) -> list[str]:
    """Saves a correction; returns (and audits) the names of the fields that changed.

    What the incident said before (its s136 detail and places included) is kept as a revision
    with ``reason``, as for contacts; a "correction" that changes nothing keeps none.
    ``details.s136`` of None keeps the s136 episode as it is, so correcting the summary does not
    wipe the detention's detail. Changing the type away from s136 removes its episode.
    """
    vault.require_role(*CASEWORKERS, doing="correct incidents")
    clean = _clean_incident(vault, details)
    why = _reason(reason)
    with vault.write() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("That incident was not found. It may have been moved or restored.")
        person = load_person(vault, session, incident.person_id)
        occurred: datetime = clean.values["occurred_at"]
        existing = incident.episode
        target: _Episode | None = None
        if clean.values["incident_type"] == IncidentType.S136.value:
            if clean.episode is not None:
                target = clean.episode
            elif existing is not None:
                target = _Episode.from_row(existing)
                if target.detained_at == incident.occurred_at:  # it followed the incident time
                    target = dataclasses.replace(target, detained_at=occurred)
            else:
                target = _Episode(occurred)
        _check_for_person(person, occurred, target)
        before = _incident_fields(incident)
        changed = [name for name, value in clean.values.items() if getattr(incident, name) != value]
        for name in changed:
            setattr(incident, name, clean.values[name])
        by = vault.actor.user_id
        if target is None and existing is not None:
            for place in existing.places:
                session.delete(place)
            session.delete(existing)
            changed.append("s136")
        elif target is not None and existing is None:
            _add_episode(session, incident, target, by)
            changed.append("s136")
        elif target is not None and existing is not None:
            for name in EPISODE_FIELDS:
                if getattr(existing, name) != getattr(target, name):
                    setattr(existing, name, getattr(target, name))
                    changed.append(f"s136.{name}")
            if tuple((p.place, p.arrived_at) for p in existing.places) != target.places:
                for place in existing.places:
                    session.delete(place)
                session.flush()
                _add_places(session, existing, target.places, by)
                changed.append("s136.places")
        if changed:
            revision = _next_revision(session, IncidentRevision.incident_id, incident.id)
            session.add(
                IncidentRevision(
                    incident_id=incident.id,
                    revision=revision,
                    fields=before,
                    reason=why,
                    created_by=by,
                )
            )
            vault.audit(
                session,
                Action.UPDATE,
                "incident",
                incident.id,
                person=person.id,
                fields=changed,
                revision=revision + 1,
            )
        return changed


def _reason(reason: str | None) -> str | None:
    return clean_text(
        reason, field="reason", label="Reason for the correction", max_chars=2_000, multiline=True
    )


def _next_revision(session: Session, column: Any, row_id: uuid.UUID) -> int:
    """The number of the version being replaced: 1 for the first correction."""
    kept = session.execute(select(func.count()).where(column == row_id)).scalar_one()
    return int(kept) + 1


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _incident_fields(incident: Incident) -> dict[str, Any]:
    """The incident as it is now, as JSON (for a revision)."""
    fields: dict[str, Any] = {
        name: _iso(getattr(incident, name))
        for name in (
            "occurred_at",
            "incident_type",
            "source",
            "custody",
            "ended_on",
            "legal_action",
            "source_reference",
            "summary",
        )
    }
    episode = incident.episode
    fields["s136"] = (
        None
        if episode is None
        else {
            **{name: _iso(getattr(episode, name)) for name in EPISODE_FIELDS},
            "places": [[p.place, _iso(p.arrived_at)] for p in episode.places],
        }
    )
    return fields


@dataclass(frozen=True)
class RevisionView:
    """An earlier version of a corrected incident or baseline count: what it said, who replaced
    it, when and why. ``fields`` are stored values (codes, ISO dates)."""

    revision: int
    saved_at: datetime
    saved_by: str
    fields: dict[str, Any]
    reason: str | None


def _history(session: Session, model: Any, column: Any, row_id: uuid.UUID) -> list[RevisionView]:
    rows = session.execute(
        select(model, User.display_name)
        .outerjoin(User, User.id == model.created_by)
        .where(column == row_id)
        .order_by(model.revision)
    ).all()
    return [
        RevisionView(r.revision, r.created_at, name or "recovery key", dict(r.fields), r.reason)
        for r, name in rows
    ]


def incident_history(vault: UnlockedVault, incident_id: uuid.UUID) -> list[RevisionView]:
    """Earlier versions of a corrected incident, oldest first."""
    with vault.read() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("That incident was not found. It may have been moved or restored.")
        load_person(vault, session, incident.person_id)
        return _history(session, IncidentRevision, IncidentRevision.incident_id, incident_id)


def incident_details(vault: UnlockedVault, incident_id: uuid.UUID) -> IncidentDetails:
    """The incident as form values, for a correction form."""
    with vault.read() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("That incident was not found. It may have been moved or restored.")
        load_person(vault, session, incident.person_id)
        episode = incident.episode
        s136 = None
        if episode is not None:
            s136 = S136Details(
                **{name: getattr(episode, name) for name in EPISODE_FIELDS},
                places=[(p.place, p.arrived_at) for p in episode.places],
            )
        return IncidentDetails(
            occurred_at=incident.occurred_at,
            incident_type=incident.incident_type,
            source=incident.source,
            custody=incident.custody,
            ended_on=incident.ended_on,
            legal_action=incident.legal_action,
            source_reference=incident.source_reference,
            summary=incident.summary,
            s136=s136,
        )


# -- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentView:
    id: uuid.UUID
    person_id: uuid.UUID
    occurred_at: datetime
    incident_type: IncidentType
    source: IncidentSource
    custody: bool
    ended_on: date | None
    legal_action: LegalAction | None
    source_reference: str | None
    summary: str | None
    recorded_by: uuid.UUID | None
    #: How many times it was corrected (earlier versions kept: ``incident_history``).
    corrections: int = 0

    @property
    def is_harm(self) -> bool:
        return self.incident_type.is_harm


@dataclass(frozen=True)
class PlaceOfSafetyView:
    place: PlaceOfSafety
    arrived_at: datetime | None


@dataclass(frozen=True)
class EpisodeView:
    """A s136 episode. ``police_station_age_unknown`` flags a police station used as a place of
    safety when the date of birth is not recorded, so no one could check the person was 18."""

    detained_at: datetime
    health_professional_consulted: bool | None
    conveyance: Conveyance | None
    arrived_at: datetime | None
    extension_hours: int | None
    outcome: S136Outcome | None
    places: tuple[PlaceOfSafetyView, ...]
    age_at_detention: int | None
    police_station_age_unknown: bool

    @property
    def police_station_used(self) -> bool:
        return any(p.place == PlaceOfSafety.POLICE_STATION for p in self.places)


@dataclass(frozen=True)
class IncidentDetail:
    incident: IncidentView
    episode: EpisodeView | None


def _view(incident: Incident, corrections: int = 0) -> IncidentView:
    return IncidentView(
        id=incident.id,
        person_id=incident.person_id,
        occurred_at=incident.occurred_at,
        incident_type=IncidentType(incident.incident_type),
        source=IncidentSource(incident.source),
        custody=incident.custody,
        ended_on=incident.ended_on,
        legal_action=LegalAction(incident.legal_action) if incident.legal_action else None,
        source_reference=incident.source_reference,
        summary=incident.summary,
        recorded_by=incident.created_by,
        corrections=corrections,
    )


def _episode_view(episode: S136Episode, date_of_birth: date | None) -> EpisodeView:
    places = tuple(PlaceOfSafetyView(PlaceOfSafety(p.place), p.arrived_at) for p in episode.places)
    age = None if date_of_birth is None else age_on(date_of_birth, local_date(episode.detained_at))
    police_station = any(p.place == PlaceOfSafety.POLICE_STATION for p in places)
    return EpisodeView(
        detained_at=episode.detained_at,
        health_professional_consulted=episode.health_professional_consulted,
        conveyance=Conveyance(episode.conveyance) if episode.conveyance else None,
        arrived_at=episode.arrived_at,
        extension_hours=episode.extension_hours,
        outcome=S136Outcome(episode.outcome) if episode.outcome else None,
        places=places,
        age_at_detention=age,
        police_station_age_unknown=police_station and age is None,
    )


def list_incidents(vault: UnlockedVault, person_id: uuid.UUID) -> list[IncidentView]:
    """A person's incidents (demand and harms), newest first."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        corrections = (
            select(IncidentRevision.incident_id, func.count().label("n"))
            .join(Incident, Incident.id == IncidentRevision.incident_id)
            .where(Incident.person_id == person_id)
            .group_by(IncidentRevision.incident_id)
            .subquery()
        )
        rows = session.execute(
            select(Incident, corrections.c.n)
            .outerjoin(corrections, corrections.c.incident_id == Incident.id)
            .where(Incident.person_id == person_id)
            .order_by(Incident.occurred_at.desc(), Incident.created_at.desc())
        ).all()
        return [_view(i, n or 0) for i, n in rows]


def incident_detail(vault: UnlockedVault, incident_id: uuid.UUID) -> IncidentDetail:
    """One incident with its s136 episode and places of safety, in the order used."""
    with vault.read() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("That incident was not found. It may have been moved or restored.")
        person = load_person(vault, session, incident.person_id)
        episode = incident.episode
        corrections = _next_revision(session, IncidentRevision.incident_id, incident.id) - 1
        return IncidentDetail(
            _view(incident, corrections),
            None if episode is None else _episode_view(episode, person.date_of_birth),
        )


_ADMISSION = IncidentType.MH_ADMISSION.value  # read once: stay_for runs for every incident


def stay_for(
    incident_type: str, occurred_on: date, custody: bool, ended_on: date | None
) -> outcomes.Stay | None:
    """Time not at risk: a hospital admission until discharge (open while none is recorded), or
    custody until release (a same-day release costs no night)."""
    if incident_type == _ADMISSION:
        return outcomes.Stay(occurred_on, ended_on)
    if custody:
        return outcomes.Stay(occurred_on, ended_on or occurred_on)
    return None


def stays_for(session: Session, person_id: uuid.UUID) -> list[tuple[date, date | None]]:
    """Hospital admissions and custody, as (first day, day out or None), oldest first.

    For person-time at risk (see ``outcomes.Stay``). An admission without a discharge date is
    taken as still going on (None): the person is in hospital until a discharge is recorded.
    Custody without a release date is a same-day stay (no night away). The caller has already
    checked access to the person.
    """
    rows = session.execute(
        select(Incident.occurred_at, Incident.incident_type, Incident.ended_on)
        .where(
            Incident.person_id == person_id,
            or_(Incident.incident_type == IncidentType.MH_ADMISSION.value, Incident.custody),
        )
        .order_by(Incident.occurred_at)
    ).all()
    stays: list[tuple[date, date | None]] = []
    for occurred, kind, ended in rows:
        stay = stay_for(kind, local_date(occurred), True, ended)
        if stay is not None:
            stays.append((stay.start, stay.end))
    return stays


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
    why = _reason(reason)
    with vault.write() as session:
        row = session.get(BaselineCount, count_id)
        if row is None:
            raise NotFound("That baseline count was not found. It may have been restored away.")
        person = load_person(vault, session, row.person_id)
        _check_baseline_for(vault, session, person, clean, other_than=row.id)
        before = {name: _iso(getattr(row, name)) for name in _BASELINE_FIELDS}
        changed = [n for n in _BASELINE_FIELDS if getattr(row, n) != getattr(clean, n)]
        if not changed:
            return []
        revision = _next_revision(session, BaselineCountRevision.baseline_count_id, row.id)
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
        return _history(
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


# -- information shared with police ---------------------------------------------------------


@dataclass
class DisclosureDetails:
    shared_at: datetime
    what: str
    why: str
    lawful_basis: str
    person_asked: str
    shared_with: str | None = None


@dataclass(frozen=True)
class DisclosureView:
    id: uuid.UUID
    shared_at: datetime
    what: str
    why: str
    lawful_basis: LawfulBasis
    person_asked: PersonAsked
    shared_with: str | None
    recorded_by: str


def record_disclosure(
    vault: UnlockedVault, person_id: uuid.UUID, details: DisclosureDetails
) -> uuid.UUID:
    """Logs health information shared with police. Only clinical-key holders share it."""
    vault.require_role(*CASEWORKERS, doing="record information shared with police")
    if not vault.has_clinical_key:
        raise PermissionDenied(
            "Only clinicians and clinical leads can record health information shared with"
            " police. Ask the clinician in the pair to record it."
        )
    shared_at = _moment(details.shared_at, vault, field="shared_at", label="When shared")
    what = clean_text(
        details.what,
        field="what",
        label="What was shared",
        max_chars=MAX_SUMMARY_CHARS,
        required=True,
        multiline=True,
    )
    why = clean_text(
        details.why,
        field="why",
        label="Why it was shared",
        max_chars=MAX_SUMMARY_CHARS,
        required=True,
        multiline=True,
    )
    basis = LawfulBasis.parse(str(details.lawful_basis), field="lawful_basis")
    asked = PersonAsked.parse(str(details.person_asked), field="person_asked")
    shared_with = clean_text(
        details.shared_with, field="shared_with", label="Shared with", max_chars=200
    )
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        row = Disclosure(
            person_id=person.id,
            shared_at=shared_at,
            what=what,
            why=why,
            lawful_basis=basis.value,
            person_asked=asked.value,
            shared_with=shared_with,
            created_by=vault.actor.user_id,
        )
        session.add(row)
        session.flush()
        vault.audit(
            session,
            Action.CREATE,
            "disclosure",
            row.id,
            person=person.id,
            basis=basis.value,
            asked=asked.value,
        )
        return row.id


def list_disclosures(vault: UnlockedVault, person_id: uuid.UUID) -> list[DisclosureView]:
    """What was shared with police about a person, newest first. Officers may list it: it is
    what was shared with them."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        rows = session.execute(
            select(Disclosure, User.display_name)
            .outerjoin(User, User.id == Disclosure.created_by)
            .where(Disclosure.person_id == person_id)
            .order_by(Disclosure.shared_at.desc())
        ).all()
        return [
            DisclosureView(
                d.id,
                d.shared_at,
                d.what,
                d.why,
                LawfulBasis(d.lawful_basis),
                PersonAsked(d.person_asked),
                d.shared_with,
                name or "recovery key",
            )
            for d, name in rows
        ]
