from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from sim_desk.records import incidents, people
from sim_desk.records.codes import (
    Conveyance,
    IncidentSource,
    IncidentType,
    LawfulBasis,
    PersonAsked,
    PersonStatus,
    PlaceOfSafety,
    S136Outcome,
)
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.incidents import (
    DisclosureDetails,
    IncidentDetails,
    S136Details,
)
from sim_desk.records.model import AuditEvent, PlaceOfSafetyUse
from sim_desk.records.people import PersonDetails
from sim_desk.records.vault.audit import Action

DETAINED = datetime(2026, 10, 1, 22, 15, tzinfo=UTC)


def add_person(vault, *, dob=date(1990, 5, 17), **extra):
    return people.create_person(
        vault,
        PersonDetails(
            given_name="Zofia",
            family_name="Wójcik",
            date_of_birth=dob,
            referred_on=date(2026, 1, 10),
            **extra,
        ),
    )


@pytest.fixture
def person_id(officer):
    return add_person(officer)


def s136(*places, detained=DETAINED, **extra):
    return IncidentDetails(
        occurred_at=detained,
        incident_type=IncidentType.S136,
        source=IncidentSource.POLICE,
        s136=S136Details(detained_at=detained, places=list(places), **extra),
    )


def audit_events(vault, entity_type):
    """(action, entity id, detail) of each audit entry about this kind of record, oldest first."""
    with vault.read() as session:
        return session.execute(
            select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.detail)
            .where(AuditEvent.entity_type == entity_type)
            .order_by(AuditEvent.seq)
        ).all()


# -- s136 ----------------------------------------------------------------------------------


def test_s136_episode_keeps_places_of_safety_in_order(officer, person_id):
    incident_id = incidents.record_incident(
        officer,
        person_id,
        s136(
            ("ae", DETAINED + timedelta(minutes=40)),
            (PlaceOfSafety.HEALTH_BASED, DETAINED + timedelta(hours=5)),
            health_professional_consulted=True,
            conveyance="ambulance",
            arrived_at=DETAINED + timedelta(minutes=40),
            extension_hours=12,
            outcome="Informal admission",
        ),
    )
    detail = incidents.incident_detail(officer, incident_id)
    assert detail.incident.incident_type == IncidentType.S136
    episode = detail.episode
    assert episode is not None
    assert [(p.place, p.arrived_at) for p in episode.places] == [
        (PlaceOfSafety.AE, DETAINED + timedelta(minutes=40)),
        (PlaceOfSafety.HEALTH_BASED, DETAINED + timedelta(hours=5)),
    ]
    assert episode.conveyance == Conveyance.AMBULANCE
    assert episode.outcome == S136Outcome.INFORMAL_ADMISSION
    assert episode.extension_hours == 12
    assert episode.health_professional_consulted is True
    assert episode.age_at_detention == 36
    assert [i.id for i in incidents.list_incidents(officer, person_id)] == [incident_id]


def test_police_station_refused_as_place_of_safety_for_a_16_year_old(officer):
    teenager = add_person(officer, dob=date(2010, 3, 1))
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(
            officer, teenager, s136(("police_station", DETAINED + timedelta(minutes=30)))
        )
    assert error.value.field == "places"
    assert "under 18" in str(error.value)
    assert incidents.list_incidents(officer, teenager) == []


def test_police_station_allowed_from_the_18th_birthday(officer):
    turns_18 = add_person(officer, dob=date(2008, 10, 1))
    incident_id = incidents.record_incident(officer, turns_18, s136(("police_station", None)))
    episode = incidents.incident_detail(officer, incident_id).episode
    assert episode is not None and episode.police_station_used
    assert episode.age_at_detention == 18 and not episode.police_station_age_unknown


def test_police_station_with_unknown_date_of_birth_is_allowed_but_flagged(officer):
    unknown_age = add_person(officer, dob=None)
    incident_id = incidents.record_incident(officer, unknown_age, s136(("police_station", None)))
    episode = incidents.incident_detail(officer, incident_id).episode
    assert episode is not None and episode.police_station_age_unknown


