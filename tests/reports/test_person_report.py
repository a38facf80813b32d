"""The person outcome report: its figures are recomputed here, and clinical notes stay with
clinicians."""

from __future__ import annotations

import re
import stat

import pytest
from sqlalchemy import select

from sim_desk.records.errors import PermissionDenied
from sim_desk.records.model import AuditEvent
from sim_desk.records.vault.audit import Action
from sim_desk.reports.person_report import person_report_pdf, save_person_report
from tests.reports import expected as ex
from tests.reports.conftest import CLINICAL_SECRET, SHARED_NOTE, all_text, pages


def row_pattern(label: str, cells: list[str]) -> re.Pattern[str]:
    return re.compile(re.escape(label) + r" " + r" ".join(re.escape(c) for c in cells) + r"\b")


def test_person_report_figures_match_an_independent_count(lead, scenario):
    person = scenario.lukasz
    text = all_text(person_report_pdf(lead, person.id, months=12))
    w = ex.windows(person)
    days = {
        name: ex.days_at_risk(person, getattr(w, name)) for name in ("prior", "before", "after")
    }
    assert days == {"prior": 366, "before": 355, "after": 365}
    years = {name: d / ex.YEAR for name, d in days.items()}
    for kind, label in (("s136", "Section 136 detention"), ("call_999", "999 call")):
        n = {
            name: ex.count(person, kind, getattr(w, name))
            for name in ("prior", "before", "after", "later")
        }
        rates = {name: n[name] / years[name] for name in years}
        lower, upper = ex.exact_ci(n["after"], years["after"], n["before"], years["before"])
        ratio = rates["after"] / rates["before"]
        cells = [
            str(n["prior"]),
            str(n["before"]),
            str(n["after"]),
            str(n["later"]),
            f"{rates['prior']:.2f}",
            f"{rates['before']:.2f}",
            f"{rates['after']:.2f}",
            f"{ratio:.2f}",
            f"{ex.fmt(lower)} to {ex.fmt(upper)}",
        ]
        assert row_pattern(label, cells).search(text), (label, cells)
    assert (n["before"], n["after"]) == (3, 1)  # 999 calls, checked against the list by eye
    # Windows printed with their last day inclusive, and the person-years at risk.
    assert "Before 02/11/2024 01/11/2025 365 355 0.97" in text
    assert "After 02/11/2025 01/11/2026 365 365 1.00" in text


def test_person_report_shows_harms_beside_demand_and_the_caveats(lead, scenario):
    text = all_text(person_report_pdf(lead, scenario.lukasz.id))
    assert "Harms, counted alongside demand" in text
    assert row_pattern("Self-harm", ["0", "1", "0", "0"]).search(text)
    for caveat in ("No control group", "Regression to the mean", "Small numbers", "randomised"):
        assert caveat in text
    assert "Enrolled 02/11/2025" in text  # the chart's enrolment marker


def test_officers_report_has_no_clinical_note_text(team, scenario):
    with team.unlock("officer") as officer:
        text = all_text(person_report_pdf(officer, scenario.lukasz.id))
        assert SHARED_NOTE in text
        assert "CLIN-7731" not in text and "mood low" not in text
        with pytest.raises(PermissionDenied):
            person_report_pdf(officer, scenario.lukasz.id, include_clinical_notes=True)


def test_clinician_can_choose_to_include_clinical_notes(clinician, scenario):
    without = all_text(person_report_pdf(clinician, scenario.lukasz.id))
    assert "CLIN-7731" not in without
    with_notes = all_text(
        person_report_pdf(clinician, scenario.lukasz.id, include_clinical_notes=True)
    )
    assert CLINICAL_SECRET in with_notes


def test_analyst_cannot_print_a_person_report(team, scenario):
    with team.unlock("analyst") as analyst, pytest.raises(PermissionDenied):
        person_report_pdf(analyst, scenario.lukasz.id)


def test_each_person_report_is_audited_with_ids_only(lead, scenario):
    person_report_pdf(lead, scenario.lukasz.id, months=6)
    with lead.read() as session:
        last = session.execute(
            select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.detail)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).one()
    assert last.action == Action.REPORT and last.entity_id == scenario.lukasz.id
    assert last.detail == {"clinical": False, "months": 6, "report": "person_outcome"}


def test_progress_is_reported_and_the_file_is_private(lead, scenario, tmp_path):
    seen = []
    person_report_pdf(lead, scenario.lukasz.id, progress=lambda f, t: seen.append((f, t)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    target = tmp_path / "out" / "person.pdf"
    target.parent.mkdir()
    save_person_report(target, lead, scenario.lukasz.id)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "Person outcome report" in pages(target.read_bytes())[0]


def test_someone_not_yet_enrolled_gets_a_report_without_outcome_figures(clinician):
    from datetime import date

    from sim_desk.records import people

    person_id = people.create_person(
        clinician, people.PersonDetails(given_name="Zofia", referred_on=date(2026, 10, 1))
    )
    text = all_text(person_report_pdf(clinician, person_id))
    assert "Zofia" in text and "Not enrolled yet" in text
    assert "Section 136 detention" not in text
