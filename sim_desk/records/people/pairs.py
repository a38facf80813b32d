"""Pairs (an officer and a clinician) and which pair a person is with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from sim_desk.records.codes import (
    Role,
)
from sim_desk.records.errors import ValidationError
from sim_desk.records.model import (
    Pair,
    User,
)
from sim_desk.records.permissions import load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import (
    clean_text,
)
from sim_desk.records.vault.audit import Action

# -- pairs ----------------------------------------------------------------------------------


def create_pair(
    vault: UnlockedVault, *, name: str, officer_id: uuid.UUID, clinician_id: uuid.UUID
) -> uuid.UUID:
    """Pairs an officer with a clinician (team leads only)."""
    vault.require_role(Role.TEAM_LEAD, doing="create pairs")
    clean_name = clean_text(name, field="name", label="Pair name", max_chars=200, required=True)
    with vault.write() as session:
        officer, clinician = session.get(User, officer_id), session.get(User, clinician_id)
        if officer is None or not officer.active or officer.role != Role.OFFICER.value:
            raise ValidationError(
                "Officer: choose an active user whose role is officer.", "officer"
            )
        if clinician is None or not clinician.active or clinician.role != Role.CLINICIAN.value:
            raise ValidationError(
                "Clinician: choose an active user whose role is clinician.", "clinician"
            )
        pair = Pair(
            name=clean_name,
            officer_id=officer.id,
            clinician_id=clinician.id,
            created_by=vault.actor.user_id,
        )
        session.add(pair)
        session.flush()
        vault.audit(
            session,
            Action.PAIR_CREATED,
            "pair",
            pair.id,
            officer=officer.id,
            clinician=clinician.id,
        )
        return pair.id


@dataclass(frozen=True)
class PairView:
    id: uuid.UUID
    name: str
    officer: str
    clinician: str


def list_pairs(vault: UnlockedVault) -> list[PairView]:
    with vault.read() as session:
        rows = session.execute(select(Pair).where(Pair.active).order_by(Pair.name)).scalars()
        result = []
        for pair in rows:
            officer, clinician = (
                session.get(User, pair.officer_id),
                session.get(User, pair.clinician_id),
            )
            result.append(
                PairView(
                    pair.id,
                    pair.name,
                    officer.display_name if officer else "?",
                    clinician.display_name if clinician else "?",
                )
            )
        return result


def assign_pair(vault: UnlockedVault, person_id: uuid.UUID, pair_id: uuid.UUID) -> None:
    """Moves a person to a pair's caseload (team leads only)."""
    vault.require_role(Role.TEAM_LEAD, doing="assign people to pairs")
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        pair = session.get(Pair, pair_id)
        if pair is None or not pair.active:
            raise ValidationError("Pair: that pair does not exist or has been closed.", "pair_id")
        if person.pair_id != pair.id:
            person.pair_id = pair.id
            vault.audit(session, Action.UPDATE, "person", person.id, pair=pair.id)