def test_s136_without_details_still_has_an_episode_at_the_detention_time(officer, person_id):
    incident_id = incidents.record_incident(
        officer, person_id, IncidentDetails(DETAINED, "s136", "police")
    )
    episode = incidents.incident_detail(officer, incident_id).episode
    assert episode is not None
    assert episode.detained_at == DETAINED and episode.places == ()
    assert episode.health_professional_consulted is None


def test_extension_beyond_12_hours_is_refused(officer, person_id):
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(officer, person_id, s136(extension_hours=13))
    assert error.value.field == "extension_hours"


def test_arrival_before_detention_is_refused(officer, person_id):
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(
            officer, person_id, s136(arrived_at=DETAINED - timedelta(minutes=1))
        )
    assert error.value.field == "arrived_at"


def test_s136_details_on_another_type_are_refused(officer, person_id):
    details = s136()
    details.incident_type = IncidentType.CALL_999
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(officer, person_id, details)
    assert error.value.field == "s136"


# -- other incidents -----------------------------------------------------------------------


def test_admission_with_discharge_date_is_a_stay_away(officer, person_id):
    incidents.record_incident(
        officer,
        person_id,
        IncidentDetails(
            datetime(2026, 9, 1, 23, 30, tzinfo=UTC),  # 00:30 on 2 September, UK time
            IncidentType.MH_ADMISSION,
            IncidentSource.NHS,
            ended_on=date(2026, 9, 20),
        ),
    )
    incidents.record_incident(
        officer,
        person_id,
        IncidentDetails(DETAINED, IncidentType.POLICE_ATTENDANCE, "police", custody=True),
    )
    incidents.record_incident(
        officer, person_id, IncidentDetails(DETAINED, IncidentType.CALL_999, "police")
    )
    with officer.read() as session:
        stays = incidents.stays_for(session, person_id)
    assert stays == [(date(2026, 9, 2), date(2026, 9, 20)), (date(2026, 10, 1), date(2026, 10, 1))]


def test_discharge_before_admission_is_refused(officer, person_id):
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(
            officer,
            person_id,
            IncidentDetails(DETAINED, IncidentType.MH_ADMISSION, "nhs", ended_on=date(2026, 9, 30)),
        )
    assert error.value.field == "ended_on"


def test_end_date_on_a_999_call_is_refused(officer, person_id):
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(
            officer,
            person_id,
            IncidentDetails(DETAINED, IncidentType.CALL_999, "police", ended_on=date(2026, 10, 2)),
        )
    assert error.value.field == "ended_on"


def test_incident_in_the_future_is_refused(officer, person_id):
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(
            officer,
            person_id,
            IncidentDetails(datetime(2026, 11, 3, 9, 0, tzinfo=UTC), "ae_attendance", "nhs"),
        )
    assert error.value.field == "occurred_at"


def test_incident_before_date_of_birth_is_refused(officer, person_id):
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(
            officer,
            person_id,
            IncidentDetails(datetime(1989, 1, 1, 12, 0, tzinfo=UTC), "ae_attendance", "nhs"),
        )
    assert error.value.field == "occurred_at"


def test_police_legal_action_needs_its_kind(officer, person_id):
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(
            officer, person_id, IncidentDetails(DETAINED, "police_legal_action", "police")
        )
    assert error.value.field == "legal_action"
    incident_id = incidents.record_incident(
        officer,
        person_id,
        IncidentDetails(DETAINED, "police_legal_action", "police", legal_action="prosecution"),
    )
    [view] = incidents.list_incidents(officer, person_id)
    assert view.id == incident_id and view.is_harm and view.legal_action == "prosecution"


def test_summary_longer_than_2000_characters_is_refused(officer, person_id):
    with pytest.raises(ValidationError) as error:
        incidents.record_incident(
            officer,
            person_id,
            IncidentDetails(DETAINED, "self_harm", "nhs", summary="x" * 2_001),
        )
    assert error.value.field == "summary"


def test_officer_of_another_pair_cannot_record_an_incident(team, person_id):
    with team.unlock("officer2") as other, pytest.raises(PermissionDenied):
        incidents.record_incident(other, person_id, IncidentDetails(DETAINED, "call_999", "police"))


