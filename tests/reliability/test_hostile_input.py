"""Hostile input against every records use case: each call is accepted, or refused with a
validation, permission or not-found error; never another exception, and a refusal writes
nothing (a digest of every row of every table, the audit log included, is unchanged).

Values mix valid codes (so that accepted paths are exercised too) with SQL-looking text, 1 MB
notes, control characters and broken Unicode, dates from year 1 to 9999, naive and far-off
times, and negative or enormous counts.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_desk.records import codes as c
from sim_desk.records import contacts, incidents, people, visits
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import NotFound, PermissionDenied, ValidationError
from sim_desk.records.read_models import caseload, outcome_data
from sim_desk.records.team import users
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from tests import fuzzing
from tests.conftest import FIXED_NOW, PASSPHRASES, fixed_clock

REFUSALS = (ValidationError, PermissionDenied, NotFound)
LONDON = ZoneInfo("Europe/London")

HOSTILE_TEXT = [
    "'; DROP TABLE people; --",
    "Robert'); DELETE FROM contacts WHERE ('1'='1",
    '" OR 1=1 --',
    "%s%s%n {0} {}",
    "<script>alert(1)</script>",
    "a\x00b",
    "\x1b[2J\x07",
    "line one\r\nline two\ttab",
    "\u202egnp.exe",
    "\ufeffBOM",
    "\ud800 lone surrogate",
    "",
    "   ",
    "x" * 1_000_000,
    "é" * 100_001,
    "🔐" * 5_000,
    "ǅ İ ß ﬁ",
    "9434765919",
    "0000000000",
]


def texts() -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(HOSTILE_TEXT), st.text(max_size=120))


def codes(code_list: type[c.CodeList]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from([m.value for m in code_list]), texts())


def days() -> st.SearchStrategy[date | None]:
    special = [date.min, date.max, date(1900, 1, 1), FIXED_NOW.date() + timedelta(days=1)]
    return st.one_of(
        st.none(),
        st.sampled_from(special),
        st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
        st.dates(),
    )


def moments() -> st.SearchStrategy[datetime]:
    return st.one_of(
        st.datetimes(
            min_value=datetime(2025, 1, 1),
            max_value=datetime(2027, 12, 31),
            timezones=st.sampled_from([UTC, LONDON]),
        ),
        st.datetimes(timezones=st.sampled_from([UTC, LONDON])),  # year 1 to 9999
        st.datetimes(),  # naive: no time zone
        st.sampled_from([datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]),
    )


def counts() -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(-1_000, 1_000),
        st.sampled_from([-(2**63), -1, 0, 2**31, 2**63, 10**30, True]),
    )


# -- one vault for the whole module: Argon2id is too slow to unlock per example ---------------


@dataclass
class World:
    roles: dict[str, UnlockedVault]
    person: uuid.UUID
    contact: uuid.UUID
    plan: uuid.UUID
    visit: uuid.UUID
    officer_id: uuid.UUID
    clinician_id: uuid.UUID


@pytest.fixture(scope="module")
def world(_team_template, tmp_path_factory):
    source, _recovery, pair, _other = _team_template
    folder = tmp_path_factory.mktemp("hostile") / "vault"
    shutil.copytree(source, folder)
    paths = VaultPaths.at(folder / "team.simvault")
    dirs = AppDirs(folder / "d", folder / "s", folder / "c")
    roles = {
        name: unlock.unlock(paths, name, PASSPHRASES[name], dirs=dirs, clock=fixed_clock)
        for name in ("clinician", "officer", "lead", "analyst")
    }
    clinician = roles["clinician"]
    person = people.create_person(
        clinician,
        people.PersonDetails(given_name="Hos", referred_on=date(2026, 1, 5), pair_id=pair),
    )
    contact = contacts.log_contact(
        clinician, person, contacts.ContactDetails(started_at=FIXED_NOW - timedelta(days=3))
    )
    plan = visits.plan_visits(
        clinician,
        person,
        visits.PlanDetails(
            frequency=c.VisitFrequency.WEEKLY.value,
            first_visit_at=FIXED_NOW + timedelta(days=1),
            occurrences=4,
        ),
    )
    visit = visits.list_planned_visits(clinician, person)[0].id
    ids = {u.username: u.id for u in users.list_users(roles["lead"])}
    yield World(roles, person, contact, plan, visit, ids["officer"], ids["clinician"])
    for vault in roles.values():
        vault.lock()


def fingerprint(vault: UnlockedVault) -> str:
    """A digest of every row of every table."""
    digest = hashlib.sha256()
    with vault.read() as session:
        conn = session.connection().connection.dbapi_connection
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
            ).fetchall()
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                digest.update(repr(row).encode())
    return digest.hexdigest()


# -- the use cases ----------------------------------------------------------------------------

actors = st.sampled_from(["clinician", "officer", "analyst", "lead"])


def some_id(world_attr: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(world_attr), st.builds(uuid.uuid4))


def _id(world: World, value: Any) -> uuid.UUID:
    return getattr(world, value) if isinstance(value, str) else value


person_details = st.builds(
    people.PersonDetails,
    given_name=texts(),
    family_name=texts(),
    preferred_name=texts(),
    pronouns=texts(),
    date_of_birth=days(),
    nhs_number=st.one_of(texts(), st.sampled_from(["943 476 5919", "9434765918"])),
    police_reference=texts(),
    ethnic_category=codes(c.EthnicCategory),
    gender=codes(c.GenderIdentity),
    first_language=texts(),
    interpreter_needed=st.booleans(),
    reasonable_adjustments=texts(),
    borough=texts(),
    referred_on=days(),
    goals=texts(),
    crisis_plan=texts(),
)

contact_details = st.builds(
    contacts.ContactDetails,
    started_at=moments(),
    duration_minutes=counts(),
    mechanism=codes(c.ConsultationMechanism),
    attendance=codes(c.Attendance),
    staff_present=codes(c.StaffPresent),
    place=texts(),
    shared_note=texts(),
    clinical_note=texts(),
)

s136_details = st.builds(
    incidents.S136Details,
    detained_at=moments(),
    health_professional_consulted=st.one_of(st.none(), st.booleans()),
    conveyance=st.one_of(st.none(), codes(c.Conveyance)),
    arrived_at=st.one_of(st.none(), moments()),
    extension_hours=st.one_of(st.none(), counts()),
    outcome=st.one_of(st.none(), codes(c.S136Outcome)),
    places=st.lists(st.tuples(codes(c.PlaceOfSafety), st.one_of(st.none(), moments())), max_size=3),
)

CASES: dict[str, tuple[st.SearchStrategy[Any], Callable[[World, Any], object]]] = {
    "create_person": (
        st.tuples(actors, person_details),
        lambda w, v: people.create_person(w.roles[v[0]], v[1]),
    ),
    "update_person": (
        st.tuples(actors, some_id("person"), person_details),
        lambda w, v: people.update_person(w.roles[v[0]], _id(w, v[1]), v[2]),
    ),
    "change_status": (
        st.tuples(some_id("person"), codes(c.PersonStatus), days(), codes(c.ExitReason), texts()),
        lambda w, v: people.change_status(
            w.roles["clinician"], _id(w, v[0]), v[1], on=v[2], exit_reason=v[3], reason=v[4]
        ),
    ),
    "record_consent": (
        st.builds(
            people.ConsentDetails,
            taking_part=st.booleans(),
            information_sharing=st.booleans(),
            scope=codes(c.SharingScope),
            lawful_basis=codes(c.LawfulBasis),
            recorded_on=days(),
            withdrawn_on=days(),
            notes=texts(),
        ),
        lambda w, v: people.record_consent(w.roles["clinician"], w.person, v),
    ),
    "add_key_contact": (
        st.tuples(texts(), texts(), texts(), st.booleans(), texts()),
        lambda w, v: people.add_key_contact(
            w.roles["clinician"],
            w.person,
            name=v[0],
            relationship=v[1],
            telephone=v[2],
            is_carer=v[3],
            notes=v[4],
        ),
    ),
    "create_pair": (
        st.tuples(texts(), some_id("officer_id"), some_id("clinician_id")),
        lambda w, v: people.create_pair(
            w.roles["lead"], name=v[0], officer_id=_id(w, v[1]), clinician_id=_id(w, v[2])
        ),
    ),
    "log_contact": (
        st.tuples(actors, some_id("person"), contact_details),
        lambda w, v: contacts.log_contact(w.roles[v[0]], _id(w, v[1]), v[2]),
    ),
    "amend_contact": (
        st.tuples(actors, some_id("contact"), contact_details, texts()),
        lambda w, v: contacts.amend_contact(w.roles[v[0]], _id(w, v[1]), v[2], reason=v[3]),
    ),
    "plan_visits": (
        st.builds(
            visits.PlanDetails,
            frequency=codes(c.VisitFrequency),
            first_visit_at=moments(),
            end_on=days(),
            occurrences=st.one_of(st.none(), counts()),
            duration_minutes=counts(),
            mechanism=codes(c.ConsultationMechanism),
            place=texts(),
        ),
        lambda w, v: visits.plan_visits(w.roles["clinician"], w.person, v),
    ),
    "mark_visit": (
        st.tuples(some_id("visit"), codes(c.PlannedVisitStatus), texts()),
        lambda w, v: visits.mark_visit(w.roles["clinician"], _id(w, v[0]), v[1], v[2]),
    ),
    "reschedule_visit": (
        st.tuples(some_id("visit"), moments(), texts()),
        lambda w, v: visits.reschedule_visit(w.roles["clinician"], _id(w, v[0]), v[1], reason=v[2]),
    ),
    "end_plan": (
        st.tuples(some_id("plan"), days(), texts()),
        lambda w, v: visits.end_plan(w.roles["clinician"], _id(w, v[0]), v[1], reason=v[2]),
    ),
    "record_incident": (
        st.builds(
            incidents.IncidentDetails,
            occurred_at=moments(),
            incident_type=codes(c.IncidentType),
            source=codes(c.IncidentSource),
            custody=st.booleans(),
            ended_on=days(),
            legal_action=st.one_of(st.none(), codes(c.LegalAction)),
            source_reference=texts(),
            summary=texts(),
            s136=st.one_of(st.none(), s136_details),
        ),
        lambda w, v: incidents.record_incident(w.roles["officer"], w.person, v),
    ),
    "record_baseline_count": (
        st.tuples(codes(c.IncidentType), days(), days(), counts(), texts()),
        lambda w, v: incidents.record_baseline_count(w.roles["clinician"], w.person, *v),
    ),
    "record_disclosure": (
        st.tuples(
            actors,
            st.builds(
                incidents.DisclosureDetails,
                shared_at=moments(),
                what=texts(),
                why=texts(),
                lawful_basis=codes(c.LawfulBasis),
                person_asked=codes(c.PersonAsked),
                shared_with=texts(),
            ),
        ),
        lambda w, v: incidents.record_disclosure(w.roles[v[0]], w.person, v[1]),
    ),
    "search_caseload": (
        st.tuples(
            actors,
            texts(),
            st.one_of(st.none(), st.lists(codes(c.PersonStatus), max_size=3)),
            st.one_of(st.sampled_from(["name", "status", "next_visit"]), texts()),
            st.one_of(st.none(), counts()),
            counts(),
        ),
        lambda w, v: (
            caseload.search_caseload(
                w.roles[v[0]], v[1] or "", statuses=v[2], order_by=v[3], limit=v[4], offset=v[5]
            ),
            caseload.count_caseload(w.roles[v[0]], v[1] or "", statuses=v[2]),
        ),
    ),
    "outcomes": (
        st.tuples(actors, counts(), days(), days()),
        lambda w, v: (
            outcome_data.person_outcomes(w.roles[v[0]], w.person, months=v[1]),
            outcome_data.cohort_outcomes(
                w.roles[v[0]], months=v[1], enrolled_from=v[2], enrolled_to=v[3]
            ),
        ),
    ),
    "users": (
        st.tuples(
            actors,
            texts(),
            texts(),
            codes(c.Role),
            st.one_of(st.sampled_from(["short", "a long enough passphrase"]), texts()),
        ),
        lambda w, v: users.add_user(
            w.roles[v[0]], username=v[1], display_name=v[2], role=v[3], passphrase=v[4]
        ),
    ),
}


def _check(world: World, case: str, examples: int) -> None:
    strategy, action = CASES[case]

    @settings(
        max_examples=fuzzing.examples(examples),
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def accepted_or_refused_cleanly(value: Any) -> None:
        before = fingerprint(world.roles["lead"])
        try:
            action(world, value)
        except REFUSALS as refusal:
            assert str(refusal), "a refusal must say why"
            assert fingerprint(world.roles["lead"]) == before, "a refused call wrote something"

    accepted_or_refused_cleanly()


@pytest.mark.fuzz
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_accepted_or_refused_without_a_partial_write(world, case):
    _check(world, case, examples=8 if case == "users" else 20)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_long_run(world, case):
    _check(world, case, examples=40 if case == "users" else 400)
