import unicodedata
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from sim_desk.exchange import csv_import
from sim_desk.records import incidents, people
from sim_desk.records.codes import IncidentType
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import AuditEvent, Incident, Person
from sim_desk.records.people import PersonDetails
from sim_desk.records.validation import nhs_number_check_digit
from sim_desk.records.vault.audit import Action

PEOPLE_HEADER = csv_import.template("people")
INCIDENT_HEADER = csv_import.template("incidents")


def nhs_number(n: int) -> str:
    """A valid NHS number (Modulus 11) built from a serial number."""
    for serial in range(n * 100, n * 100 + 100):
        first_nine = f"{400_000_000 + serial:09d}"
        check = nhs_number_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
    raise AssertionError("no valid check digit found")


def people_line(**values: str) -> str:
    return ",".join(values.get(c, "") for c in csv_import.PEOPLE_COLUMNS)


def incident_line(**values: str) -> str:
    return ",".join(values.get(c, "") for c in csv_import.INCIDENT_COLUMNS)


def write(tmp_path, lines, *, name="import.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def count(vault, model):
    with vault.read() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def import_audits(vault):
    with vault.read() as session:
        return session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == Action.IMPORT)
        ).all()


@pytest.fixture
def known_person(officer):
    """Someone on the officer's caseload, matched by NHS number or police reference."""
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


# -- people --------------------------------------------------------------------------------


def test_template_is_the_documented_header():
    assert PEOPLE_HEADER.split(",") == list(csv_import.PEOPLE_COLUMNS)
    assert "given_name" in PEOPLE_HEADER and "\n" not in PEOPLE_HEADER
    assert INCIDENT_HEADER.split(",")[:3] == ["nhs_number", "police_reference", "occurred_at"]


def test_people_file_with_one_bad_row_imports_nothing_and_names_its_line(lead, tmp_path):
    path = write(
        tmp_path,
        [
            PEOPLE_HEADER,
            people_line(given_name="Ana", referred_on="01/03/2025", nhs_number=nhs_number(2)),
            # A quoted value spanning two lines: the next row starts on line 5, not 4.
            people_line(
                given_name="Bo", referred_on="2025-03-01", referral_source='"GP\r\nletter"'
            ),
            people_line(given_name="Cy", referred_on="2025-03-01", nhs_number="943 476 5918"),
            people_line(given_name="Di", referred_on="2025-03-01"),
        ],
    )
    report = csv_import.import_people(lead, path)
    assert not report.ok and report.added == 0 and report.rows == 4
    assert [line for line, _ in report.errors] == [3, 5]
    assert "Referral source" in report.errors[0][1]
    assert "NHS number" in report.errors[1][1] and "Cy" not in report.errors[1][1]
    assert count(lead, Person) == 0
    assert import_audits(lead) == []


def test_names_in_many_scripts_round_trip_through_the_people_import(officer, team, tmp_path):
    names = [
        ("Zofia", "Wójcik-Łukasiewicz"),
        ("فاطمة", "الزهراء"),
        ("李", "小龙"),
        ("प्रिया", "शर्मा"),
        ("Νίκος", "Παπαδόπουλος"),
    ]
    path = write(
        tmp_path,
        [PEOPLE_HEADER]
        + [people_line(given_name=g, family_name=f, referred_on="2025-03-01") for g, f in names],
    )
    report = csv_import.import_people(officer, path)
    assert report.ok and report.added == 5
    with officer.read() as session:
        stored = session.execute(
            select(Person.given_name, Person.family_name, Person.pair_id)
        ).all()
    assert {(g, f) for g, f, _ in stored} == {
        (unicodedata.normalize("NFC", g), unicodedata.normalize("NFC", f)) for g, f in names
    }
    assert {pair for _, _, pair in stored} == {team.pair_id}  # the officer's own caseload


