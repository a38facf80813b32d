"""Use cases: record an incident and correct it, keeping each earlier version."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sim_desk.records.codes import (
    IncidentType,
)
from sim_desk.records.errors import NotFound
from sim_desk.records.incidents.details import (
    EPISODE_FIELDS,
    Episode,
    IncidentDetails,
    S136Details,
    check_for_person,
    clean_incident,
)
from sim_desk.records.model import (
    Incident,
    IncidentRevision,
    Person,
    PlaceOfSafetyUse,
    S136Episode,
    User,
)
from sim_desk.records.people import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import (
    clean_text,
)
from sim_desk.records.vault.audit import Action


def _add_episode(session: Session, incident: Incident, episode: Episode, by: Any) -> None:
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


def _revise_places(
    session: Session,
    episode: S136Episode,
    places: tuple[tuple[str, datetime | None], ...],
    by: Any,
) -> None:
    """Corrects the places in place: the row at each position keeps its id and takes the new
    values, so that another laptop's edit of the same row merges field by field instead of
    meeting a row that was deleted and made again; only places beyond the new list go."""
    current = sorted(episode.places, key=lambda p: p.sequence)
    for sequence, (place, arrived) in enumerate(places, start=1):
        if sequence <= len(current):
            row = current[sequence - 1]
            if (row.place, row.arrived_at, row.sequence) != (place, arrived, sequence):
                row.place, row.arrived_at, row.sequence = place, arrived, sequence
        else:
            session.add(
                PlaceOfSafetyUse(
                    episode_id=episode.id,
                    sequence=sequence,
                    place=place,
                    arrived_at=arrived,
                    created_by=by,
                )
            )
    for row in current[len(places) :]:
        session.delete(row)


def _add_incident(
    vault: UnlockedVault, session: Session, person: Person, details: IncidentDetails
) -> Incident:
    """Validates and adds an incident (and its s136 episode) in the caller's transaction.

    The caller has already checked that this user may see ``person``, and audits the change.
    """
    clean = clean_incident(vault, details)
    occurred: datetime = clean.values["occurred_at"]
    episode = clean.episode
    if episode is None and clean.values["incident_type"] == IncidentType.S136.value:
        episode = Episode(occurred)
    check_for_person(person, occurred, episode)
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
    clean = clean_incident(vault, details)
    why = correction_reason(reason)
    with vault.write() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("That incident was not found. It may have been moved or restored.")
        person = load_person(vault, session, incident.person_id)
        occurred: datetime = clean.values["occurred_at"]
        existing = incident.episode
        target: Episode | None = None
        if clean.values["incident_type"] == IncidentType.S136.value:
            if clean.episode is not None:
                target = clean.episode
            elif existing is not None:
                target = Episode.from_row(existing)
                if target.detained_at == incident.occurred_at:  # it followed the incident time
                    target = dataclasses.replace(target, detained_at=occurred)
            else:
                target = Episode(occurred)
        check_for_person(person, occurred, target)
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
                _revise_places(session, existing, target.places, by)
                changed.append("s136.places")
        if changed:
            revision = next_revision(session, IncidentRevision.incident_id, incident.id)
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


def correction_reason(reason: str | None) -> str | None:
    return clean_text(
        reason, field="reason", label="Reason for the correction", max_chars=2_000, multiline=True
    )


def next_revision(session: Session, column: Any, row_id: uuid.UUID) -> int:
    """The number of the version being replaced: 1 for the first correction."""
    kept = session.execute(select(func.count()).where(column == row_id)).scalar_one()
    return int(kept) + 1


def plain_value(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _incident_fields(incident: Incident) -> dict[str, Any]:
    """The incident as it is now, as JSON (for a revision)."""
    fields: dict[str, Any] = {
        name: plain_value(getattr(incident, name))
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
            **{name: plain_value(getattr(episode, name)) for name in EPISODE_FIELDS},
            "places": [[p.place, plain_value(p.arrived_at)] for p in episode.places],
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


def revision_history(
    session: Session, model: Any, column: Any, row_id: uuid.UUID
) -> list[RevisionView]:
    rows = session.execute(
        select(model, User.display_name)
        .outerjoin(User, User.id == model.created_by)
        .where(column == row_id)
        # by when, not by number: two laptops amending offline can both take the same number
        .order_by(model.created_at, model.revision, model.id)
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
        return revision_history(
            session, IncidentRevision, IncidentRevision.incident_id, incident_id
        )


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
