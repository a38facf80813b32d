"""The person outcome report: who, the pair, goals, before/after figures, engagement, contacts.

Clinician-only notes appear only when a clinician or clinical lead asks for them; anyone else
asking is refused (records.read_models.report_data.check_clinical_notes), and without the
request no note text is read at all.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from sim_desk.records import outcomes
from sim_desk.records.codes import DEMAND_TYPES, HARM_TYPES
from sim_desk.records.read_models import outcome_data, report_data
from sim_desk.records.read_models.report_data import PersonReportFacts
from sim_desk.records.unit_of_work import UnlockedVault, local_date
from sim_desk.reports import charts, reading, team_mode
from sim_desk.reports.continuity import continuity_section
from sim_desk.reports.layout import (
    boxed,
    data_table,
    facts_table,
    legend_note,
    number,
    outcome_caveats,
    reading_box,
    share,
    uk_date,
)
from sim_desk.reports.outcome_tables import (
    before_after_bars,
    demand_table,
    harms_table,
    person_rows,
    windows_table,
)
from sim_desk.reports.pdf import Provenance, build_pdf, heading, para, rich, styles, write_pdf
from sim_desk.reports.people_text import about_rows, clinical_notes_section

Progress = Callable[[float, str], None] | None
MONTHLY_CAPTION = (
    "Dated incidents only: history known only as a total for a period (counts marked † above)"
    " has no month and is not in this chart. The chart runs from the start of the prior window"
    " to this month, later incidents included; the shaded months are after enrolment."
)
RECENT_CONTACTS = 12


def _tell(progress: Progress, fraction: float, text: str) -> None:
    if progress is not None:
        progress(fraction, text)


def person_report_pdf(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    *,
    months: int = 12,
    include_clinical_notes: bool = False,
    progress: Progress = None,
) -> bytes:
    """The outcome report for one person, as PDF bytes.

    Args:
        vault: The signed-in vault; only those who may open the record may print it.
        person_id: The person.
        months: Window length: 6, 12 or 24.
        include_clinical_notes: Add clinician-only notes (clinicians and clinical leads only).
        progress: Called as ``progress(fraction, text)`` between sections.

    Raises:
        PermissionDenied: An analyst, someone outside the pair, or a request for clinical notes
            from anyone but a clinician or clinical lead.
    """
    _tell(progress, 0.0, "Reading the record")
    facts = report_data.person_report_facts(
        vault, person_id, include_clinical_notes=include_clinical_notes
    )
    s = styles()
    record = facts.record
    story: list[Flowable] = [
        para("Person outcome report", s["title"]),
        *heading(f"<b>{rich(record.display_name)}</b>", "h2"),
        facts_table(about_rows(facts, vault.today())),
        *team_mode.completeness_box(vault),
    ]
    if record.details.goals:
        story += [
            *heading("Goals, in their own words", "h2"),
            para(rich(record.details.goals), s["body"]),
        ]
    _tell(progress, 0.2, "Working out the figures")
    enrolled = record.enrolled_on is not None and record.enrolled_on <= vault.today()
    if enrolled:
        result = outcome_data.person_outcomes(vault, person_id, months=months)
        _tell(progress, 0.4, "Counting incidents by month")
        story += _outcome_section(vault, person_id, result, months)
        story += _engagement_section(result.engagement, len(facts.contacts))
        if result.continuity is not None:
            story += continuity_section(outcomes.continuity([result.continuity]), cohort=False)
    else:
        story += [
            *heading("Outcomes", "h2"),
            para(
                "Not enrolled yet: the before and after windows start at enrolment, so there"
                " are no outcome figures to show.",
                s["body"],
            ),
        ]
    _tell(progress, 0.7, "Summarising contacts")
    story += _contacts_section(facts, enrolled_on=record.enrolled_on)
    story += clinical_notes_section(facts, vault.actor.display_name)
    report_data.audit_report(
        vault, "person_outcome", person_id, months=months, clinical=include_clinical_notes
    )
    return build_pdf(
        story,
        Provenance("Person outcome report", vault.actor.display_name, vault.now()),
        progress=progress,
    )


def save_person_report(
    path: Path, vault: UnlockedVault, person_id: uuid.UUID, **kwargs: object
) -> None:
    """Writes the person report where the user chose (atomic, owner-only)."""
    write_pdf(path, person_report_pdf(vault, person_id, **kwargs))  # type: ignore[arg-type]


def _outcome_section(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    result: outcome_data.PersonOutcomeReport,
    months: int,
) -> list[Flowable]:
    s = styles()
    o = result.outcome
    w = o.windows
    rows = person_rows(o)
    story: list[Flowable] = [
        *heading("Before and after enrolment", "h2"),
        para(
            f"Windows of {months} months, fixed in advance: <i>before</i> is the {months} months"
            " up to enrolment, <i>after</i> runs from enrolment to the earliest of closure, today"
            f" or {months} months, and <i>prior</i> is the {months} months before that, to show"
            " whether use was already changing before referral. " + outcomes.WINDOW_EDGES,
            s["small"],
        ),
        windows_table(
            (
                ("Prior", w.prior, o.prior_days_at_risk),
                ("Before", w.before, o.before_days_at_risk),
                ("After", w.after, o.after_days_at_risk),
                ("Later (in no rate)", w.later, None),
            )
        ),
        para(rich(reading.follow_up(o)), s["body"]),
        *heading("Crisis demand", "h3"),
        demand_table(rows),
        *heading("Harms, counted alongside demand", "h3"),
        harms_table(rows),
        legend_note(),
        Spacer(1, 3 * mm),
        boxed("Read these figures with care", outcome_caveats(cohort=False)),
        Spacer(1, 3 * mm),
        reading_box(reading.PERSON, reading.TITLE),
    ]
    monthly = report_data.monthly_incidents(
        vault,
        person_id,
        start=w.prior.start,
        end=max(w.later.end - timedelta(days=1), w.after.start),
    )
    enrol_index = next(
        (i for i, m in enumerate(monthly) if m.month == w.after.start.replace(day=1)), len(monthly)
    )
    # The month in which the after window ends, when later months follow it on the chart.
    last_after = w.after.end - timedelta(days=1)
    end_index = next(
        (i + 1 for i, m in enumerate(monthly) if m.month == last_after.replace(day=1)), None
    )
    if w.after.days == 0 or w.later.days <= 1:
        end_index = None
    story.append(
        KeepTogether(
            [
                *heading("Incidents month by month", "h3"),
                charts.monthly_chart(
                    [
                        charts.MonthBar(m.month.strftime("%b %y"), m.demand, m.harms)
                        for m in monthly
                    ],
                    marker_index=enrol_index,
                    marker_label=f"Enrolled {uk_date(w.after.start)}",
                    legend=(("solid", "Crisis demand"), ("striped", "Harms")),
                    value_label="dated incidents in the month",
                    whole=True,
                    end_index=end_index,
                    end_label=f"After window ends {uk_date(last_after)}",
                ),
                para(
                    MONTHLY_CAPTION,
                    s["small"],
                ),
            ]
        )
    )
    bars = before_after_bars(rows, (*DEMAND_TYPES, *HARM_TYPES))
    if bars is not None:
        story.append(KeepTogether([*heading("Rates before and after", "h3"), bars]))
    return story


def _engagement_section(e: outcomes.Engagement, logged: int) -> list[Flowable]:
    s = styles()
    note = (
        f"Every contact from enrolment to today (or to the day the record closed) is counted:"
        f" {e.contacts}. Of the {logged} contacts logged in all, {e.contacts_before} were before"
        " enrolment, during referral"
    )
    note += f", and {e.contacts_after} after the record closed." if e.contacts_after else "."
    return [
        *heading("Engagement since enrolment", "h2"),
        para(rich(note), s["small"]),
        facts_table(
            [
                ("Contacts", f"{e.contacts} ({number(e.contacts_per_month, 1)} a month)"),
                ("Attended", f"{e.attended} of {e.contacts} ({share(e.attended_share)})"),
                (
                    "Planned visits done on time",
                    f"{e.planned_done_on_time} of {e.planned_due} due ({share(e.on_time_share)};"
                    " on time means within 7 days of the date planned)",
                ),
                (
                    "Days since last attended contact",
                    "none yet"
                    if e.days_since_last_contact is None
                    else str(e.days_since_last_contact),
                ),
            ],
            label_width=60 * mm,
        ),
    ]


def _contacts_section(facts: PersonReportFacts, *, enrolled_on: object) -> list[Flowable]:
    s = styles()
    contacts = facts.contacts
    story: list[Flowable] = [*heading("Contacts", "h2")]
    if not contacts:
        return [*story, para("No contacts logged yet.", s["body"])]
    how = Counter(c.mechanism.label for c in contacts)
    seen = Counter(c.attendance.label for c in contacts)
    story.append(
        facts_table(
            [
                ("All contacts logged", str(len(contacts))),
                ("How", ", ".join(f"{k} {v}" for k, v in how.most_common())),
                ("Attendance", ", ".join(f"{k} {v}" for k, v in seen.most_common())),
                ("First and latest", f"{_day(contacts[0])} and {_day(contacts[-1])}"),
            ],
            label_width=40 * mm,
        )
    )
    recent = list(reversed(contacts[-RECENT_CONTACTS:]))
    story += [
        *heading(f"The {len(recent)} most recent contacts", "h3"),
        data_table(
            ("Date", "How", "Attendance", "Who", "Shared note"),
            [
                [
                    _day(c),
                    c.mechanism.label,
                    c.attendance.label,
                    c.staff_present.label,
                    c.shared_note or "",
                ]
                for c in recent
            ],
            [20 * mm, 22 * mm, 26 * mm, 26 * mm, 80 * mm],
            numeric_from=99,
        ),
    ]
    return story


def _day(contact: report_data.ContactLine) -> str:
    return uk_date(local_date(contact.started_at))
