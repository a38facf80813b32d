"""The cohort outcome report: everyone enrolled counted, before/after figures, equality.

No names appear in it, whoever prints it: a cohort report is for boards and commissioners, and
analysts must never see an identifiable person. Per-person figures appear only as unlabelled
lines in the trajectory chart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from sim_desk.records import outcome_data, outcomes, people, report_data
from sim_desk.records.codes import DEMAND_TYPES, HARM_TYPES, ExitReason, IncidentType
from sim_desk.records.outcome_data import CohortReport
from sim_desk.records.unlocked import UnlockedVault
from sim_desk.reports import charts
from sim_desk.reports.equality import equality_section
from sim_desk.reports.layout import (
    DASH,
    boxed,
    data_table,
    facts_table,
    legend_note,
    number,
    outcome_caveats,
    p_value,
    share,
    uk_date,
)
from sim_desk.reports.outcome_tables import (
    before_after_bars,
    cohort_rows,
    demand_table,
    harms_table,
)
from sim_desk.reports.pdf import Provenance, build_pdf, heading, para, styles, write_pdf

Progress = Callable[[float, str], None] | None
AROUND_CAPTION = (
    "Months are counted from each person's enrolment (0 is the first month after it). After "
    "enrolment, a month counts only the people followed up for the whole month. History known"
    " only as a total for a period has no month and is left out. A peak just before enrolment"
    " that falls away is what regression to the mean looks like."
)
TRAJECTORY_CAPTION = (
    "One line per person, unlabelled, from their crisis rate before enrolment to their rate after."
)
PAIRED_WIDTHS = [w * mm for w in (30, 14, 26, 26, 12.5, 12.5, 11, 12, 15, 15)]
INDENT = "\u00a0" * 4  # leading spaces would be dropped by the paragraph


def _tell(progress: Progress, fraction: float, text: str) -> None:
    if progress is not None:
        progress(fraction, text)


def cohort_report_pdf(
    vault: UnlockedVault,
    *,
    months: int = 12,
    pair_id: uuid.UUID | None = None,
    enrolled_from: date | None = None,
    enrolled_to: date | None = None,
    progress: Progress = None,
) -> bytes:
    """The cohort outcome report as PDF bytes (no names, whoever prints it).

    Args:
        vault: The signed-in vault. Officers and clinicians get their own pairs' people only.
        months: Window length: 6, 12 or 24.
        pair_id: Only this pair's caseload.
        enrolled_from: Only people enrolled (or, if never enrolled, referred) on or after.
        enrolled_to: ... and on or before this day.
        progress: Called as ``progress(fraction, text)`` between sections.
    """
    _tell(progress, 0.0, "Working out the cohort's figures")
    report = outcome_data.cohort_outcomes(
        vault,
        months=months,
        pair_id=pair_id,
        enrolled_from=enrolled_from,
        enrolled_to=enrolled_to,
    )
    _tell(progress, 0.4, "Breaking the figures down by group")
    equality = report_data.equality_tables(vault, report)
    around = report_data.months_around_enrolment(vault, report)
    _tell(progress, 0.6, "Drawing the charts")
    s = styles()
    rows = cohort_rows(report.outcome)
    story: list[Flowable] = [
        para("Cohort outcome report", s["title"]),
        facts_table(_scope(vault, report, pair_id, enrolled_from, enrolled_to)),
        Spacer(1, 3 * mm),
        boxed("Read these figures with care", outcome_caveats(cohort=True)),
        *_flow_section(report),
    ]
    if report.people:
        story += _person_time_section(report)
        story += [
            *heading("Crisis demand", "h3"),
            demand_table(rows),
            *heading("Harms, counted alongside demand", "h3"),
            harms_table(rows),
            legend_note(),
        ]
        bars = before_after_bars(rows, (*DEMAND_TYPES, *HARM_TYPES))
        if bars is not None:
            story.append(KeepTogether([*heading("Pooled rates before and after", "h3"), bars]))
        story += _around_section(around, report.months)
        story += _paired_section(report)
        story += _engagement_section(report.engagement)
        story += equality_section(equality)
    story += _methods()
    report_data.audit_report(
        vault,
        "cohort_outcome",
        months=months,
        pair=pair_id,
        people=report.flow.referred,
        enrolled=report.flow.enrolled,
    )
    return build_pdf(
        story,
        Provenance("Cohort outcome report", vault.actor.display_name, vault.now()),
        progress=progress,
    )


def save_cohort_report(path: Path, vault: UnlockedVault, **kwargs: object) -> None:
    """Writes the cohort report where the user chose (atomic, owner-only)."""
    write_pdf(path, cohort_report_pdf(vault, **kwargs))  # type: ignore[arg-type]


def _scope(
    vault: UnlockedVault,
    report: CohortReport,
    pair_id: uuid.UUID | None,
    enrolled_from: date | None,
    enrolled_to: date | None,
) -> list[tuple[str, object]]:
    if pair_id is None:
        who = "Every pair" if vault.actor.role.value in ("team_lead", "analyst") else "Your pairs"
    else:
        who = next((p.name for p in people.list_pairs(vault) if p.id == pair_id), "One pair")
    if enrolled_from or enrolled_to:
        period = f"{uk_date(enrolled_from) if enrolled_from else 'the start'} to"
        period += f" {uk_date(enrolled_to) if enrolled_to else 'today'}"
    else:
        period = "all dates"
    return [
        ("Caseload", who),
        ("Enrolled in", f"{period} (people never enrolled: by referral date)"),
        ("Windows", f"{report.months} months before and after enrolment, and a prior window"),
        ("Figures as at", uk_date(report.today)),
    ]


def _flow_section(report: CohortReport) -> list[Flowable]:
    s = styles()
    f = report.flow
    closed_total = sum(f.closed.values())
    still_referred = f.referred - f.active - f.stepping_down - closed_total
    never = f.closed.get(ExitReason.NOT_ENROLLED.value, 0)
    rows = [
        ["Referred in the period", str(f.referred)],
        [f"{INDENT}not enrolled: still waiting", str(max(still_referred, 0))],
        [f"{INDENT}not enrolled: closed at referral", str(never)],
        [f"{INDENT}enrolled (everyone counted below)", str(f.enrolled)],
        ["Of those enrolled, today:", ""],
        [f"{INDENT}active", str(f.active)],
        [f"{INDENT}stepping down", str(f.stepping_down)],
    ]
    for reason in ExitReason:
        if reason.value in f.closed and reason != ExitReason.NOT_ENROLLED:
            rows.append([f"{INDENT}closed: {reason.label.lower()}", str(f.closed[reason.value])])
    return [
        *heading("Everyone counted", "h2"),
        para(
            "Intention to treat: everyone enrolled is in every figure below, including people"
            " who disengaged, moved away or died. Statuses are as they are today.",
            s["small"],
        ),
        data_table(("Stage", "People"), rows, [120 * mm, 30 * mm]),
    ]


def _person_time_section(report: CohortReport) -> list[Flowable]:
    s = styles()
    first = report.outcome.types[0]
    return [
        *heading("Person-time at risk", "h2"),
        para(
            "Days in hospital or custody are not at risk and are left out. The after window of"
            " someone enrolled recently, or closed early, is shorter than the others.",
            s["small"],
        ),
        data_table(
            ("Window", "Person-years at risk", "People"),
            [
                ["Prior", number(first.prior_person_years), str(first.n_people)],
                ["Before", number(first.before_person_years), str(first.n_people)],
                ["After", number(first.after_person_years), str(first.n_people)],
            ],
            [60 * mm, 45 * mm, 30 * mm],
        ),
    ]


def _around_section(around: list[report_data.RelativeMonth], months: int) -> list[Flowable]:
    s = styles()
    bars = [
        charts.MonthBar(f"{m.offset:+d}" if m.offset else "0", m.per_person or 0.0) for m in around
    ]
    return [
        KeepTogether(
            [
                *heading("Crisis demand month by month around enrolment", "h3"),
                charts.monthly_chart(
                    bars,
                    marker_index=months,
                    marker_label="Enrolment",
                    legend=(("solid", "Dated crisis incidents per person in the month"),),
                    value_label="incidents per person",
                    label_every=max(1, months // 6),
                ),
                para(
                    AROUND_CAPTION,
                    s["small"],
                ),
            ]
        )
    ]


def _paired_section(report: CohortReport) -> list[Flowable]:
    s = styles()
    body, reasons, details = [], [], set()
    for t in report.outcome.types:
        w = t.wilcoxon
        if w.reason:
            reasons.append(f"{IncidentType(t.incident_type).label}: {w.reason}.")
        if w.method_detail:
            details.add(f"{w.method}: {w.method_detail}")
        body.append(
            [
                IncidentType(t.incident_type).label,
                str(t.n_paired),
                _median(t.before_summary),
                _median(t.after_summary),
                str(t.directions.down),
                str(t.directions.level),
                str(t.directions.up),
                number(w.statistic, 1),
                p_value(w.p_value),
                {"normal approximation": "normal approx."}.get(w.method or "", w.method)
                or "not tested",
            ]
        )
    trajectories = _demand_trajectories(report)
    story: list[Flowable] = [
        *heading("Person by person", "h2"),
        para(
            "Each person's rate after enrolment against their own rate before (people with"
            " time at risk in both windows). The paired Wilcoxon signed-rank test is two-sided."
            f" Zero differences: {outcomes.ZERO_HANDLING}",
            s["small"],
        ),
        data_table(
            (
                "Incident type",
                "People",
                "Median (IQR) before",
                "Median (IQR) after",
                "Down",
                "Level",
                "Up",
                "W",
                "p",
                "Method",
            ),
            body,
            PAIRED_WIDTHS,
        ),
    ]
    notes = [f"Methods: {'; '.join(sorted(details))}." if details else "", *reasons]
    story += [para(n, s["small"]) for n in notes if n]
    if trajectories:
        story.append(
            KeepTogether(
                [
                    *heading("Trajectories: all crisis demand together", "h3"),
                    charts.trajectory_chart(trajectories),
                    para(
                        TRAJECTORY_CAPTION,
                        s["small"],
                    ),
                ]
            )
        )
    return story


def _median(summary: outcomes.Summary) -> str:
    if summary.median is None:
        return DASH
    return f"{summary.median:.2f} ({summary.q1:.2f}–{summary.q3:.2f})"


def _demand_trajectories(report: CohortReport) -> list[charts.Trajectory]:
    demand = {t.value for t in DEMAND_TYPES}
    result = []
    for r in report.people:
        o = r.outcome
        if not (o.before_days_at_risk and o.after_days_at_risk):
            continue
        before = sum(t.before.count for t in o.types if t.incident_type in demand)
        after = sum(t.after.count for t in o.types if t.incident_type in demand)
        result.append(
            charts.Trajectory(before / o.before_person_years, after / o.after_person_years)
        )
    return result


def _engagement_section(e: outcome_data.CohortEngagement) -> list[Flowable]:

    return [
        *heading("Engagement since enrolment", "h2"),
        facts_table(
            [
                ("Contacts", f"{e.contacts} over {e.person_months:.1f} person-months"),
                ("Contacts per person-month", number(e.contacts_per_person_month, 1)),
                ("Attended", f"{e.attended} of {e.contacts} ({share(e.attended_share)})"),
                (
                    "Planned visits done on time",
                    f"{e.planned_done_on_time} of {e.planned_due} due"
                    f" ({share(e.on_time_share)}; within 7 days of the date planned)",
                ),
            ],
            label_width=60 * mm,
        ),
    ]


def _methods() -> list[Flowable]:
    s = styles()
    return [
        *heading("How the figures are made", "h2"),
        para(
            "Windows are fixed in advance from each person's enrolment date: <i>before</i> is"
            " the chosen number of months up to enrolment, <i>after</i> runs from enrolment to"
            " the earliest of today, closure or the same length, and <i>prior</i> is the same"
            " length before <i>before</i>. Rates are incidents per person-year at risk (365.25"
            " days), pooled over everyone. Rate ratios (after ÷ before) have exact 95%"
            " confidence intervals by the conditional binomial (Clopper–Pearson) method;"
            " they describe the figures and are not a test, because the same people are"
            " measured twice. Medians and quartiles interpolate between values (type 7)."
            " Counts marked † include a prorated share of a baseline total.",
            s["small"],
        ),
    ]
