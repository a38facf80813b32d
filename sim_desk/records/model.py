"""SQLAlchemy 2.0 typed ORM classes: the records a SIM team keeps.

Portable SQL only (the same schema must later run on PostgreSQL for a team server), UUID primary
keys, and ``created_at``/``updated_at``/``created_by`` on every row so that rows can be merged
between laptops without renumbering. There are deliberately no sanction, warning or "do not
respond" fields: the programme must never withhold care.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC and hands them back aware (UTC).

    SQLite has no time zone type; refusing naive values on the way in stops local wall-clock
    times (Europe/London shifts by an hour twice a year) being stored as if they were UTC.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone first")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """Reads run through here once per value, hundreds of thousands of times for a cohort
        report. On SQLite the stored text is parsed straight into an aware UTC datetime (about
        a fifth of the cost of parsing, then ``replace(tzinfo=...)``); anything else, and any
        text that is not ISO 8601, goes the general way."""
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general
        fallback: Callable[[Any], datetime | None] = general
        parse = datetime.fromisoformat

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            try:
                return parse(value + "+00:00")
            except (TypeError, ValueError):
                return fallback(value)

        return process


def utcnow() -> datetime:
    return datetime.now(UTC)


# Named constraints so that Alembic batch migrations on SQLite can find them again.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSON(),
    }


class Tracked:
    """Columns every row carries: a UUID key and who made it when."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column()


class VaultMeta(Base, Tracked):
    """One row: which vault this database belongs to, checked against the key-slot file."""

    __tablename__ = "vault_meta"
    vault_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    team_name: Mapped[str] = mapped_column(String(200))
    #: Secret key (32 bytes) for longitudinal-linkage pseudonyms in anonymised exports; made
    #: when a team lead first grants linkage. It never leaves the (encrypted) database.
    linkage_key: Mapped[bytes | None] = mapped_column(LargeBinary)


