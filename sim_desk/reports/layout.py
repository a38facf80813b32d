"""Building blocks shared by the reports: number formats, tables, the caveat box, suppression."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table, TableStyle

from sim_desk.records import outcomes
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.reports.pdf import DARK, NHS_BLUE, TABLE_FONT, para, rich, styles

#: Width of the text block on A4 with the shared margins.
CONTENT_WIDTH = 174 * mm
STRIPE = colors.HexColor("#eef2f4")
RULE = colors.HexColor("#aeb7bd")
DASH = "–"  # shown where a figure is undefined (no time at risk, no incidents)

#: NHS small-number rule: counts of 1 to 7 are shown as "*".
SUPPRESS_LOW, SUPPRESS_HIGH = 1, 7
SUPPRESSED = "*"


# -- formats ---------------------------------------------------------------------------------


def uk_date(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else DASH


def uk_datetime(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M") if moment else DASH


def number(value: float | None, places: int = 2) -> str:
    """A figure to fixed places; ∞ for an unbounded ratio; a dash when undefined."""
    if value is None:
        return DASH
    if math.isinf(value):
        return "∞"
    return f"{value:.{places}f}"


def count(c: outcomes.WindowCount) -> str:
    """A count, with † when part of it was prorated from a baseline total."""
    return f"{c.count}†" if c.estimated else str(c.count)


def ratio_and_ci(rr: outcomes.RateRatio) -> tuple[str, str]:
    """The rate ratio and its exact 95% CI as printed, e.g. ("0.45", "0.30 to 0.67")."""
    if rr.ratio is None:
        return DASH, DASH
    return number(rr.ratio), f"{number(rr.lower)} to {number(rr.upper)}"


def p_value(p: float | None) -> str:
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def share(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.0f}%"


def is_small(n: int) -> bool:
    return SUPPRESS_LOW <= n <= SUPPRESS_HIGH


def suppressed(n: int) -> str:
    """A count under the small-number rule: 1 to 7 becomes "*", 0 and 8 or more are shown."""
    return SUPPRESSED if is_small(n) else str(n)


# -- flowables -------------------------------------------------------------------------------


def cell(value: object, *, right: bool = False, bold: bool = False) -> Paragraph:
    """A table cell holding plain text from the records (any script)."""
    s = styles()
    body = "<br/>".join(rich(line) for line in str(value).split("\n"))
    return para(f"<b>{body}</b>" if bold else body, s["cell_right" if right else "cell"])


def data_table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    widths: Sequence[float],
    *,
    numeric_from: int = 1,
    total_rows: int = 0,
) -> Table:
    """A striped table with a repeated header; columns from ``numeric_from`` are right-aligned.

    Cells may be Paragraphs already, or plain values (escaped, any script). The last
    ``total_rows`` rows are drawn bold above a rule.
    """
    s = styles()
    head = [
        para(rich(h), s["cell_head_right" if i >= numeric_from else "cell_head"])
        for i, h in enumerate(header)
    ]
    body = []
    for r, row in enumerate(rows):
        bold = r >= len(rows) - total_rows
        body.append(
            [
                v if isinstance(v, Flowable) else cell(v, right=i >= numeric_from, bold=bold)
                for i, v in enumerate(row)
            ]
        )
    table = Table([head, *body], colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    commands: list[tuple[object, ...]] = [
        TABLE_FONT,
        ("BACKGROUND", (0, 0), (-1, 0), NHS_BLUE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE),
    ]
    for r in range(2, len(body) + 1, 2):
        commands.append(("BACKGROUND", (0, r), (-1, r), STRIPE))
    if total_rows:
        commands.append(("LINEABOVE", (0, -total_rows), (-1, -total_rows), 0.8, DARK))
    table.setStyle(TableStyle(commands))
    return table


def facts_table(rows: Sequence[tuple[str, object]], *, label_width: float = 48 * mm) -> Table:
    """Label and value pairs, one per line (values are plain text in any script)."""
    s = styles()
    data = [
        [para(f"<b>{rich(label)}</b>", s["cell"]), v if isinstance(v, Flowable) else cell(v)]
        for label, v in rows
    ]
    table = Table(data, colWidths=[label_width, CONTENT_WIDTH - label_width], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                TABLE_FONT,
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, STRIPE),
            ]
        )
    )
    return table


def boxed(title: str, paragraphs: Sequence[str], *, width: float = CONTENT_WIDTH) -> Flowable:
    """A ruled box with a heading, for the caveats every outcome report carries."""
    s = styles()
    inner = [para(f"<b>{title}</b>", s["body"])]
    inner += [para(p, s["small"]) for p in paragraphs]
    table = Table([[inner]], colWidths=[width])
    table.setStyle(
        TableStyle(
            [
                TABLE_FONT,
                ("BOX", (0, 0), (-1, -1), 1.2, DARK),
                ("BACKGROUND", (0, 0), (-1, -1), STRIPE),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return KeepTogether([table])


def outcome_caveats(*, cohort: bool) -> list[str]:
    """The design's limits in plain words (DESIGN.md section 5), for every outcome report."""
    who = "these people" if cohort else "this person"
    items = [
        "<b>No control group.</b> These figures compare each window with the one before it for"
        f" {who} only. Nothing here shows what would have happened without the programme.",
        "<b>Regression to the mean.</b> People are referred when their crises are at a peak, and"
        " peaks usually pass whatever is done. In a randomised trial of a similar"
        ' "hotspotting" programme for people with frequent hospital admissions, admissions fell'
        " by the same amount with and without the programme. The <i>prior</i> window (the year"
        " before the <i>before</i> window) shows whether use was already changing before"
        " referral.",
        "<b>Small numbers.</b> A few people, and a few incidents each, make rates that move a lot"
        " by chance. The 95% confidence intervals are exact (conditional binomial) and"
        " descriptive: the same people are measured twice, so they are not a test of the"
        " programme.",
        "<b>Data from different sources.</b> Police, NHS and self-reported incidents are recorded"
        " differently and may be missing or counted twice across services. Counts marked †"
        " include a share of a baseline total recorded for a period rather than as dated events.",
        "<b>Harms are counted alongside demand.</b> Self-harm, deaths, complaints, safeguarding"
        " concerns and police or legal action are reported next to crisis demand, so that a fall"
        " in demand is never read without them.",
    ]
    return items


def legend_note() -> Paragraph:
    return para(
        "Rates are incidents per person-year at risk (days in hospital or custody are not at"
        f" risk). {DASH} means not defined (no time at risk, or no incidents in either window);"
        " ∞ means incidents after enrolment and none before. <i>Later</i> counts incidents"
        " after the after window (after closure, after its length, or today): shown so that"
        " none is lost, but in no rate.",
        styles()["small"],
    )


def reading_box(items: Sequence[tuple[str, str]], title: str) -> Flowable:
    """The plain-English "how to read these figures" box: each term in bold, then its meaning."""
    return boxed(title, [f"<b>{rich(term)}:</b> {rich(meaning)}" for term, meaning in items])
