"""Bulk paths: many contacts, incidents or visit plans in one statement per table.

For builders of large vaults (the stress vault in ``benchmarks/``, a later migration from another
system). The use cases add one row at a time, each in its own savepoint with an audit entry of its
own: right for someone at a keyboard, but about 6 ms a contact, so half a million contacts would
take most of an hour and the audit log would grow by as many entries again.

Each function here runs the same checks as the use case it stands for (it calls the same
validators, so a rule changed there is changed here), refuses the whole call on the first bad
item (nothing is written), then inserts every row with one executemany per table and appends
**one** audit entry that summarises the action: what kind of record, how many, and the ids of the
people concerned. Like a use case it runs in :meth:`UnlockedVault.write`, so inside
:meth:`UnlockedVault.batch` it joins the batch's transaction.

Nothing in the GUI calls these: people at the keyboard go through the use cases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from sim_desk.records import contacts, incidents, visits
from sim_desk.records.codes import IncidentType, PlannedVisitStatus
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import ValidationError
from sim_desk.records.incidents import EPISODE_FIELDS, IncidentDetails
from sim_desk.records.model import (
    Contact,
    Incident,
    Person,
    PlaceOfSafetyUse,
    PlannedVisit,
    S136Episode,
    VisitPlan,
)
from sim_desk.records.people import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.records.validation import check_order, clean_text
from sim_desk.records.vault.audit import Action
from sim_desk.records.visits import PlanDetails

#: Bound parameters per IN list (SQLite allows 32,766; stay well clear).
_IN_BATCH = 500


def _chunks(items: Sequence[Any], size: int = _IN_BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _people(
    vault: UnlockedVault, session: Session, person_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Person]:
    """Each person once, with the same access check as every use case."""
    return {pid: load_person(vault, session, pid) for pid in dict.fromkeys(person_ids)}


def _tracked(vault: UnlockedVault, now: datetime) -> dict[str, Any]:
    return {"created_at": now, "updated_at": now, "created_by": vault.actor.user_id}


def _audit(
    vault: UnlockedVault,
    session: Session,
    entity_type: str,
    count: int,
    people: Iterable[uuid.UUID],
) -> None:
    vault.audit(
        session,
        Action.CREATE,
        entity_type,
        None,
        bulk=True,
        count=count,
        people=sorted(str(p) for p in dict.fromkeys(people)),
    )


# -- contacts -------------------------------------------------------------------------------


def add_contacts(
    vault: UnlockedVault, items: Iterable[tuple[uuid.UUID, ContactDetails]]
) -> list[uuid.UUID]:
    """Logs many contacts at once, as :func:`contacts.log_contact` would one by one.

    A contact linked to a planned visit marks that visit done; the visit must belong to the same
    person and still be planned (and may be completed by one contact of the call only).

    Returns:
        The new contacts' ids, in the order given.

    Raises:
        ValidationError, PermissionDenied, NotFound: as :func:`contacts.log_contact`, for the
            first bad item; nothing is written.
    """
    vault.require_role(*CASEWORKERS, doing="log contacts")
    cleaned = [
        (
            pid,
            contacts.clean_contact(vault, d),
            contacts.clinical_text(vault, d),
            d.planned_visit_id,
        )
        for pid, d in items
    ]
    if not cleaned:
        return []
    with vault.write() as session:
        people = _people(vault, session, (pid for pid, *_ in cleaned))
        linked = [vid for *_, vid in cleaned if vid is not None]
        visit_owner: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
        for chunk in _chunks(linked):
            for vid, owner, status in session.execute(
                select(PlannedVisit.id, PlannedVisit.person_id, PlannedVisit.status).where(
                    PlannedVisit.id.in_(chunk)
                )
            ):
                visit_owner[vid] = (owner, status)
        now = vault.now()
        tracked = _tracked(vault, now)
        rows: list[dict[str, Any]] = []
        done: list[uuid.UUID] = []
        for pid, values, clinical, visit_id in cleaned:
            person = people[pid]
            started: datetime = values["started_at"]  # type: ignore[assignment]
            check_order(
                person.referred_on,
                started.date(),
                field="started_at",
                message="Start time: it is before this person was referred; check the date.",
            )
            contact_id = uuid.uuid4()
            if visit_id is not None:
                owner, status = visit_owner.get(visit_id, (None, ""))  # type: ignore[assignment]
                if owner != pid:
                    raise ValidationError(
                        "Planned visit: it belongs to another person or no longer exists.",
                        "planned_visit_id",
                    )
                if status != PlannedVisitStatus.PLANNED.value:
                    raise ValidationError(
                        f"Planned visit: it is already {status}, so this contact cannot complete"
                        " it. Log the contact without linking it, or link a visit that is still"
                        " planned.",
                        "planned_visit_id",
                    )
                visit_owner[visit_id] = (owner, PlannedVisitStatus.DONE.value)
                done.append(visit_id)
            rows.append(
                {
                    "id": contact_id,
                    "person_id": pid,
                    **values,
                    "clinical_note": None
                    if clinical is None
                    else vault.encrypt_clinical(clinical, contact_id),
                    "planned_visit_id": visit_id,
                    "revision": 1,
                    **tracked,
                }
            )
        session.execute(insert(Contact), rows)
        for chunk in _chunks(done):
            session.execute(
                update(PlannedVisit)
                .where(PlannedVisit.id.in_(chunk))
                .values(status=PlannedVisitStatus.DONE.value, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        _audit(vault, session, "contact", len(rows), people)
        return [row["id"] for row in rows]


# -- incidents ------------------------------------------------------------------------------


def add_incidents(
    vault: UnlockedVault, items: Iterable[tuple[uuid.UUID, IncidentDetails]]
) -> list[uuid.UUID]:
    """Records many incidents at once (with their s136 episodes and places of safety), as
    :func:`incidents.record_incident` would one by one.

    Returns:
        The new incidents' ids, in the order given.
    """
    vault.require_role(*CASEWORKERS, doing="record incidents")
    cleaned = [(pid, incidents.clean_incident(vault, d)) for pid, d in items]
    if not cleaned:
        return []
    with vault.write() as session:
        people = _people(vault, session, (pid for pid, _ in cleaned))
        tracked = _tracked(vault, vault.now())
        rows: list[dict[str, Any]] = []
        episodes: list[dict[str, Any]] = []
        places: list[dict[str, Any]] = []
        for pid, clean in cleaned:
            occurred: datetime = clean.values["occurred_at"]
            episode = clean.episode
            if episode is None and clean.values["incident_type"] == IncidentType.S136.value:
                episode = incidents.Episode(occurred)
            incidents.check_for_person(people[pid], occurred, episode)
            incident_id = uuid.uuid4()
            rows.append({"id": incident_id, "person_id": pid, **clean.values, **tracked})
            if episode is None:
                continue
            episode_id = uuid.uuid4()
            episodes.append(
                {
                    "id": episode_id,
                    "incident_id": incident_id,
                    **{name: getattr(episode, name) for name in EPISODE_FIELDS},
                    **tracked,
                }
            )
            places.extend(
                {
                    "id": uuid.uuid4(),
                    "episode_id": episode_id,
                    "sequence": sequence,
                    "place": place,
                    "arrived_at": arrived,
                    **tracked,
                }
                for sequence, (place, arrived) in enumerate(episode.places, start=1)
            )
        session.execute(insert(Incident), rows)
        if episodes:
            session.execute(insert(S136Episode), episodes)
        if places:
            session.execute(insert(PlaceOfSafetyUse), places)
        _audit(vault, session, "incident", len(rows), people)
        return [row["id"] for row in rows]


# -- visit plans ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedPlan:
    """A plan made in bulk, with its planned visits as (visit id, due time UTC), in due order."""

    plan_id: uuid.UUID
    person_id: uuid.UUID
    visits: tuple[tuple[uuid.UUID, datetime], ...]


def plan_visits(
    vault: UnlockedVault, items: Iterable[tuple[uuid.UUID, PlanDetails]]
) -> list[PlannedPlan]:
    """Saves many visit plans and makes their planned visits, as :func:`visits.plan_visits`
    would one by one.

    Returns:
        Each plan with its visits, in the order given.
    """
    vault.require_role(*CASEWORKERS, doing="plan visits")
    cleaned = []
    for pid, details in items:
        values = visits.clean_plan(vault, details)
        times = visits.visit_times(
            values["frequency"],
            values["first_visit_at"],
            end_on=values["end_on"],
            occurrences=values["occurrences"],
        )
        cleaned.append((pid, values, times))
    if not cleaned:
        return []
    with vault.write() as session:
        people = _people(vault, session, (pid for pid, *_ in cleaned))
        tracked = _tracked(vault, vault.now())
        plan_rows: list[dict[str, Any]] = []
        visit_rows: list[dict[str, Any]] = []
        made: list[PlannedPlan] = []
        for pid, values, times in cleaned:
            visits.check_person_can_be_visited(
                people[pid],
                local_date(values["first_visit_at"]),
                field="first_visit_at",
                label="First visit",
            )
            plan_id = uuid.uuid4()
            plan_rows.append({"id": plan_id, "person_id": pid, "active": True, **values, **tracked})
            planned = tuple((uuid.uuid4(), moment) for moment in times)
            visit_rows.extend(
                {
                    "id": vid,
                    "person_id": pid,
                    "plan_id": plan_id,
                    "due_at": moment,
                    "status": PlannedVisitStatus.PLANNED.value,
                    **tracked,
                }
                for vid, moment in planned
            )
            made.append(PlannedPlan(plan_id, pid, planned))
        session.execute(insert(VisitPlan), plan_rows)
        session.execute(insert(PlannedVisit), visit_rows)
        _audit(vault, session, "visit_plan", len(plan_rows), people)
        return made


_MARKABLE = (PlannedVisitStatus.MISSED, PlannedVisitStatus.CANCELLED)


def mark_visits(
    vault: UnlockedVault,
    items: Iterable[tuple[uuid.UUID, PlannedVisitStatus | str, str | None]],
) -> int:
    """Marks many planned visits missed or cancelled (visit id, status, reason), as
    :func:`visits.mark_visit` would one by one. Returns how many were marked."""
    vault.require_role(*CASEWORKERS, doing="update planned visits")
    wanted: list[tuple[uuid.UUID, str, str | None]] = []
    for visit_id, status, reason in items:
        target = PlannedVisitStatus.parse(str(status), field="status")
        if target not in _MARKABLE:
            raise ValidationError(
                "Only missed or cancelled can be set in bulk: a visit is done through a linked"
                " contact and moved by rescheduling it.",
                "status",
            )
        why = clean_text(reason, field="reason", label="Reason", max_chars=2_000, multiline=True)
        wanted.append((visit_id, target.value, why))
    if not wanted:
        return 0
    with vault.write() as session:
        found: dict[uuid.UUID, tuple[uuid.UUID, str, datetime]] = {}
        for chunk in _chunks([vid for vid, *_ in wanted]):
            for vid, pid, status, due in session.execute(
                select(
                    PlannedVisit.id,
                    PlannedVisit.person_id,
                    PlannedVisit.status,
                    PlannedVisit.due_at,
                ).where(PlannedVisit.id.in_(chunk))
            ):
                found[vid] = (pid, status, due)
        missing = [vid for vid, *_ in wanted if vid not in found]
        if missing:
            raise ValidationError(
                "That planned visit was not found. It may have been rescheduled or removed.",
                "visit_id",
            )
        people = _people(vault, session, (found[vid][0] for vid, *_ in wanted))
        today = vault.today()
        groups: dict[tuple[str, str | None], list[uuid.UUID]] = {}
        for vid, status, why in wanted:
            _pid, current, due = found[vid]
            if current != PlannedVisitStatus.PLANNED.value:
                raise ValidationError(
                    f"This visit is already {PlannedVisitStatus(current).label.lower()}, so it"
                    " cannot be marked again.",
                    "status",
                )
            due_on: date = local_date(due)
            if status == PlannedVisitStatus.MISSED.value and due_on > today:
                raise ValidationError(
                    f"This visit is not due until {due_on:%d/%m/%Y}, so it cannot have been"
                    " missed. Cancel it if it will not happen.",
                    "status",
                )
            found[vid] = (_pid, status, due)  # a visit listed twice is refused above next time
            groups.setdefault((status, why), []).append(vid)
        now = vault.now()
        for (status, why), ids in groups.items():
            for chunk in _chunks(ids):
                session.execute(
                    update(PlannedVisit)
                    .where(PlannedVisit.id.in_(chunk))
                    .values(status=status, status_reason=why, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
        _audit(vault, session, "planned_visit", len(wanted), people)
        return len(wanted)
