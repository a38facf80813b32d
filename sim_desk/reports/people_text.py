"""How a person's details read in a report (shared by the person report and My record)."""

from __future__ import annotations

from datetime import date

from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from sim_desk.records.codes import EthnicCategory, GenderIdentity
from sim_desk.records.people import PersonRecord
from sim_desk.records.read_models.report_data import PersonReportFacts
from sim_desk.records.unit_of_work import local_date
from sim_desk.reports.layout import DASH, data_table, uk_date
from sim_desk.reports.pdf import heading, para, rich, styles


def nhs_number(value: str | None) -> str:
    """NHS numbers print in the 3-3-4 groups people read them in."""
    if not value:
        return "not recorded"
    return f"{value[:3]} {value[3:6]} {value[6:]}"


def born(record: PersonRecord, today: date) -> str:
    dob = record.details.date_of_birth
    if dob is None:
        return "not recorded"
    return f"{uk_date(dob)} (age {record.age_on(today)})"


def pair_line(facts: PersonReportFacts) -> str:
    record = facts.record
    if record.pair_name is None:
        return "not assigned to a pair yet"
    staff = " and ".join(n for n in (facts.officer, facts.clinician) if n)
    return f"{record.pair_name} ({staff})" if staff else record.pair_name


def status_line(record: PersonRecord) -> str:
    text = record.status.label
    if record.closed_on is not None:
        reason = record.exit_reason.label.lower() if record.exit_reason else "no reason recorded"
        text += f" on {uk_date(record.closed_on)} ({reason})"
    return text


def about_rows(facts: PersonReportFacts, today: date) -> list[tuple[str, object]]:
    """The identifying and equality details, in the order a reader looks for them."""
    r = facts.record
    d = r.details
    rows: list[tuple[str, object]] = [("Name", r.display_name)]
    if d.preferred_name:
        rows.append(("Prefers to be called", d.preferred_name))
    rows += [
        ("Pronouns", d.pronouns or "not recorded"),
        ("Date of birth", born(r, today)),
        ("NHS number", nhs_number(d.nhs_number)),
        ("Police reference", d.police_reference or "not recorded"),
        ("Pair", pair_line(facts)),
        ("Status", status_line(r)),
        (
            "Referred",
            f"{uk_date(d.referred_on)}" + (f" by {d.referral_source}" if d.referral_source else ""),
        ),
        ("Enrolled", uk_date(r.enrolled_on) if r.enrolled_on else "not yet"),
        (
            "First language",
            (d.first_language or "not recorded")
            + ("; needs an interpreter" if d.interpreter_needed else ""),
        ),
    ]
    if d.reasonable_adjustments:
        rows.append(("Reasonable adjustments", d.reasonable_adjustments))
    return rows


def equality_rows(record: PersonRecord) -> list[tuple[str, object]]:
    d = record.details
    return [
        ("Ethnic group", EthnicCategory(d.ethnic_category).label),
        ("Gender", GenderIdentity(d.gender).label),
    ]


def clinical_notes_section(facts: PersonReportFacts, generated_by: str) -> list[Flowable]:
    """Clinician-only notes, only when they were asked for (and so allowed)."""
    s = styles()
    if not facts.clinical_notes_included:
        return [
            para(
                "Clinician-only notes are not included in this report.",
                s["small"],
            )
        ]
    notes = [c for c in facts.contacts if c.clinical_note]
    story: list[Flowable] = [
        *heading("Clinician-only notes", "h2"),
        para(
            f"Included at the request of {rich(generated_by)}. These notes are for clinicians:"
            " do not pass this report to police colleagues.",
            s["body"],
        ),
    ]
    if not notes:
        return [*story, para("There are no clinician-only notes.", s["body"])]
    story.append(
        data_table(
            ("Date", "Clinician-only note"),
            [[uk_date(local_date(c.started_at)), c.clinical_note or DASH] for c in notes],
            [22 * mm, 152 * mm],
            numeric_from=99,
        )
    )
    return story
