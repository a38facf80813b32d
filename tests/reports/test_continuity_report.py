"""Outcomes beyond demand in the person and cohort PDFs: the figures and their definitions."""

from __future__ import annotations

from datetime import date

from sim_desk.records import circle, people
from sim_desk.records.circle import HandoverDetails
from sim_desk.records.codes import PersonStatus
from sim_desk.reports.cohort_report import cohort_report_pdf
from sim_desk.reports.person_report import person_report_pdf
from tests.records.outcomes.test_continuity import enrol, refer
from tests.reports.conftest import all_text


def test_person_and_cohort_reports_show_outcomes_beyond_demand(lead):
    person = enrol(lead, "Fay")
    refer(lead, person, date(2026, 3, 1), ("attended", date(2026, 3, 15)))
    refer(lead, person, date(2026, 4, 1), ("declined", date(2026, 4, 9)))
    circle.save_handover_plan(
        lead, person, HandoverDetails(agreed_on=date(2026, 9, 1), who_carries_on="GP")
    )
    people.change_status(lead, person, PersonStatus.STEPPING_DOWN, on=date(2026, 9, 10))
    text = all_text(person_report_pdf(lead, person))
    assert "Beyond demand: onward referrals and continuing support" in text
    assert "2 referrals and 0 signposting" in text
    assert "Connected with continuing support at step-down Yes" in text
    assert "median 14 days (IQR 14 to 14), 1 referral; date not known for 1" in text
    cohort = all_text(cohort_report_pdf(lead))
    assert "1 of 1 people who stepped down (100%)" in cohort
