"""Importing onward referrals from CSV: all or nothing, as incidents are, on a real vault."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from sim_desk.exchange import csv_import
from sim_desk.records import circle, people
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import AuditEvent, OnwardReferral
from sim_desk.records.people import PersonDetails
from sim_desk.records.validation import nhs_number_check_digit
from sim_desk.records.vault.audit import Action

HEADER = csv_import.template("referrals")


def nhs_number(n: int) -> str:
    for m in range(n * 100, n * 100 + 100):
        nine = f"{600_000_000 + m:09d}"
        check = nhs_number_check_digit(nine)
        if check is not None:
            return nine + str(check)
    raise AssertionError


def line(**values: str) -> str:
    return ",".join(values.get(c, "") for c in csv_import.REFERRAL_COLUMNS)


def write(tmp_path, lines):
    path = tmp_path / "referrals.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def person(officer):
    return people.create_person(
        officer,
        PersonDetails(
            given_name="Amara",
            family_name="Okafor",
            nhs_number=nhs_number(1),
            police_reference="MPS/1",
            referred_on=date(2026, 1, 5),
        ),
    )


def count(vault) -> int:
    with vault.read() as session:
        return session.execute(select(func.count()).select_from(OnwardReferral)).scalar_one()


GOOD = {
    "referred_on": "01/09/2026",
    "to_whom": "Northside Housing Options",
    "service_type": "housing",
    "reason": "Rent arrears",
}


def test_referrals_import_with_their_statuses_and_are_audited(officer, person, tmp_path):
    path = write(
        tmp_path,
        [
            line(nhs_number=nhs_number(1), **GOOD),
            line(
                police_reference="MPS/1",
                **GOOD | {"to_whom": "North CMHT", "service_type": "A06"},
                status="attended",
                status_on="2026-09-20",
                first_contact_on="2026-09-18",
                follow_up_on="2026-09-15",
            ),
            line(
                nhs_number=nhs_number(1),
                **GOOD | {"kind": "signposting"},
                status="declined",
                status_on="2026-09-05",
                rejection_reason="02",
            ),
        ],
    )
    dry = csv_import.import_referrals(officer, path, dry_run=True)
    assert dry.ok and dry.added == 3 and count(officer) == 0
    report = csv_import.import_referrals(officer, path)
    assert report.ok and report.added == 3
    views = {r.to_whom + r.kind.value: r for r in circle.list_referrals(officer, person)}
    cmht = views["North CMHTreferral"]
    assert cmht.status.value == "attended" and cmht.days_to_first_contact == 17
    assert views["Northside Housing Optionssignposting"].rejection_reason.value == "02"
    with officer.read() as session:
        [entry] = session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == Action.IMPORT)
        ).scalars()
    assert entry == {"kind": "referrals", "rows": 3, "added": 3, "duplicates": 0}


def test_one_bad_row_imports_nothing_and_every_problem_is_listed(officer, person, tmp_path):
    path = write(
        tmp_path,
        [
            line(nhs_number=nhs_number(1), **GOOD),
            line(nhs_number=nhs_number(2), **GOOD),  # nobody on the caseload
            line(nhs_number=nhs_number(1), **GOOD | {"service_type": "hospital"}),
            line(nhs_number=nhs_number(1), **GOOD, status="accepted"),  # no status_on
            line(nhs_number=nhs_number(1), **GOOD, rejection_reason="02"),  # still sent
            line(nhs_number=nhs_number(1), **GOOD | {"referred_on": "31/02/2026"}),
            line(nhs_number=nhs_number(1), **GOOD, status="attended", status_on="2026-08-01"),
        ],
    )
    report = csv_import.import_referrals(officer, path)
    assert not report.ok and report.added == 0
    assert [n for n, _ in report.errors] == [3, 4, 5, 6, 7, 8]
    messages = dict(report.errors)
    assert "no one on your caseload" in messages[3]
    assert "service_type" in messages[4] and "status_on" in messages[5]
    assert "before the referral's last change" in messages[8]
    assert count(officer) == 0


def test_header_and_roles_are_checked(officer, analyst_vault, person, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("nhs_number,to_whom\n", encoding="utf-8")
    with pytest.raises(ValidationError) as refused:
        csv_import.import_referrals(officer, bad)
    assert "referred_on" in str(refused.value)
    with pytest.raises(PermissionDenied):
        csv_import.import_referrals(analyst_vault, write(tmp_path, []))


@pytest.fixture
def analyst_vault(team):
    with team.unlock("analyst") as vault:
        yield vault