def test_audit_entry_holds_codes_not_the_summary(officer, lead, person_id):
    incident_id = incidents.record_incident(
        officer,
        person_id,
        IncidentDetails(DETAINED, "self_harm", "nhs", summary="Canary Summary Text"),
    )
    [event] = audit_events(lead, "incident")
    assert event.entity_id == incident_id
    assert event.detail["type"] == "self_harm"
    assert "Canary" not in repr(event.detail)


# -- corrections ---------------------------------------------------------------------------


def test_correction_audits_the_changed_field_names(officer, lead, person_id):
    incident_id = incidents.record_incident(
        officer, person_id, IncidentDetails(DETAINED, "call_999", "police")
    )
    changed = incidents.update_incident(
        officer,
        incident_id,
        IncidentDetails(DETAINED, "call_999", "nhs", source_reference="CAD 1234"),
    )
    assert changed == ["source", "source_reference"]
    [view] = incidents.list_incidents(officer, person_id)
    assert view.source == IncidentSource.NHS and view.source_reference == "CAD 1234"
    created, updated = audit_events(lead, "incident")
    assert (created.action, updated.action) == (Action.CREATE, Action.UPDATE)
    assert updated.detail["fields"] == ["source", "source_reference"]


def test_correcting_an_s136_without_its_details_keeps_the_episode(officer, person_id):
    incident_id = incidents.record_incident(
        officer, person_id, s136(("hbpos", None), outcome="discharged")
    )
    changed = incidents.update_incident(
        officer, incident_id, IncidentDetails(DETAINED, "s136", "police", summary="Calmer later")
    )
    assert changed == ["summary"]
    episode = incidents.incident_detail(officer, incident_id).episode
    assert episode is not None and episode.outcome == S136Outcome.DISCHARGED
    assert [p.place for p in episode.places] == [PlaceOfSafety.HEALTH_BASED]


def test_correcting_the_places_of_safety_replaces_them_in_order(officer, person_id):
    incident_id = incidents.record_incident(officer, person_id, s136(("ae", None)))
    later = DETAINED + timedelta(hours=2)
    changed = incidents.update_incident(
        officer, incident_id, s136(("ae", None), ("hbpos", later), conveyance="police_vehicle")
    )
    assert changed == ["s136.conveyance", "s136.places"]
    episode = incidents.incident_detail(officer, incident_id).episode
    assert episode is not None and episode.conveyance == Conveyance.POLICE_VEHICLE
    assert [(p.place, p.arrived_at) for p in episode.places] == [
        (PlaceOfSafety.AE, None),
        (PlaceOfSafety.HEALTH_BASED, later),
    ]


def test_correcting_places_revises_their_rows_instead_of_making_new_ones(officer, person_id):
    """Another laptop may be editing the same place of safety: a correction that deleted the
    rows and made new ones would turn that edit into a change to a row that no longer exists."""
    incident_id = incidents.record_incident(officer, person_id, s136(("ae", None), ("hbpos", None)))

    def place_ids() -> list:
        with officer.read() as session:
            return list(
                session.execute(
                    select(PlaceOfSafetyUse.id).order_by(PlaceOfSafetyUse.sequence)
                ).scalars()
            )

    before = place_ids()
    later = DETAINED + timedelta(hours=3)
    incidents.update_incident(officer, incident_id, s136(("ae", None), ("hbpos", later)))
    assert place_ids() == before
    incidents.update_incident(officer, incident_id, s136(("hbpos", later)))
    assert place_ids() == before[:1]
    episode = incidents.incident_detail(officer, incident_id).episode
    assert episode is not None and [(p.place, p.arrived_at) for p in episode.places] == [
        (PlaceOfSafety.HEALTH_BASED, later)
    ]


def test_correction_cannot_add_a_police_station_for_a_child(officer):
    teenager = add_person(officer, dob=date(2010, 3, 1))
    incident_id = incidents.record_incident(officer, teenager, s136(("hbpos", None)))
    with pytest.raises(ValidationError):
        incidents.update_incident(officer, incident_id, s136(("police_station", None)))
    episode = incidents.incident_detail(officer, incident_id).episode
    assert episode is not None and [p.place for p in episode.places] == [PlaceOfSafety.HEALTH_BASED]


