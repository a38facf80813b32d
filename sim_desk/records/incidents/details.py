"""Incidents as entered, and the checks they pass before anything is saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sim_desk.records.codes import (
    Conveyance,
    IncidentSource,
    IncidentType,
    LegalAction,
    PlaceOfSafety,
    S136Outcome,
)
from sim_desk.records.dates import age_on
from sim_desk.records.errors import ValidationError
from sim_desk.records.model import (
    Person,
    S136Episode,
)
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.records.validation import (
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
class Episode:
    detained_at: datetime
    health_professional_consulted: bool | None = None
    conveyance: str | None = None
    arrived_at: datetime | None = None
    extension_hours: int | None = None
    outcome: str | None = None
    places: tuple[tuple[str, datetime | None], ...] = ()

    @classmethod
    def from_row(cls, episode: S136Episode) -> Episode:
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
    episode: Episode | None  # the s136 detail given, if any


# -- validation -----------------------------------------------------------------------------


def checked_moment(value: object, vault: UnlockedVault, *, field: str, label: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError(f"{label}: enter a date and time.", field)
    check_moment_not_future(value, now=vault.now(), field=field, label=label)
    return value


def _optional_bool(value: object, *, field: str, label: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValidationError(f"{label}: answer yes, no, or leave it as not known.", field)
    return value


def _clean_episode(vault: UnlockedVault, s136: S136Details) -> Episode:
    detained = checked_moment(s136.detained_at, vault, field="detained_at", label="Time detained")
    arrived = None
    if s136.arrived_at is not None:
        arrived = checked_moment(s136.arrived_at, vault, field="arrived_at", label="Arrival time")
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
            when = checked_moment(item[1], vault, field="places", label=f"Place of safety {number}")
            if when < previous:
                raise ValidationError(
                    f"Place of safety {number}: the arrival is before the detention or the"
                    " place before it; list the places in the order they were used.",
                    "places",
                )
            previous = when
        places.append((code, when))
    return Episode(
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


def clean_incident(vault: UnlockedVault, details: IncidentDetails) -> _Clean:
    occurred = checked_moment(
        details.occurred_at, vault, field="occurred_at", label="Date and time"
    )
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


def check_for_person(person: Person, occurred_at: datetime, episode: Episode | None) -> None:
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
    clean = clean_incident(vault, details)
    episode = clean.episode
    if episode is None and clean.values["incident_type"] == IncidentType.S136.value:
        episode = Episode(clean.values["occurred_at"])
    check_for_person(person, clean.values["occurred_at"], episode)
