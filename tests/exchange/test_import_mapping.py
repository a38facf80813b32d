"""Incident files from police and NHS systems, read through a column mapping saved per source."""

import json
import stat
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from sim_desk.exchange import csv_import, mappings
from sim_desk.records import people
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import ValidationError
from sim_desk.records.model import AuditEvent, Incident
from sim_desk.records.people import PersonDetails
from sim_desk.records.validation import nhs_number_check_digit
from sim_desk.records.vault.audit import Action

HEADER = "Subject NHS No,Police Ref,Incident Date,Time,Event Type,Log Number,Officer Notes"


def nhs_number(serial: int) -> str:
    for n in range(serial * 100, serial * 100 + 100):
        first_nine = f"{400_000_000 + n:09d}"
        check = nhs_number_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
    raise AssertionError


def met_police() -> mappings.ColumnMapping:
    return mappings.ColumnMapping(
        name="met-police-cad",
        columns={
            "Subject NHS No": "nhs_number",
            "Police Ref": "police_reference",
            "Incident Date": "occurred_date",
            "Time": "occurred_time",
            "Event Type": "incident_type",
            "Log Number": "source_reference",
            "Officer Notes": None,  # free text stays out of the vault
        },
        defaults={"source": "police"},
        values={"incident_type": {"S136 DETENTION": "s136", "999 CALL": "call_999"}},
    )


def write(tmp_path, lines, name="cad.csv"):
    path = tmp_path / name
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def incident_count(vault):
    with vault.read() as session:
        return session.execute(select(func.count()).select_from(Incident)).scalar_one()


@pytest.fixture
def person(officer):
    return people.create_person(
        officer,
        PersonDetails(
            given_name="Amara",
            family_name="Okafor",
            date_of_birth=date(1988, 2, 3),
            nhs_number=nhs_number(1),
            police_reference="MPS/123",
            referred_on=date(2026, 1, 10),
        ),
    )


@pytest.fixture
def cad_file(tmp_path, person):
    return write(
        tmp_path,
        [
            HEADER,
            f"{nhs_number(1)},,30/06/2026,1430,S136 DETENTION,CAD-1,calm when we left",
            ",MPS/123,01/10/2026,08:00,999 call,CAD-2,",
            f"{nhs_number(1)},MPS/123,2026-10-02,23:15,ambulance,CAD-3,",
        ],
    )


def test_a_saved_mapping_is_reused_for_the_next_file_from_that_source(officer, cad_file, tmp_path):
    path = mappings.save_mapping(met_police())
    assert path.parent == AppDirs.default().config / "import-mappings"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert mappings.list_mappings() == ["met-police-cad"]
    saved = mappings.load_mapping("Met Police CAD")  # the source's name as the user types it
    assert saved == met_police()

    report = csv_import.import_incidents(officer, cad_file, mapping=saved)
    assert report.ok and (report.rows, report.added, report.duplicates) == (3, 3, 0)
    assert [(p.line, p.incident_type) for p in report.to_add] == [
        (2, "s136"),
        (3, "call_999"),
        (4, "ambulance"),
    ]
    # 14:30 in June is British Summer Time: 13:30 UTC.
    assert report.to_add[0].occurred_at == datetime(2026, 6, 30, 13, 30, tzinfo=UTC)
    with officer.read() as session:
        stored = session.execute(select(Incident.source, Incident.source_reference)).all()
        [audit] = session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == Action.IMPORT)
        ).scalars()
    assert sorted(stored) == [("police", "CAD-1"), ("police", "CAD-2"), ("police", "CAD-3")]
    assert audit["mapping"] == "met-police-cad" and audit["added"] == 3

    later = write(
        tmp_path,
        [HEADER, f"{nhs_number(1)},,15/10/2026,0900,999 CALL,CAD-9,"],
        name="next-month.csv",
    )
    again = csv_import.import_incidents(
        officer, later, mapping=mappings.load_mapping("met-police-cad")
    )
    assert again.added == 1 and incident_count(officer) == 4