def test_changing_the_type_away_from_s136_removes_the_episode(officer, person_id):
    incident_id = incidents.record_incident(officer, person_id, s136(("ae", None)))
    changed = incidents.update_incident(
        officer, incident_id, IncidentDetails(DETAINED, "police_attendance", "police")
    )
    assert changed == ["incident_type", "s136"]
    assert incidents.incident_detail(officer, incident_id).episode is None


# -- baseline counts -----------------------------------------------------------------------


def test_baseline_count_ending_after_enrolment_is_refused(officer, person_id):
    people.change_status(officer, person_id, PersonStatus.ACTIVE, on=date(2026, 3, 1))
    with pytest.raises(ValidationError) as error:
        incidents.record_baseline_count(
            officer, person_id, "s136", date(2025, 3, 1), date(2026, 3, 10), 9, "police"
        )
    assert error.value.field == "period_end"
    assert incidents.list_baseline_counts(officer, person_id) == []


def test_baseline_count_before_enrolment_is_listed(officer, person_id):
    people.change_status(officer, person_id, PersonStatus.ACTIVE, on=date(2026, 3, 1))
    count_id = incidents.record_baseline_count(
        officer, person_id, "s136", date(2025, 3, 1), date(2026, 2, 28), 9, "police"
    )
    [row] = incidents.list_baseline_counts(officer, person_id)
    assert row.id == count_id and row.count == 9 and row.incident_type == IncidentType.S136
    assert row.period_end == date(2026, 2, 28) and row.source == IncidentSource.POLICE


def test_overlapping_baseline_counts_of_one_type_are_refused(officer, person_id):
    incidents.record_baseline_count(
        officer, person_id, "s136", date(2025, 1, 1), date(2025, 6, 30), 4, "police"
    )
    with pytest.raises(ValidationError):
        incidents.record_baseline_count(
            officer, person_id, "s136", date(2025, 6, 1), date(2025, 12, 31), 5, "police"
        )
    incidents.record_baseline_count(
        officer, person_id, "ae_attendance", date(2025, 6, 1), date(2025, 12, 31), 5, "nhs"
    )
    assert len(incidents.list_baseline_counts(officer, person_id)) == 2


@pytest.mark.parametrize("count", [-1, 10_001])
def test_baseline_count_out_of_range_is_refused(officer, person_id, count):
    with pytest.raises(ValidationError) as error:
        incidents.record_baseline_count(
            officer, person_id, "s136", date(2025, 1, 1), date(2025, 12, 31), count, "police"
        )
    assert error.value.field == "count"


# -- disclosures ---------------------------------------------------------------------------


def disclosure():
    return DisclosureDetails(
        shared_at=datetime(2026, 10, 20, 15, 0, tzinfo=UTC),
        what="Current medication and crisis plan",
        why="Police attending a welfare call",
        lawful_basis=LawfulBasis.VITAL_INTERESTS,
        person_asked=PersonAsked.NOT_ASKED,
        shared_with="Response team",
    )


def test_officer_cannot_record_a_disclosure_of_health_information(officer, person_id):
    with pytest.raises(PermissionDenied):
        incidents.record_disclosure(officer, person_id, disclosure())
    assert incidents.list_disclosures(officer, person_id) == []


def test_officer_sees_what_the_clinician_shared(officer, clinician, person_id):
    disclosure_id = incidents.record_disclosure(clinician, person_id, disclosure())
    [seen] = incidents.list_disclosures(officer, person_id)
    assert seen.id == disclosure_id and seen.what == "Current medication and crisis plan"
    assert seen.lawful_basis == LawfulBasis.VITAL_INTERESTS
    assert seen.person_asked == PersonAsked.NOT_ASKED
    assert seen.recorded_by == "Cleo Clinician"


def test_disclosure_needs_the_reason(clinician, person_id):
    details = disclosure()
    details.why = "  "
    with pytest.raises(ValidationError) as error:
        incidents.record_disclosure(clinician, person_id, details)
    assert error.value.field == "why"


# -- corrections keep what was there before ------------------------------------------------


