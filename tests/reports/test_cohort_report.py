"""The cohort outcome report: totals, pooled rates, exact CIs and the Wilcoxon test recomputed
here; no names for anyone; small numbers suppressed in the equality section."""

from __future__ import annotations

import re

from scipy import stats
from sqlalchemy import select

from sim_desk.records import disclosure
from sim_desk.records.model import AuditEvent
from sim_desk.records.read_models import outcome_data, report_data
from sim_desk.records.read_models.report_data import EqualityTable, GroupFigures
from sim_desk.records.vault.audit import Action
from sim_desk.reports import equality
from sim_desk.reports.cohort_report import cohort_report_pdf
from tests.reports import expected as ex
from tests.reports.conftest import all_text


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def test_cohort_totals_rates_and_cis_match_an_independent_count(lead, scenario):
    text = all_text(cohort_report_pdf(lead, months=12))
    everyone = scenario.everyone
    windows = [ex.windows(p) for p in everyone]
    years = {
        name: sum(
            ex.days_at_risk(p, getattr(w, name)) for p, w in zip(everyone, windows, strict=True)
        )
        / ex.YEAR
        for name in ("prior", "before", "after")
    }
    assert f"Prior {years['prior']:.2f} 19" in text
    assert f"After {years['after']:.2f} 19" in text
    for kind, label in (("s136", "Section 136 detention"), ("call_999", "999 call")):
        n = {
            name: sum(
                ex.count(p, kind, getattr(w, name)) for p, w in zip(everyone, windows, strict=True)
            )
            for name in ("prior", "before", "after", "later")
        }
        lower, upper = ex.exact_ci(n["after"], years["after"], n["before"], years["before"])
        ratio = (n["after"] / years["after"]) / (n["before"] / years["before"])
        row = " ".join(
            [
                label,
                str(n["prior"]),
                str(n["before"]),
                str(n["after"]),
                str(n["later"]),
                *(f"{n[w] / years[w]:.2f}" for w in ("prior", "before", "after")),
                f"{ratio:.2f}",
                f"{ex.fmt(lower)} to {ex.fmt(upper)}",
            ]
        )
        assert row in text, row


def test_wilcoxon_and_directions_match_scipy_on_rates_worked_out_here(lead, scenario):
    text = all_text(cohort_report_pdf(lead))
    diffs, down, level, up, too_early = [], 0, 0, 0, 0
    for p in scenario.everyone:
        w = ex.windows(p)
        if ex.days_at_risk(p, w.after) < 90:
            too_early += 1
            continue
        before = ex.count(p, "s136", w.before) / (ex.days_at_risk(p, w.before) / ex.YEAR)
        after = ex.count(p, "s136", w.after) / (ex.days_at_risk(p, w.after) / ex.YEAR)
        diffs.append(round(after - before, 12))
        down, level, up = down + (after < before), level + (after == before), up + (after > before)
    result = stats.wilcoxon(diffs, zero_method="pratt", method="asymptotic")
    p = "<0.001" if result.pvalue < 0.001 else f"{result.pvalue:.3f}"
    compared = down + level + up
    row = (
        f"Section 136 detention {compared} .*? {down} {level} {up} {too_early}"
        f" {result.statistic:.1f} {p}"
    )
    assert re.search(row, _section(text, "Person by person", "Trajectories")), row
    assert "normal approx." in text and "Pratt's method" in text


def test_everyone_is_counted_in_the_flow(lead, scenario):
    text = all_text(cohort_report_pdf(lead))
    assert "Referred in the period 19" in text
    assert "enrolled (everyone counted below) 19" in text


def test_analysts_cohort_report_has_no_names(team, scenario):
    with team.unlock("analyst") as analyst:
        text = all_text(cohort_report_pdf(analyst))
    assert "Cohort outcome report" in text and "Section 136 detention" in text
    for person in scenario.everyone:
        assert person.given not in text and person.family not in text, person.name
    assert "Testperson" not in text


def _audit_as_printed(protected, tables, everyone) -> disclosure.Audit:
    """The export's disclosure audit, run on the cells as printed ("*" or a number), each hidden
    one needing the band the design asks: 1 to 7 for a small count (none to the total, when the
    total for everyone is under 7), ±2 for any other figure of a group of 1 to 7 people (as the
    export would round it), nothing for a figure hidden only to protect another."""
    cells = {}
    for field in equality.COUNT_FIELDS:
        cells[("all", "All", field)] = disclosure.shown(
            ("all", "All", field), getattr(everyone, field)
        )
    for table in tables:
        for figures, printed in zip(
            table.rows, equality.printed_rows(protected, table), strict=False
        ):
            small_group = 1 <= figures.people <= 7
            values = dict(zip(equality.HEADER, printed, strict=True))
            not_counts = ("Group", "Rate before", "Rate after")
            headers = [h for h in equality.HEADER if h not in not_counts]
            for field, header in zip(equality.COUNT_FIELDS, headers, strict=True):
                key = (table.dimension, figures.group, field)
                value = getattr(figures, field)
                if values[header] != "*":
                    assert int(values[header]) == value
                    cells[key] = disclosure.shown(key, value)
                    continue
                total = getattr(everyone, field)
                if value == 0:
                    band = (0, min(total, 1))  # a small group's zero: not told from 1
                elif 1 <= value <= 7:
                    band = (1, 7) if total >= 7 else (0, total)  # which group, if under 7
                elif small_group:
                    band = disclosure.NHS_RULE.suppressed_band(value)
                else:
                    band = (value, value)
                cells[key] = disclosure.suppressed(key, value, band=band)
    return disclosure.audit(cells.values(), equality.relations_for(tables), exact=True)