def test_a_file_with_a_bad_row_imports_nothing_and_names_the_row(officer, cad_file, tmp_path):
    lines = cad_file.read_text(encoding="utf-8").splitlines()
    lines.insert(2, f"{nhs_number(1)},,01/09/2026,1200,PUBLIC ORDER,CAD-7,")
    report = csv_import.import_incidents(officer, write(tmp_path, lines), mapping=met_police())
    assert report.added == 0 and report.to_add == ()
    [(line, message)] = report.errors
    assert line == 3 and "incident_type" in message and "PUBLIC ORDER" in message
    assert incident_count(officer) == 0


def test_reimporting_the_same_file_adds_nothing_and_the_preview_says_so(officer, cad_file):
    assert csv_import.import_incidents(officer, cad_file, mapping=met_police()).added == 3
    audits_before = _audit_count(officer)
    preview = csv_import.import_incidents(officer, cad_file, mapping=met_police(), dry_run=True)
    assert preview.ok and preview.added == 0 and preview.duplicate_lines == (2, 3, 4)
    assert _audit_count(officer) == audits_before
    again = csv_import.import_incidents(officer, cad_file, mapping=met_police())
    assert (again.added, again.duplicates) == (0, 3)
    assert incident_count(officer) == 3


def _audit_count(vault):
    with vault.read() as session:
        return session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def test_a_column_the_mapping_does_not_know_is_refused(officer, person, tmp_path):
    path = write(
        tmp_path, [HEADER + ",Crime Ref", f"{nhs_number(1)},,01/10/2026,0800,999 CALL,,,X"]
    )
    with pytest.raises(ValidationError, match="'Crime Ref' is not in the mapping"):
        csv_import.import_incidents(officer, path, mapping=met_police())


def test_a_suggested_mapping_guesses_the_obvious_columns(tmp_path, person):
    path = write(tmp_path, [HEADER])
    header = csv_import.file_header(path)
    suggested = mappings.suggest_mapping("Met Police CAD", header)
    assert suggested.name == "met-police-cad"
    assert suggested.columns == {
        "Subject NHS No": None,
        "Police Ref": "police_reference",
        "Incident Date": "occurred_date",
        "Time": "occurred_time",
        "Event Type": "incident_type",
        "Log Number": "source_reference",
        "Officer Notes": None,
    }
    assert mappings.suggest_mapping("nhs", ["NHS Number", "Date/Time", "Type"]).columns == {
        "NHS Number": "nhs_number",
        "Date/Time": "occurred_at",
        "Type": "incident_type",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"columns": {"When": "occurred_date"}}, "time column"),
        ({"columns": {"A": "nhs_number", "B": "nhs_number"}}, "keep one"),
        ({"columns": {"A": "summary"}}, "not a SIM Desk column"),
        ({"defaults": {"nhs_number": "1"}}, "every row"),
        ({"values": {"incident_type": {"X": "riot"}}}, "not a known code"),
        ({"name": "Met Police"}, "lower-case"),
    ],
)
def test_a_mapping_that_cannot_work_is_refused_when_saved(change, expected):
    base = met_police()
    mapping = mappings.ColumnMapping(
        name=change.get("name", base.name),
        columns=change.get("columns", base.columns),
        defaults=change.get("defaults", base.defaults),
        values=change.get("values", base.values),
    )
    with pytest.raises(ValidationError, match=expected):
        mappings.save_mapping(mapping)
    assert mappings.list_mappings() == []


def test_a_missing_or_damaged_mapping_says_what_to_do():
    with pytest.raises(ValidationError, match=r"no saved mapping called 'nhs-a-e'.*none yet"):
        mappings.load_mapping("NHS A&E")
    path = mappings.save_mapping(met_police())
    path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValidationError, match="damaged"):
        mappings.load_mapping("met-police-cad")
