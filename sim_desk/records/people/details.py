"""A person's details as entered, checked, and saved (create and update)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.codes import (
    EthnicCategory,
    GenderIdentity,
    PersonStatus,
)
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import (
    Pair,
    Person,
    PersonStatusChange,
)
from sim_desk.records.permissions import CASEWORKERS, FIELD_STAFF, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import (
    check_date_of_birth,
    check_not_future,
    check_order,
    clean_text,
    normalise_nhs_number,
)
from sim_desk.records.vault.audit import Action

# -- details --------------------------------------------------------------------------------


@dataclass
class PersonDetails:
    """Everything a form (or an import row) says about a person, as entered."""

    given_name: str = ""
    family_name: str = ""
    preferred_name: str | None = None
    pronouns: str | None = None
    date_of_birth: date | None = None
    nhs_number: str | None = None
    police_reference: str | None = None
    ethnic_category: str = EthnicCategory.NOT_KNOWN.value
    gender: str = GenderIdentity.NOT_KNOWN.value
    first_language: str | None = None
    interpreter_needed: bool = False
    reasonable_adjustments: str | None = None
    borough: str | None = None
    neighbourhood: str | None = None
    gp_practice: str | None = None
    referred_on: date | None = None
    referral_source: str | None = None
    referral_criteria: str | None = None
    referral_counts: str | None = None
    goals: str | None = None
    crisis_plan: str | None = None
    pair_id: uuid.UUID | None = None

    @classmethod
    def from_person(cls, person: Person) -> PersonDetails:
        return cls(**{f.name: getattr(person, f.name) for f in fields(cls)})


EDITABLE = tuple(f.name for f in fields(PersonDetails) if f.name != "pair_id")


def _clean_details(details: PersonDetails, today: date) -> dict[str, Any]:
    """Validates and normalises details into column values."""

    def short(name: str, label: str, limit: int = 200, required: bool = False) -> str | None:
        return clean_text(
            getattr(details, name), field=name, label=label, max_chars=limit, required=required
        )

    def long(name: str, label: str) -> str | None:
        return clean_text(
            getattr(details, name), field=name, label=label, max_chars=20_000, multiline=True
        )

    given = short("given_name", "Given name")
    family = short("family_name", "Family name")
    if not given and not family:
        raise ValidationError(
            "Name: enter at least one name. People with a single name can leave the other blank.",
            "given_name",
        )
    if details.referred_on is None:
        raise ValidationError("Referral date: enter the date the referral was made.", "referred_on")
    check_not_future(details.referred_on, today=today, field="referred_on", label="Referral date")
    check_date_of_birth(details.date_of_birth, today=today)
    check_order(
        details.date_of_birth,
        details.referred_on,
        field="referred_on",
        message="Referral date: it is before the date of birth; check both dates.",
    )
    return {
        "given_name": given or "",
        "family_name": family or "",
        "preferred_name": short("preferred_name", "Preferred name"),
        "pronouns": short("pronouns", "Pronouns", 50),
        "date_of_birth": details.date_of_birth,
        "nhs_number": normalise_nhs_number(details.nhs_number),
        "police_reference": short("police_reference", "Police reference", 50),
        "ethnic_category": EthnicCategory.parse(
            details.ethnic_category, field="ethnic_category"
        ).value,
        "gender": GenderIdentity.parse(details.gender, field="gender").value,
        "first_language": short("first_language", "First language", 100),
        "interpreter_needed": bool(details.interpreter_needed),
        "reasonable_adjustments": long("reasonable_adjustments", "Reasonable adjustments"),
        "borough": short("borough", "Borough", 100),
        "neighbourhood": short("neighbourhood", "Neighbourhood", 100),
        "gp_practice": short("gp_practice", "GP practice"),
        "referred_on": details.referred_on,
        "referral_source": short("referral_source", "Referral source"),
        "referral_criteria": long("referral_criteria", "Referral criteria"),
        "referral_counts": long("referral_counts", "Counts that triggered the referral"),
        "goals": long("goals", "Goals"),
        "crisis_plan": long("crisis_plan", "Crisis and response plan"),
    }


def _check_unique(
    session: Session, values: dict[str, Any], person_id: uuid.UUID | None = None
) -> None:
    for column, label in (("nhs_number", "NHS number"), ("police_reference", "Police reference")):
        value = values.get(column)
        if value is None:
            continue
        clash = session.execute(
            select(Person.id).where(getattr(Person, column) == value, Person.id != person_id)
        ).first()
        if clash:
            raise ValidationError(
                f"{label}: another person already has this {label}. Search the caseload for them"
                " instead of adding a second record.",
                column,
            )


def _choose_pair(
    vault: UnlockedVault, session: Session, wanted: uuid.UUID | None
) -> uuid.UUID | None:
    actor = vault.actor
    if actor.role in FIELD_STAFF:
        if wanted is None:
            if len(actor.pair_ids) == 1:
                return next(iter(actor.pair_ids))
            if not actor.pair_ids:
                raise PermissionDenied(
                    "You are not in a pair yet, so there is no caseload to add this person to."
                    " Ask your team lead to pair you with a colleague."
                )
            raise ValidationError("Pair: choose which of your pairs this person joins.", "pair_id")
        if wanted not in actor.pair_ids:
            raise PermissionDenied("You can add people to your own pair's caseload only.")
        return wanted
    if wanted is not None and session.get(Pair, wanted) is None:
        raise ValidationError("Pair: that pair no longer exists; choose another.", "pair_id")
    return wanted


def create_person(vault: UnlockedVault, details: PersonDetails) -> uuid.UUID:
    """Adds a referred person. Officers and clinicians add to their own pair's caseload."""
    vault.require_role(*CASEWORKERS, doing="add people")
    values = _clean_details(details, vault.today())
    with vault.write() as session:
        _check_unique(session, values)
        person = Person(
            **values,
            status=PersonStatus.REFERRED.value,
            pair_id=_choose_pair(vault, session, details.pair_id),
            created_by=vault.actor.user_id,
        )
        session.add(person)
        session.flush()
        session.add(
            PersonStatusChange(
                person_id=person.id,
                from_status=None,
                to_status=PersonStatus.REFERRED.value,
                changed_on=values["referred_on"],
                created_by=vault.actor.user_id,
            )
        )
        vault.audit(session, Action.CREATE, "person", person.id)
        return person.id


def update_person(vault: UnlockedVault, person_id: uuid.UUID, details: PersonDetails) -> list[str]:
    """Saves edited details. Returns the names of the fields that changed (also audited)."""
    vault.require_role(*CASEWORKERS, doing="edit people's details")
    values = _clean_details(details, vault.today())
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        if person.enrolled_on is not None:
            check_order(
                values["referred_on"],
                person.enrolled_on,
                field="referred_on",
                message="Referral date: it is after the enrolment date; check both dates.",
            )
            check_order(
                values["date_of_birth"],
                person.enrolled_on,
                field="date_of_birth",
                message="Date of birth: it is after the enrolment date; check the year.",
            )
        _check_unique(session, values, person.id)
        changed = [name for name, value in values.items() if getattr(person, name) != value]
        for name in changed:
            setattr(person, name, values[name])
        if changed:
            vault.audit(session, Action.UPDATE, "person", person.id, fields=changed)
        return changed


def validate_person_details(details: PersonDetails, today: date) -> dict[str, Any]:
    """Validates details as :func:`create_person` does, without writing; returns column values.

    For importers, which check every row before anything is written.
    """
    return _clean_details(details, today)
