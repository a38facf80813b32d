"""Incidents as read: lists, one incident in full, and the stays that take time out of risk."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sim_desk.records import outcomes
from sim_desk.records.codes import (
    Conveyance,
    IncidentSource,
    IncidentType,
    LegalAction,
    PlaceOfSafety,
    S136Outcome,
)
from sim_desk.records.dates import age_on
from sim_desk.records.errors import NotFound
from sim_desk.records.incidents.recording import next_revision
from sim_desk.records.model import (
    Incident,
    IncidentRevision,
    S136Episode,
)
from sim_desk.records.people import load_person
from sim_desk.records.unit_of_work import UnlockedVault, local_date

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
        corrections = next_revision(session, IncidentRevision.incident_id, incident.id) - 1
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
