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

from sim_desk.records import outcomes, people
from sim_desk.records.codes import DEMAND_TYPES, HARM_TYPES, ExitReason, IncidentType
from sim_desk.records.read_models import outcome_data, report_data
from sim_desk.records.read_models.outcome_data import CohortReport
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.reports import charts, reading, team_mode
from sim_desk.reports.continuity import continuity_section
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
    reading_box,
    share,
    uk_date,
)
from sim_desk.reports.outcome_tables import (
    before_after_bars,
    cohort_rows,
    demand_table,
    harms_table,
)
from sim_desk.reports.pdf import Provenance, build_pdf, heading, para, rich, styles, write_pdf

Progress = Callable[[float, str], None] | None
AROUND_CAPTION = (
    "Months are counted from each person's enrolment (0 is the first month after it). After "
    "enrolment, a month counts only the people followed up for the whole month. History known"
    " only as a total for a period has no month and is left out. A peak just before enrolment"
    " that falls away is what regression to the mean looks like."
)
TRAJECTORY_CAPTION = (
    "One line per person compared, unlabelled, from their crisis rate before enrolment to their"
    " rate after."
)
PAIRED_WIDTHS = [w * mm for w in (25, 13, 24, 24, 11.5, 11, 9, 12, 14.5, 14, 16)]  # 174 mm
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
        *team_mode.completeness_box(vault),
        Spacer(1, 3 * mm),
        boxed("Read these figures with care", outcome_caveats(cohort=True)),
        Spacer(1, 3 * mm),
        reading_box(reading.COHORT, reading.TITLE),
        *_flow_section(report),
    ]
    if report.people:
        story += _person_time_section(report)
        story += [
            *heading("Crisis demand", "h3"),
            para(_who_is_in_the_totals(report), s["small"]),
            demand_table(rows),
            *heading("Harms, counted alongside demand", "h3"),
            harms_table(rows),
            legend_note(),
            *_deaths_note(report),
        ]
        bars = before_after_bars(rows, (*DEMAND_TYPES, *HARM_TYPES))
        if bars is not None:
            story.append(KeepTogether([*heading("Pooled rates before and after", "h3"), bars]))
        story += _around_section(around, report.months)
        story += _paired_section(report)
        story += _engagement_section(report.engagement)
        if report.continuity is not None:
            story += continuity_section(report.continuity, cohort=True)
        story += equality_section(equality.tables, equality.everyone)
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
    rows = [
        ["Referred in the period", str(f.referred)],
        [f"{INDENT}not enrolled: still waiting", str(f.waiting)],
    ]
    for reason in ExitReason:
        if reason.value in f.closed_at_referral:
            label = (
                "not enrolled: closed at referral"
                if reason == ExitReason.NOT_ENROLLED
                else f"not enrolled: closed at referral ({reason.label.lower()})"
            )
            rows.append([f"{INDENT}{label}", str(f.closed_at_referral[reason.value])])
    if not f.closed_at_referral:
        rows.append([f"{INDENT}not enrolled: closed at referral", "0"])
    rows += [
        [f"{INDENT}enrolled (everyone counted below)", str(f.enrolled)],
        ["Of those enrolled, today:", ""],
        [f"{INDENT}active", str(f.active)],
        [f"{INDENT}stepping down", str(f.stepping_down)],
    ]
    for reason in ExitReason:
        if reason.value in f.closed:
            rows.append([f"{INDENT}closed: {reason.label.lower()}", str(f.closed[reason.value])])
    return [
        *heading("Everyone counted", "h2"),
        para(
            "Intention to treat: everyone enrolled is in every total below, including people"
            " who disengaged, moved away or died. Statuses are as they are today; the rows"
            " under each heading add up to the line above them.",
            s["small"],
        ),
        data_table(("Stage", "People"), rows, [120 * mm, 30 * mm]),
    ]