class User(Base, Tracked):
    """A member of staff. Their keys live in the key-slot file, never here."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    clinical_access: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    removed_at: Mapped[datetime | None] = mapped_column()


class LinkageGrant(Base, Tracked):
    """A team lead's permission for one user to pseudonymise exports with the linkage key.

    ``created_by`` is the lead who granted it; a revoked grant is kept, with when and by whom.
    """

    __tablename__ = "linkage_grants"
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[uuid.UUID | None] = mapped_column()


class Pair(Base, Tracked):
    """A police officer and a clinician who mentor a caseload together."""

    __tablename__ = "pairs"
    name: Mapped[str] = mapped_column(String(200))
    officer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    clinician_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Person(Base, Tracked):
    """Someone the pair supports. Names are free Unicode: any name in any script."""

    __tablename__ = "people"
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    preferred_name: Mapped[str | None] = mapped_column(String(200))
    pronouns: Mapped[str | None] = mapped_column(String(50))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    nhs_number: Mapped[str | None] = mapped_column(String(10), unique=True)
    police_reference: Mapped[str | None] = mapped_column(String(50), unique=True)
    ethnic_category: Mapped[str] = mapped_column(String(2), default="99")
    gender: Mapped[str] = mapped_column(String(1), default="X")
    first_language: Mapped[str | None] = mapped_column(String(100))
    interpreter_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    reasonable_adjustments: Mapped[str | None] = mapped_column(Text)
    borough: Mapped[str | None] = mapped_column(String(100))
    neighbourhood: Mapped[str | None] = mapped_column(String(100))
    gp_practice: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="referred")
    referred_on: Mapped[date] = mapped_column(Date)
    enrolled_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(20))
    pair_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pairs.id"), index=True)
    referral_source: Mapped[str | None] = mapped_column(String(200))
    referral_criteria: Mapped[str | None] = mapped_column(Text)
    referral_counts: Mapped[str | None] = mapped_column(Text)
    goals: Mapped[str | None] = mapped_column(Text)
    crisis_plan: Mapped[str | None] = mapped_column(Text)

    key_contacts: Mapped[list[KeyContact]] = relationship(
        back_populates="person", order_by="KeyContact.created_at"
    )

    # What the caseload search reads for every keystroke, so that it scans this index instead
    # of every person's whole row (goals, crisis plan and all).
    __table_args__ = (
        Index(
            "ix_people_caseload",
            "pair_id",
            "status",
            "family_name",
            "given_name",
            "preferred_name",
            "nhs_number",
            "police_reference",
            "id",
        ),
    )


class PersonStatusChange(Base, Tracked):
    """Every move along referred → active → stepping down → closed, with its date and reason."""

    __tablename__ = "person_status_changes"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    changed_on: Mapped[date] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)


class KeyContact(Base, Tracked):
    """A carer, relative or friend the person wants involved."""

    __tablename__ = "key_contacts"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    relationship_to_person: Mapped[str | None] = mapped_column(String(100))
    telephone: Mapped[str | None] = mapped_column(String(50))
    is_carer: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)

    person: Mapped[Person] = relationship(back_populates="key_contacts")


class Consent(Base, Tracked):
    """A consent decision. A new row for each change, so the history is kept."""

    __tablename__ = "consents"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    taking_part: Mapped[bool] = mapped_column(Boolean)
    information_sharing: Mapped[bool] = mapped_column(Boolean)
    scope: Mapped[str] = mapped_column(String(30))
    lawful_basis: Mapped[str] = mapped_column(String(30))
    recorded_on: Mapped[date] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)


class Contact(Base, Tracked):
    """A mentoring contact. ``clinical_note`` is AES-256-GCM ciphertext under the clinical key."""

    __tablename__ = "contacts"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"))
    started_at: Mapped[datetime] = mapped_column()
    duration_minutes: Mapped[int] = mapped_column(Integer)
    mechanism: Mapped[str] = mapped_column(String(2))
    attendance: Mapped[str] = mapped_column(String(1))
    staff_present: Mapped[str] = mapped_column(String(10))
    place: Mapped[str | None] = mapped_column(String(200))
    shared_note: Mapped[str | None] = mapped_column(Text)
    clinical_note: Mapped[bytes | None] = mapped_column(LargeBinary)
    planned_visit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("planned_visits.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)

    # Attendance rides in the index so that "contacts in a window, and which were attended"
    # and "last seen" never read the (note-sized) rows. A planned visit's "done on" is the
    # contact linked to it, looked up with the person first so that one person's lookups stay
    # on the same few index pages.
    __table_args__ = (
        Index("ix_contacts_person_started", "person_id", "started_at", "attendance"),
        Index("ix_contacts_planned_visit", "person_id", "planned_visit_id", "started_at"),
    )


class ContactRevision(Base, Tracked):
    """The earlier text of an amended contact. Amendments never overwrite history."""

    __tablename__ = "contact_revisions"
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column()
    clinical_note: Mapped[bytes | None] = mapped_column(LargeBinary)
    reason: Mapped[str | None] = mapped_column(Text)


class VisitPlan(Base, Tracked):
    """Recurring (or one-off) non-crisis visits. Its planned visits are rows of their own."""

    __tablename__ = "visit_plans"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    frequency: Mapped[str] = mapped_column(String(20))
    first_visit_at: Mapped[datetime] = mapped_column()
    end_on: Mapped[date | None] = mapped_column(Date)
    occurrences: Mapped[int | None] = mapped_column(Integer)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    mechanism: Mapped[str] = mapped_column(String(2), default="01")
    place: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PlannedVisit(Base, Tracked):
    """One planned visit. Due, overdue and 'not seen' are derived from it, never stored."""

    __tablename__ = "planned_visits"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visit_plans.id"), index=True)
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="planned")
    status_reason: Mapped[str | None] = mapped_column(Text)
    rescheduled_to_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("planned_visits.id"))

    __table_args__ = (
        Index("ix_planned_visits_status_due", "status", "due_at"),
        # Status and id ride along so that a person's visits in a window (and, through the id,
        # the contact that did each) are read from the index alone.
        Index("ix_planned_visits_person_due", "person_id", "due_at", "status", "id"),
    )


class Incident(Base, Tracked):
    """A crisis event or a harm. Demand is never shown without harms beside it."""

    __tablename__ = "incidents"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"))
    occurred_at: Mapped[datetime] = mapped_column()
    incident_type: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))
    custody: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_on: Mapped[date | None] = mapped_column(Date)
    legal_action: Mapped[str | None] = mapped_column(String(40))
    source_reference: Mapped[str | None] = mapped_column(String(100))
    summary: Mapped[str | None] = mapped_column(Text)

    episode: Mapped[S136Episode | None] = relationship(back_populates="incident")

    # What the outcome figures read of every incident in a person's windows rides in the
    # index, so that they never fetch the (summary-sized) rows.
    __table_args__ = (
        Index(
            "ix_incidents_person_occurred",
            "person_id",
            "occurred_at",
            "incident_type",
            "custody",
            "ended_on",
        ),
        Index("ix_incidents_occurred", "occurred_at"),
    )


class IncidentRevision(Base, Tracked):
    """An incident as it was before a correction (its s136 detail and places included), with
    the reason given. Corrections never overwrite history."""

    __tablename__ = "incident_revisions"
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)


class S136Episode(Base, Tracked):
    """The detail of a Section 136 detention."""

    __tablename__ = "s136_episodes"
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), unique=True)
    detained_at: Mapped[datetime] = mapped_column()
    health_professional_consulted: Mapped[bool | None] = mapped_column(Boolean)
    conveyance: Mapped[str | None] = mapped_column(String(20))
    arrived_at: Mapped[datetime | None] = mapped_column()
    extension_hours: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(30))

    incident: Mapped[Incident] = relationship(back_populates="episode")
    places: Mapped[list[PlaceOfSafetyUse]] = relationship(
        back_populates="episode", order_by="PlaceOfSafetyUse.sequence"
    )


class PlaceOfSafetyUse(Base, Tracked):
    """Each place of safety an s136 episode used, in order."""

    __tablename__ = "places_of_safety"
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("s136_episodes.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    place: Mapped[str] = mapped_column(String(20))
    arrived_at: Mapped[datetime | None] = mapped_column()

    episode: Mapped[S136Episode] = relationship(back_populates="places")


class BaselineCount(Base, Tracked):
    """A total for a period before enrolment, standing in where the single events are unknown."""

    __tablename__ = "baseline_counts"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    incident_type: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20))


class BaselineCountRevision(Base, Tracked):
    """A baseline count as it was before a correction, with the reason given."""

    __tablename__ = "baseline_count_revisions"
    baseline_count_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("baseline_counts.id"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)


class Disclosure(Base, Tracked):
    """Health information shared with police: what, why, on what basis, and was the person asked."""

    __tablename__ = "disclosures"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    shared_at: Mapped[datetime] = mapped_column()
    what: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text)
    lawful_basis: Mapped[str] = mapped_column(String(30))
    person_asked: Mapped[str] = mapped_column(String(20))
    shared_with: Mapped[str | None] = mapped_column(String(200))


class Draft(Base, Tracked):
    """A form its user had not finished (closed with Escape, or open when the app locked).

    ``sealed`` is AES-256-GCM under a key only the owner's own sign-in can derive, so another
    user of the same vault cannot read it; clinician-only text inside it is sealed again under
    the clinical key. A draft is not a record: it is never synced, exported or reported (see
    :data:`LOCAL_ONLY_TABLES`), and is deleted once the form is saved or discarded.
    ``owner_id`` is None for a draft made while signed in with the recovery key.
    """

    __tablename__ = "drafts"
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


#: Tables that belong to this laptop's vault alone: a sync or export must never carry them.
LOCAL_ONLY_TABLES = frozenset({"drafts"})


class AuditEvent(Base, Tracked):
    """One link of the hash-chained audit log. Ids and actions only: never personal data."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column()
    user_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID | None] = mapped_column()
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)