def test_byte_order_mark_is_handled(lead, tmp_path):
    path = write(
        tmp_path,
        [PEOPLE_HEADER, people_line(given_name="Ana", referred_on="2025-03-01")],
        encoding="utf-8-sig",
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = csv_import.import_people(lead, path)
    assert report.ok and report.added == 1


def test_file_in_another_encoding_is_refused_with_what_to_do(lead, tmp_path):
    path = write(
        tmp_path,
        [PEOPLE_HEADER, people_line(given_name="Zoë", referred_on="2025-03-01")],
        encoding="cp1252",
    )
    with pytest.raises(ValidationError) as error:
        csv_import.import_people(lead, path)
    assert "line 2" in str(error.value) and "CSV UTF-8" in str(error.value)
    assert count(lead, Person) == 0


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_named_as_an_encoding_problem(lead, tmp_path, encoding):
    path = write(
        tmp_path,
        [PEOPLE_HEADER, people_line(given_name="Ana", referred_on="2025-03-01")],
        encoding=encoding,
    )
    assert not path.read_bytes().startswith((b"\xff\xfe", b"\xfe\xff"))
    for read in (csv_import.import_people, lambda _vault, p: csv_import.file_header(p)):
        with pytest.raises(ValidationError) as error:
            read(lead, path)
        assert "UTF-16" in str(error.value) and "CSV UTF-8" in str(error.value)
    assert count(lead, Person) == 0


def test_a_null_character_is_named_with_its_line(lead, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(
        (PEOPLE_HEADER + "\r\n" + people_line(given_name="Ana", referred_on="2025-03-01"))
        .encode()
        .replace(b"Ana", b"A\x00na")
    )
    with pytest.raises(ValidationError, match="line 2 holds a null character"):
        csv_import.import_people(lead, path)


def test_a_value_over_the_csv_field_limit_is_named_as_too_long(lead, tmp_path):
    import csv

    long_note = "x" * (csv.field_size_limit() + 10)
    path = write(
        tmp_path,
        [
            PEOPLE_HEADER,
            people_line(given_name="Ana", referred_on="2025-03-01"),
            people_line(given_name=f'"{long_note}"', referred_on="2025-03-01"),
        ],
    )
    with pytest.raises(ValidationError) as error:
        csv_import.import_people(lead, path)
    message = str(error.value)
    assert "line 3" in message and "too long" in message and "131,072" in message
    assert count(lead, Person) == 0


@pytest.mark.parametrize("rows_after", [2, 40_000])
def test_an_unclosed_quote_is_named_with_the_line_where_it_opened(lead, tmp_path, rows_after):
    lines = [PEOPLE_HEADER]
    lines += [people_line(given_name=f"P{i}", referred_on="2025-03-01") for i in range(3)]
    lines.append(people_line(given_name='"Ana, still open', referred_on="2025-03-01"))  # line 5
    lines += [people_line(given_name=f"Q{i}", referred_on="2025-03-01") for i in range(rows_after)]
    # A properly quoted value over two lines before it is not mistaken for the problem.
    lines[1] = people_line(given_name='"Two\nlines"', referred_on="2025-03-01")
    path = write(tmp_path, lines)
    with pytest.raises(ValidationError) as error:
        csv_import.import_people(lead, path)
    message = str(error.value)
    assert "line 6 opens a quote" in message and "never closed" in message, message
    assert count(lead, Person) == 0


def test_quoted_values_with_doubled_quotes_and_commas_still_import(lead, tmp_path):
    path = write(
        tmp_path,
        [
            PEOPLE_HEADER,
            people_line(
                given_name='"Ana ""Nan"""', family_name='"Okafor"', referred_on="2025-03-01"
            ),
            people_line(
                given_name="Bo", gp_practice='"Surgery, High St"', referred_on="2025-03-01"
            ),
        ],
    )
    report = csv_import.import_people(lead, path)
    assert report.ok and report.added == 2


def test_missing_required_column_is_named(lead, tmp_path):
    path = write(tmp_path, ["given_name,family_name,nhs_number", "Ana,,"])
    with pytest.raises(ValidationError) as error:
        csv_import.import_people(lead, path)
    assert "referred_on" in str(error.value) and "missing" in str(error.value)


def test_unknown_column_is_refused_rather_than_silently_dropped(lead, tmp_path):
    path = write(
        tmp_path, ["given_name,family_name,referred_on,date_of_brith", "Ana,,2025-03-01,1990-01-01"]
    )
    with pytest.raises(ValidationError) as error:
        csv_import.import_people(lead, path)
    assert "date_of_brith" in str(error.value)


def test_same_nhs_number_twice_in_a_file_is_a_bad_row(lead, tmp_path):
    number = nhs_number(3)
    path = write(
        tmp_path,
        [
            PEOPLE_HEADER,
            people_line(given_name="Ana", referred_on="2025-03-01", nhs_number=number),
            people_line(given_name="Ana", referred_on="2025-03-01", nhs_number=number),
        ],
    )
    report = csv_import.import_people(lead, path)
    assert [line for line, _ in report.errors] == [3]
    assert "line 2" in report.errors[0][1]


def test_person_already_in_the_vault_is_a_bad_row(officer, known_person, tmp_path):
    path = write(
        tmp_path,
        [
            PEOPLE_HEADER,
            people_line(given_name="A", referred_on="2025-03-01", nhs_number=nhs_number(1)),
        ],
    )
    report = csv_import.import_people(officer, path)
    assert [line for line, _ in report.errors] == [2]
    assert count(officer, Person) == 1


def test_dry_run_of_people_writes_nothing(lead, tmp_path):
    path = write(tmp_path, [PEOPLE_HEADER, people_line(given_name="Ana", referred_on="2025-03-01")])
    audit_entries = count(lead, AuditEvent)
    report = csv_import.import_people(lead, path, dry_run=True)
    assert report.ok and report.dry_run and report.added == 1
    assert count(lead, Person) == 0
    assert count(lead, AuditEvent) == audit_entries


def test_analyst_cannot_import(team, tmp_path):
    path = write(tmp_path, [PEOPLE_HEADER, people_line(given_name="Ana", referred_on="2025-03-01")])
    with team.unlock("analyst") as analyst, pytest.raises(PermissionDenied):
        csv_import.import_people(analyst, path)


# -- incidents -----------------------------------------------------------------------------


def incidents_file(tmp_path):
    return write(
        tmp_path,
        [
            INCIDENT_HEADER,
            incident_line(
                nhs_number="   " + nhs_number(1)[:3] + " " + nhs_number(1)[3:],
                occurred_at="30/06/2026 14:30",
                incident_type="Section 136 detention",
                source="police",
            ),
            incident_line(
                police_reference="MPS/123",
                occurred_at="2026-09-01T23:30:00+00:00",
                incident_type="mh_admission",
                source="NHS",
                ended_on="20/09/2026",
            ),
            incident_line(
                police_reference="MPS/123",
                occurred_at="2026-10-01 08:00",
                incident_type="police_legal_action",
                source="police",
                legal_action="prosecution",
                custody="yes",
            ),
        ],
        name="incidents.csv",
    )


def test_incidents_import_matches_people_and_reads_uk_times(officer, known_person, tmp_path):
    report = csv_import.import_incidents(officer, incidents_file(tmp_path))
    assert report.ok and (report.rows, report.added, report.duplicates) == (3, 3, 0)
    views = incidents.list_incidents(officer, known_person)
    by_type = {v.incident_type: v for v in views}
    # 14:30 in June is British Summer Time: 13:30 UTC.
    assert by_type[IncidentType.S136].occurred_at == datetime(2026, 6, 30, 13, 30, tzinfo=UTC)
    assert incidents.incident_detail(officer, by_type[IncidentType.S136].id).episode is not None
    assert by_type[IncidentType.MH_ADMISSION].ended_on == date(2026, 9, 20)
    assert by_type[IncidentType.POLICE_LEGAL_ACTION].custody
    [audit] = import_audits(officer)
    assert audit.detail == {
        "kind": "incidents",
        "rows": 3,
        "added": 3,
        "duplicates": 0,
    }


def test_reimporting_the_same_incidents_file_adds_nothing(officer, known_person, tmp_path):
    path = incidents_file(tmp_path)
    assert csv_import.import_incidents(officer, path).added == 3
    again = csv_import.import_incidents(officer, path)
    assert again.ok and again.added == 0 and again.duplicates == 3
    assert again.duplicate_lines == (2, 3, 4)
    assert len(incidents.list_incidents(officer, known_person)) == 3


def test_same_incident_twice_in_one_file_is_added_once(officer, known_person, tmp_path):
    row = incident_line(
        nhs_number=nhs_number(1),
        occurred_at="01/10/2026 08:00",
        incident_type="call_999",
        source="police",
    )
    same_minute = row.replace("08:00", "08:00:40")
    report = csv_import.import_incidents(
        officer, write(tmp_path, [INCIDENT_HEADER, row, same_minute])
    )
    assert (report.added, report.duplicates, report.duplicate_lines) == (1, 1, (3,))


def test_incident_for_an_unknown_person_is_a_bad_row_and_nothing_is_added(
    officer, known_person, tmp_path
):
    path = write(
        tmp_path,
        [
            INCIDENT_HEADER,
            incident_line(
                nhs_number=nhs_number(1),
                occurred_at="01/10/2026 08:00",
                incident_type="call_999",
                source="police",
            ),
            incident_line(
                nhs_number=nhs_number(4),
                occurred_at="01/10/2026 09:00",
                incident_type="call_999",
                source="police",
            ),
        ],
    )
    report = csv_import.import_incidents(officer, path)
    assert report.errors == (
        (
            3,
            "nhs_number: no one on your caseload has this NHS number. Add the person first, or"
            " check the NHS number.",
        ),
    )
    assert report.added == 0
    assert count(officer, Incident) == 0


def test_person_on_another_pairs_caseload_is_not_matched(team, known_person, tmp_path):
    path = incidents_file(tmp_path)
    with team.unlock("officer2") as other:
        report = csv_import.import_incidents(other, path)
    assert [line for line, _ in report.errors] == [2, 3, 4]


def test_dry_run_of_incidents_writes_nothing(officer, known_person, tmp_path):
    audit_entries = count(officer, AuditEvent)
    report = csv_import.import_incidents(officer, incidents_file(tmp_path), dry_run=True)
    assert report.ok and report.dry_run and report.added == 3
    assert count(officer, Incident) == 0
    assert count(officer, AuditEvent) == audit_entries


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("occurred_at", "29/03/2026 01:30", "did not exist"),  # the clocks went forward
        ("occurred_at", "30/06/2026", "date and time"),
        ("incident_type", "riot", "not a known code"),
        ("custody", "maybe", "yes or no"),
        ("occurred_at", "01/12/2026 10:00", "future"),
    ],
)
def test_bad_incident_values_name_the_column(
    officer, known_person, tmp_path, column, value, expected
):
    values = dict(
        nhs_number=nhs_number(1),
        occurred_at="01/10/2026 08:00",
        incident_type="call_999",
        source="police",
    )
    values[column] = value
    report = csv_import.import_incidents(
        officer, write(tmp_path, [INCIDENT_HEADER, incident_line(**values)])
    )
    [(line, message)] = report.errors
    assert line == 2 and expected in message