def test_correcting_an_incident_keeps_the_earlier_version_with_the_reason(officer, lead, person_id):
    incident_id = incidents.record_incident(
        officer, person_id, s136(("ae", None), outcome="discharged")
    )
    incidents.update_incident(
        officer,
        incident_id,
        IncidentDetails(DETAINED, "s136", "nhs", summary="Seen at A&E"),
        reason="Source was the ambulance trust",
    )
    [earlier] = incidents.incident_history(officer, incident_id)
    assert earlier.revision == 1 and earlier.reason == "Source was the ambulance trust"
    assert earlier.saved_by == "Olu Officer"
    assert earlier.fields["source"] == "police" and earlier.fields["summary"] is None
    assert earlier.fields["s136"]["outcome"] == "discharged"
    assert earlier.fields["s136"]["places"] == [["ae", None]]
    [view] = incidents.list_incidents(officer, person_id)
    assert view.corrections == 1 and view.source == IncidentSource.NHS
    assert incidents.incident_detail(officer, incident_id).incident.corrections == 1
    *_, updated = audit_events(lead, "incident")
    assert updated.detail["revision"] == 2
    assert "ambulance" not in repr(updated.detail)  # the reason is personal text: not audited


def test_a_correction_that_changes_nothing_keeps_no_revision(officer, person_id):
    details = IncidentDetails(DETAINED, "call_999", "police", summary="Called for help")
    incident_id = incidents.record_incident(officer, person_id, details)
    assert incidents.update_incident(officer, incident_id, details, reason="checked") == []
    assert incidents.incident_history(officer, incident_id) == []


def test_incident_details_round_trip_into_a_correction(officer, person_id):
    original = s136(("ae", DETAINED + timedelta(hours=1)), conveyance="ambulance")
    incident_id = incidents.record_incident(officer, person_id, original)
    details = incidents.incident_details(officer, incident_id)
    assert details.s136 is not None and details.s136.conveyance == "ambulance"
    assert details.s136.places == [("ae", DETAINED + timedelta(hours=1))]
    assert incidents.update_incident(officer, incident_id, details) == []


def test_correcting_a_baseline_count_keeps_the_earlier_version(officer, lead, person_id):
    count_id = incidents.record_baseline_count(
        officer, person_id, "s136", date(2025, 1, 1), date(2025, 12, 31), 9, "police"
    )
    changed = incidents.update_baseline_count(
        officer,
        count_id,
        "s136",
        date(2025, 1, 1),
        date(2025, 12, 31),
        7,
        "nhs",
        reason="Two were the same detention",
    )
    assert changed == ["count", "source"]
    [row] = incidents.list_baseline_counts(officer, person_id)
    assert (row.count, row.source, row.corrections) == (7, IncidentSource.NHS, 1)
    [earlier] = incidents.baseline_count_history(officer, count_id)
    assert earlier.fields == {
        "incident_type": "s136",
        "period_start": "2025-01-01",
        "period_end": "2025-12-31",
        "count": 9,
        "source": "police",
    }
    assert earlier.reason == "Two were the same detention"
    _created, updated = audit_events(lead, "baseline_count")
    assert updated.action == Action.UPDATE and updated.detail["fields"] == ["count", "source"]


def test_a_baseline_correction_may_keep_its_own_period_but_not_overlap_another(officer, person_id):
    first = incidents.record_baseline_count(
        officer, person_id, "s136", date(2025, 1, 1), date(2025, 6, 30), 4, "police"
    )
    incidents.record_baseline_count(
        officer, person_id, "s136", date(2025, 7, 1), date(2025, 12, 31), 5, "police"
    )
    # Its own period does not count as an overlap.
    incidents.update_baseline_count(
        officer, first, "s136", date(2025, 1, 1), date(2025, 6, 30), 3, "police"
    )
    with pytest.raises(ValidationError) as error:
        incidents.update_baseline_count(
            officer, first, "s136", date(2025, 1, 1), date(2025, 7, 31), 3, "police"
        )
    assert error.value.field == "period_start"
    assert [r.count for r in incidents.list_baseline_counts(officer, person_id)] == [3, 5]


def test_analysts_cannot_correct_a_baseline_count(officer, team, person_id):
    count_id = incidents.record_baseline_count(
        officer, person_id, "s136", date(2025, 1, 1), date(2025, 12, 31), 9, "police"
    )
    with team.unlock("analyst") as analyst, pytest.raises(PermissionDenied):
        incidents.update_baseline_count(
            analyst, count_id, "s136", date(2025, 1, 1), date(2025, 12, 31), 1, "police"
        )