class ExportRelease(Base, Tracked):
    """One anonymised export as released: the period it covers, how it was protected, and the
    published figures themselves, so that a second release of the same period can repeat the
    first instead of being compared with it. ``created_by`` is who released it.

    The published figures are anonymous by construction. The pseudonymised extract is not kept:
    only a SHA-256 over its content (pseudonyms left out), to tell whether it would differ.
    """

    __tablename__ = "export_releases"
    period_end: Mapped[date] = mapped_column(Date, index=True)
    months: Mapped[int] = mapped_column(Integer)
    k: Mapped[int] = mapped_column(Integer)
    max_suppressed_share: Mapped[float] = mapped_column(Float)
    linkage: Mapped[bool] = mapped_column(Boolean)
    levels: Mapped[dict[str, Any]] = mapped_column()  # {"quasi_identifier": rung, ...}
    published: Mapped[dict[str, Any]] = mapped_column()  # {"columns": [...], "rows": [[...]]}
    published_sha256: Mapped[str] = mapped_column(String(64))
    extract_sha256: Mapped[str] = mapped_column(String(64))
    extract_rows: Mapped[int] = mapped_column(Integer)


class TeamServerDevice(Base, Tracked):
    """This laptop's device credential for a team server, kept inside the encrypted vault.

    One per local user. ``secret`` is the device's random login credential (the server holds
    only its SCRAM verifier); ``private_key`` is the device's X25519 key, to which clinical
    keys are wrapped. ``state`` is ``pending`` from just before the server is asked to create
    the device until it has answered, so a join cut short can be carried on, not repeated.
    """

    __tablename__ = "team_server_devices"
    local_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    team_id: Mapped[uuid.UUID] = mapped_column()
    team_name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    database: Mapped[str] = mapped_column(String(63))
    ca_pem: Mapped[str] = mapped_column(Text)
    device_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    login_role: Mapped[str] = mapped_column(String(63))
    server_user_id: Mapped[uuid.UUID] = mapped_column()
    server_username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    secret: Mapped[str] = mapped_column(String(100))
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10))
    joined_at: Mapped[datetime | None] = mapped_column()