def _no_lone_hidden_figure(protected, tables) -> None:
    """An attacker's first try, independent of the audit: a row or column with exactly one
    hidden figure and a printed total gives it away by subtraction (harmless only where the
    total is 0, which says every figure in it is 0)."""
    for table in tables:
        printed = equality.printed_rows(protected, table)
        header = list(equality.HEADER)
        total = printed[-1]
        directions = [header.index(h) for h in ("Went down", "Level", "Went up", "Not compared")]
        for row in printed:
            if row[1] != "*":
                lone = [i for i in directions if row[i] == "*"]
                assert len(lone) != 1 or total[lone[0]] == "0", row
        counts = ("People", "Crisis before", "Crisis after", "Harms before", "Harms after")
        for i in [*(header.index(c) for c in counts), *directions]:
            hidden = sum(row[i] == "*" for row in printed[:-1])
            assert hidden != 1 or total[i] == "0", (table.dimension, header[i])


def test_equality_tables_hide_small_numbers_and_leave_nothing_to_work_back(lead, scenario):
    report = outcome_data.cohort_outcomes(lead)
    breakdown = report_data.equality_tables(lead, report)
    protected = equality.protect_tables(breakdown.tables, breakdown.everyone)
    text = all_text(cohort_report_pdf(lead))
    equality_text = text[text.index("Equality") :]
    for table in breakdown.tables:
        rows = equality.printed_rows(protected, table)
        for figures, printed in zip([*table.rows, breakdown.everyone], rows, strict=True):
            assert " ".join(printed) in equality_text  # what is checked is what is printed
            if figures is breakdown.everyone or len(table.rows) == 1:
                continue  # the All row, or a table whose one group is everyone
            for field in equality.COUNT_FIELDS:
                if 1 <= getattr(figures, field) <= 7:
                    assert protected.hidden(table.dimension, figures.group, field), field
    # White: 14 fillers + the Polish and Greek names = 16 of 19; the other groups have 1 or 2,
    # so printing White's 16 would leave 3 for them: White is hidden too.
    assert "Asian or Asian British * * * * *" in equality_text
    assert "White * * * " in equality_text
    # Everyone is 35 to 44: that table repeats the All row, and hides nothing.
    assert "35 to 44 19 32 17" in equality_text
    _no_lone_hidden_figure(protected, breakdown.tables)
    audit = _audit_as_printed(protected, breakdown.tables, breakdown.everyone)
    assert audit.ok, [disclosure.explain(c) for c in audit.unsafe]
    assert "Checked by the disclosure audit the anonymised export uses" in equality_text


def test_a_hidden_direction_cannot_be_worked_back_from_its_row_or_column():
    def group(name, people, down, level, up, not_compared=0):
        return GroupFigures(name, people, 1.0, 1.0, 50, 30, 10, 8, down, level, up, not_compared)

    table = EqualityTable(
        "Ethnic group",
        (
            # The old rule hid the 5 alone: 20 − 15 − 0 − 0 in its row, and 5 − 0 − 0 in its
            # column against the total, both gave it back.
            group("White", 20, 15, 0, 5),
            group("Asian or Asian British", 12, 9, 0, 0, 3),
            group("Black or Black British", 9, 8, 1, 0),
        ),
    )
    everyone = GroupFigures("All", 41, 3.0, 3.0, 150, 90, 30, 24, 32, 1, 5, 3)
    protected = equality.protect_tables([table], everyone)
    assert protected.ok and protected.hidden("Ethnic group", "White", "up")
    _no_lone_hidden_figure(protected, [table])
    audit = _audit_as_printed(protected, [table], everyone)
    assert audit.ok
    # Only 5 went up in all, so which group they are in is what stays hidden: none to all 5.
    white_up = audit[("Ethnic group", "White", "up")]
    assert (white_up.low, white_up.high) == (0, 5)


def test_cohort_report_is_audited(lead, scenario):
    cohort_report_pdf(lead)
    with lead.read() as session:
        last = session.execute(
            select(AuditEvent.action, AuditEvent.entity_type, AuditEvent.detail)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).one()
    assert last.action == Action.REPORT and last.entity_type == "cohort"
    assert last.detail["report"] == "cohort_outcome" and last.detail["enrolled"] == 19