def _who_is_in_the_totals(report: CohortReport) -> str:
    f = report.flow
    text = (
        f"Everyone enrolled ({f.enrolled}) is in these totals and rates, including anyone left"
        " out of the person-by-person comparison."
    )
    if f.not_enrolled:
        text += (
            f" The {f.not_enrolled} people referred but not enrolled have no windows and are"
            " not in them."
        )
    return rich(text)


def _deaths_note(report: CohortReport) -> list[Flowable]:
    """Deaths recorded as incidents beside records closed because the person died, so a
    difference between the two is seen rather than hidden."""
    died = report.flow.closed.get(ExitReason.DIED.value, 0)
    death = report.outcome.type_outcome(IncidentType.DEATH.value)
    recorded = death.prior_total.count + death.before_total.count + death.after_total.count
    recorded += death.later_total.count
    if not died and not recorded:
        return []
    text = (
        f"Records closed because the person died: {died}. Deaths recorded as incidents: after"
        f" enrolment {death.after_total.count}, later {death.later_total.count}."
    )
    if died != death.after_total.count + death.later_total.count:
        text += (
            " These differ: a death recorded only as the reason a record closed is not an"
            " incident, so record the death as an incident too."
        )
    return [para(rich(text), styles()["small"])]


def _person_time_section(report: CohortReport) -> list[Flowable]:
    s = styles()
    first = report.outcome.types[0]
    with_time = {
        name: sum(1 for r in report.people if getattr(r.outcome, f"{name}_days_at_risk") > 0)
        for name in ("prior", "before", "after")
    }
    note = (
        "Days in hospital or custody are not at risk and are left out. The after window of"
        " someone enrolled recently, or closed early, is shorter than the others."
    )
    without = {name: first.n_people - n for name, n in with_time.items() if n < first.n_people}
    if without:
        note += " People with no time at risk in a window add nothing to it: " + ", ".join(
            f"{n} in the {name} window" for name, n in without.items()
        )
        note += " (enrolled today, or in hospital or custody throughout)."
    return [
        *heading("Person-time at risk", "h2"),
        para(rich(note), s["small"]),
        data_table(
            ("Window", "Person-years at risk", "People with time at risk"),
            [
                [name.capitalize(), number(getattr(first, f"{name}_person_years")), str(n)]
                for name, n in with_time.items()
            ],
            [60 * mm, 45 * mm, 45 * mm],
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
    cohort = report.outcome
    body, untested, details = [], [], set()
    for t in cohort.types:
        w = t.wilcoxon
        label = IncidentType(t.incident_type).label
        if w.reason:
            untested.append(label)
        if w.method_detail:
            details.add(f"{w.method}: {w.method_detail}")
        body.append(
            [
                label,
                str(t.n_paired),
                _median(t.before_summary),
                _median(t.after_summary),
                str(t.directions.down),
                str(t.directions.level),
                str(t.directions.up),
                str(t.directions.too_early),
                number(w.statistic, 1),
                p_value(w.p_value),
                {"normal approximation": "normal approx."}.get(w.method or "", w.method)
                or "not tested",
            ]
        )
    no_rate_before = cohort.n_people - cohort.n_compared - cohort.too_early
    who = (
        f"{cohort.n_compared} of the {cohort.n_people} people enrolled are compared: each"
        " person's rate after enrolment against their own rate before, once they have had"
        f" {outcomes.MINIMUM_FOLLOW_UP_DAYS} days at risk since enrolment."
    )
    if cohort.left_out:
        who += (
            " Left out of this comparison, and of the chart below, but in every total above: "
            + reading.left_out(cohort.left_out)
            + "."
        )
    if cohort.too_early:
        who += (
            f" The {cohort.too_early} too early to tell are counted in their own column, never"
            " as a fall."
        )
    story: list[Flowable] = [
        *heading("Person by person", "h2"),
        para(rich(who), s["body"]),
        para(
            "The paired Wilcoxon signed-rank test is two-sided. Zero differences: "
            + rich(outcomes.ZERO_HANDLING),
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
                "Too early to tell",
                "W",
                "p",
                "Method",
            ),
            body,
            PAIRED_WIDTHS,
        ),
    ]
    notes = []
    if no_rate_before:
        notes.append(
            f"Down, level, up and too early to tell add up to {cohort.n_people - no_rate_before},"
            f" not {cohort.n_people}: {no_rate_before} had no rate before enrolment."
        )
    if details:
        notes.append(f"Methods: {'; '.join(sorted(details))}.")
    if untested:
        notes.append(
            "Not tested, because fewer than two people's rates changed: "
            + ", ".join(untested)
            + "."
        )
    story += [para(rich(n), s["small"]) for n in notes]
    trajectories = _demand_trajectories(report)
    if trajectories:
        left = cohort.n_people - len(trajectories)
        caption = TRAJECTORY_CAPTION
        if left:
            caption += f" The {left} people left out of the comparison (above) are not drawn."
        story.append(
            KeepTogether(
                [
                    *heading("Trajectories: all crisis demand together", "h3"),
                    charts.trajectory_chart(
                        trajectories,
                        not_drawn=_not_drawn(report),
                    ),
                    para(rich(caption), s["small"]),
                ]
            )
        )
    return story


def _not_drawn(report: CohortReport) -> list[str]:
    cohort = report.outcome
    lines = []
    if cohort.too_early:
        lines.append(f"{cohort.too_early} too early to tell")
    no_rate = cohort.n_people - cohort.n_compared - cohort.too_early
    if no_rate:
        lines.append(f"{no_rate} with no rate before")
    return lines


def _median(summary: outcomes.Summary) -> str:
    if summary.median is None:
        return DASH
    return f"{summary.median:.2f} ({summary.q1:.2f}–{summary.q3:.2f})"


def _demand_trajectories(report: CohortReport) -> list[charts.Trajectory]:
    demand = {t.value for t in DEMAND_TYPES}
    result = []
    for r in report.people:
        o = r.outcome
        if not o.compared:
            continue
        before = sum(t.before.count for t in o.types if t.incident_type in demand)
        after = sum(t.after.count for t in o.types if t.incident_type in demand)
        result.append(
            charts.Trajectory(before / o.before_person_years, after / o.after_person_years)
        )
    return result


def _engagement_section(e: outcome_data.CohortEngagement) -> list[Flowable]:
    s = styles()
    outside = (
        "Every contact from each person's enrolment to the end of their follow-up (the day"
        " their record closed, or today) is counted, beyond the after window too."
    )
    if e.contacts_before or e.contacts_after:
        outside += (
            f" Not counted here: {e.contacts_before} contacts before enrolment (during"
            f" referral) and {e.contacts_after} after a record closed."
        )
    return [
        *heading("Engagement since enrolment", "h2"),
        para(rich(outside), s["small"]),
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
            " the earliest of closure, today or the same length, and <i>prior</i> is the same"
            " length before <i>before</i>. Rates are incidents per person-year at risk (365.25"
            " days), pooled over everyone. Rate ratios (after ÷ before) have exact 95%"
            " confidence intervals by the conditional binomial (Clopper–Pearson) method;"
            " they describe the figures and are not a test, because the same people are"
            " measured twice. Medians and quartiles interpolate between values (type 7)."
            " Counts marked † include a prorated share of a baseline total.",
            s["small"],
        ),
        para("<b>Where the windows begin and end.</b> " + outcomes.WINDOW_EDGES, s["small"]),
        para(
            f"<b>Minimum follow-up.</b> A person is compared with themselves (went down, stayed"
            f" level, went up) only after {outcomes.MINIMUM_FOLLOW_UP_DAYS} days at risk since"
            " enrolment; before that they are too early to tell, and counted as such. They are"
            " in every total and pooled rate from the day they are enrolled.",
            s["small"],
        ),
    ]
