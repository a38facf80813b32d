"""Who may do what, declared once: the roles for each kind of work, and who may see a person.

Use cases check these (``vault.require_role(*CASEWORKERS, ...)``); the app reads the same
tuples to decide which buttons to offer, so the two can never disagree.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from sim_desk.records.codes import Role
from sim_desk.records.errors import NotFound, PermissionDenied
from sim_desk.records.model import Person
from sim_desk.records.unit_of_work import UnlockedVault

#: A pair's members: they see only the people on their own pair's caseload.
FIELD_STAFF = (Role.OFFICER, Role.CLINICIAN)
#: Who records contacts, visits and incidents.
CASEWORKERS = (Role.OFFICER, Role.CLINICIAN, Role.TEAM_LEAD)
#: Who may run the anonymised export (published figures, pseudonymised extract).
EXPORTERS = (Role.TEAM_LEAD, Role.ANALYST)
#: Who may put clinician-only notes into a report (and must hold the clinical key as well).
CLINICAL_REPORTERS = (Role.CLINICIAN, Role.TEAM_LEAD)


# -- access ---------------------------------------------------------------------------------


def require_identifiable_access(vault: UnlockedVault) -> None:
    if vault.actor.role == Role.ANALYST:
        raise PermissionDenied(
            "Analysts work with anonymised and aggregate figures only, so a person's record"
            " cannot be opened with an analyst's sign-in."
        )


def load_person(vault: UnlockedVault, session: Session, person_id: uuid.UUID) -> Person:
    """The person, if this user may see them; PermissionDenied or NotFound otherwise."""
    require_identifiable_access(vault)
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("That person's record was not found. It may have been moved or restored.")
    if vault.actor.role in FIELD_STAFF and person.pair_id not in vault.actor.pair_ids:
        raise PermissionDenied(
            "This person is not on your pair's caseload. Ask your team lead if they should be."
        )
    return person


def visible_people_filter(vault: UnlockedVault) -> Any:
    """A WHERE clause limiting a query on Person to what this user may see."""
    require_identifiable_access(vault)
    if vault.actor.role in FIELD_STAFF:
        return Person.pair_id.in_(vault.actor.pair_ids)
    return True
