"""Use cases for people: create, update, view, status, consent, key contacts, pairs.

Who may do what (DESIGN.md section 1) is decided here, not in the GUI:

* officers and clinicians work with the people on their own pair's caseload;
* team leads see everyone, assign pairs and manage the team;
* analysts never open an identifiable person record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.audit import Action
from sim_desk.records.codes import (
    STATUS_TRANSITIONS,
    EthnicCategory,
    ExitReason,
    GenderIdentity,
    LawfulBasis,
    PersonStatus,
    PlannedVisitStatus,
    Role,
    SharingScope,
)
from sim_desk.records.errors import NotFound, PermissionDenied, ValidationError
from sim_desk.records.model import (
    Consent,
    KeyContact,
    Pair,
    Person,
    PersonStatusChange,
    PlannedVisit,
    User,
    VisitPlan,
)
from sim_desk.records.unlocked import LOCAL_ZONE, UnlockedVault
from sim_desk.records.validation import (
    check_date_of_birth,
    check_not_future,
    check_order,
    clean_text,
    normalise_nhs_number,
)

FIELD_STAFF = (Role.OFFICER, Role.CLINICIAN)
CASEWORKERS = (Role.OFFICER, Role.CLINICIAN, Role.TEAM_LEAD)


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


@dataclass(frozen=True)
class ConsentView:
    taking_part: bool
    information_sharing: bool
    scope: SharingScope
    lawful_basis: LawfulBasis
    recorded_on: date
    recorded_by: str
    withdrawn_on: date | None
    notes: str | None


@dataclass(frozen=True)
class KeyContactView:
    id: uuid.UUID
    name: str
    relationship: str | None
    telephone: str | None
    is_carer: bool
    notes: str | None


@dataclass(frozen=True)
class StatusChangeView:
    from_status: PersonStatus | None
    to_status: PersonStatus
    changed_on: date
    exit_reason: ExitReason | None
    reason: str | None


@dataclass(frozen=True)
class PersonRecord:
    """A person's record as a plain snapshot: safe to hand to a widget or a report."""

    id: uuid.UUID
    details: PersonDetails
    status: PersonStatus
    enrolled_on: date | None
    closed_on: date | None
    exit_reason: ExitReason | None
    pair_id: uuid.UUID | None
    pair_name: str | None
    consent: ConsentView | None
    key_contacts: tuple[KeyContactView, ...] = field(default_factory=tuple)
    status_history: tuple[StatusChangeView, ...] = field(default_factory=tuple)

    @property
    def display_name(self) -> str:
        d = self.details
        return " ".join(part for part in (d.given_name, d.family_name) if part)

    def age_on(self, day: date) -> int | None:
        dob = self.details.date_of_birth
        if dob is None:
            return None
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def _consent_view(session: Session, person_id: uuid.UUID) -> ConsentView | None:
    consent = session.execute(
        select(Consent)
        .where(Consent.person_id == person_id)
        .order_by(Consent.recorded_on.desc(), Consent.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if consent is None:
        return None
    recorder = session.get(User, consent.created_by) if consent.created_by else None
    return ConsentView(
        taking_part=consent.taking_part,
        information_sharing=consent.information_sharing,
        scope=SharingScope(consent.scope),
        lawful_basis=LawfulBasis(consent.lawful_basis),
        recorded_on=consent.recorded_on,
        recorded_by=recorder.display_name if recorder else "recovery key",
        withdrawn_on=consent.withdrawn_on,
        notes=consent.notes,
    )


def person_record(vault: UnlockedVault, session: Session, person: Person) -> PersonRecord:
    pair = session.get(Pair, person.pair_id) if person.pair_id else None
    history = session.execute(
        select(PersonStatusChange)
        .where(PersonStatusChange.person_id == person.id)
        .order_by(PersonStatusChange.changed_on, PersonStatusChange.created_at)
    ).scalars()
    return PersonRecord(
        id=person.id,
        details=PersonDetails.from_person(person),
        status=PersonStatus(person.status),
        enrolled_on=person.enrolled_on,
        closed_on=person.closed_on,
        exit_reason=ExitReason(person.exit_reason) if person.exit_reason else None,
        pair_id=person.pair_id,
        pair_name=pair.name if pair else None,
        consent=_consent_view(session, person.id),
        key_contacts=tuple(
            KeyContactView(k.id, k.name, k.relationship_to_person, k.telephone, k.is_carer, k.notes)
            for k in person.key_contacts
        ),
        status_history=tuple(
            StatusChangeView(
                PersonStatus(h.from_status) if h.from_status else None,
                PersonStatus(h.to_status),
                h.changed_on,
                ExitReason(h.exit_reason) if h.exit_reason else None,
                h.reason,
            )
            for h in history
        ),
    )


def view_person(vault: UnlockedVault, person_id: uuid.UUID) -> PersonRecord:
    """Opens a person's record. Every view is audited (who looked, when; never what)."""
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        vault.audit(session, Action.VIEW, "person", person.id)
        return person_record(vault, session, person)


def reload_person(vault: UnlockedVault, person_id: uuid.UUID) -> PersonRecord:
    """Re-reads a record this user has open already (its opening was audited by view_person),
    after a change made in the same workspace, without logging a second view."""
    with vault.read() as session:
        return person_record(vault, session, load_person(vault, session, person_id))


# -- status ---------------------------------------------------------------------------------


def change_status(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    to_status: PersonStatus | str,
    *,
    on: date,
    exit_reason: ExitReason | str | None = None,
    reason: str | None = None,
) -> None:
    """Moves a person along referred → active → stepping down → closed.

    Becoming active sets the enrolment date (the start of the outcome windows); closing needs an
    exit reason, so the report's flow of referred, enrolled, disengaged, moved, died and closed
    counts everyone.
    """
    vault.require_role(*CASEWORKERS, doing="change a person's status")
    target = PersonStatus.parse(str(to_status), field="status")
    note = clean_text(reason, field="reason", label="Reason", max_chars=2_000, multiline=True)
    check_not_future(on, today=vault.today(), field="on", label="Date of the change")
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        current = PersonStatus(person.status)
        if target not in STATUS_TRANSITIONS[current]:
            raise ValidationError(
                f"Status: a person who is {current.label.lower()} cannot become"
                f" {target.label.lower()} directly.",
                "status",
            )
        exit_code = None
        if target == PersonStatus.CLOSED:
            if exit_reason is None:
                raise ValidationError(
                    "Exit reason: say why the record is being closed.", "exit_reason"
                )
            exit_code = ExitReason.parse(str(exit_reason), field="exit_reason")
            check_order(
                person.referred_on,
                on,
                field="on",
                message="Closing date: it is before the referral date.",
            )
            check_order(
                person.enrolled_on,
                on,
                field="on",
                message="Closing date: it is before the enrolment date.",
            )
            person.closed_on = on
            person.exit_reason = exit_code.value
            _cancel_visits_after(session, person.id, on, vault.actor.user_id)
        elif target == PersonStatus.ACTIVE and person.enrolled_on is None:
            check_order(
                person.referred_on,
                on,
                field="on",
                message="Enrolment date: it is before the referral date.",
            )
            check_order(
                person.date_of_birth,
                on,
                field="on",
                message="Enrolment date: it is before the date of birth.",
            )
            person.enrolled_on = on
        elif target == PersonStatus.REFERRED:  # a new referral after closure
            person.closed_on = None
            person.exit_reason = None
            person.enrolled_on = None
            person.referred_on = on
        person.status = target.value
        session.add(
            PersonStatusChange(
                person_id=person.id,
                from_status=current.value,
                to_status=target.value,
                changed_on=on,
                exit_reason=exit_code.value if exit_code else None,
                reason=note,
                created_by=vault.actor.user_id,
            )
        )
        vault.audit(session, Action.UPDATE, "person", person.id, status=target.value)


def _cancel_visits_after(
    session: Session, person_id: uuid.UUID, closed_on: date, by: uuid.UUID | None
) -> None:
    """A closed record keeps no live plans: visits still planned after closure are cancelled."""
    after = datetime.combine(closed_on + timedelta(days=1), time(0), LOCAL_ZONE)
    for visit in session.execute(
        select(PlannedVisit).where(
            PlannedVisit.person_id == person_id,
            PlannedVisit.status == PlannedVisitStatus.PLANNED.value,
            PlannedVisit.due_at >= after,
        )
    ).scalars():
        visit.status = PlannedVisitStatus.CANCELLED.value
        visit.status_reason = "Record closed"
    for plan in session.execute(
        select(VisitPlan).where(VisitPlan.person_id == person_id, VisitPlan.active)
    ).scalars():
        plan.active = False


# -- consent --------------------------------------------------------------------------------


@dataclass
class ConsentDetails:
    taking_part: bool
    information_sharing: bool
    scope: str = SharingScope.PAIR_ONLY.value
    lawful_basis: str = LawfulBasis.CONSENT.value
    recorded_on: date | None = None
    withdrawn_on: date | None = None
    notes: str | None = None


def record_consent(vault: UnlockedVault, person_id: uuid.UUID, details: ConsentDetails) -> None:
    """Records a consent decision as a new row: the history of decisions is kept."""
    vault.require_role(*CASEWORKERS, doing="record consent")
    today = vault.today()
    recorded_on = details.recorded_on or today
    check_not_future(recorded_on, today=today, field="recorded_on", label="Consent date")
    if details.withdrawn_on is not None:
        check_not_future(details.withdrawn_on, today=today, field="withdrawn_on", label="Withdrawn")
        check_order(
            recorded_on,
            details.withdrawn_on,
            field="withdrawn_on",
            message="Withdrawn: it is before the date consent was recorded.",
        )
    scope = SharingScope.parse(details.scope, field="scope")
    basis = LawfulBasis.parse(details.lawful_basis, field="lawful_basis")
    notes = clean_text(details.notes, field="notes", label="Notes", max_chars=5_000, multiline=True)
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        session.add(
            Consent(
                person_id=person.id,
                taking_part=bool(details.taking_part),
                information_sharing=bool(details.information_sharing),
                scope=scope.value,
                lawful_basis=basis.value,
                recorded_on=recorded_on,
                withdrawn_on=details.withdrawn_on,
                notes=notes,
                created_by=vault.actor.user_id,
            )
        )
        vault.audit(
            session,
            Action.CREATE,
            "consent",
            person.id,
            taking_part=bool(details.taking_part),
            sharing=bool(details.information_sharing),
            withdrawn=details.withdrawn_on is not None,
        )


# -- key contacts ---------------------------------------------------------------------------


def add_key_contact(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    *,
    name: str,
    relationship: str | None = None,
    telephone: str | None = None,
    is_carer: bool = False,
    notes: str | None = None,
) -> uuid.UUID:
    vault.require_role(*CASEWORKERS, doing="add key contacts")
    clean_name = clean_text(
        name, field="name", label="Contact's name", max_chars=200, required=True
    )
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        contact = KeyContact(
            person_id=person.id,
            name=clean_name,
            relationship_to_person=clean_text(
                relationship, field="relationship", label="Relationship", max_chars=100
            ),
            telephone=clean_text(telephone, field="telephone", label="Telephone", max_chars=50),
            is_carer=is_carer,
            notes=clean_text(notes, field="notes", label="Notes", max_chars=2_000, multiline=True),
            created_by=vault.actor.user_id,
        )
        session.add(contact)
        session.flush()
        vault.audit(session, Action.CREATE, "key_contact", contact.id, person=person.id)
        return contact.id


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


def validate_person_details(details: PersonDetails, today: date) -> dict[str, Any]:
    """Validates details as :func:`create_person` does, without writing; returns column values.

    For importers, which check every row before anything is written.
    """
    return _clean_details(details, today)
