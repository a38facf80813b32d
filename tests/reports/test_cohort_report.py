"""The cohort outcome report: totals, pooled rates, exact CIs and the Wilcoxon test recomputed
here; no names for anyone; small numbers suppressed in the equality section."""

from __future__ import annotations

import re

from scipy import stats
from sqlalchemy import select

from sim_desk.records.audit import Action
from sim_desk.records.model import AuditEvent
from sim_desk.reports.cohort_report import cohort_report_pdf
from sim_desk.reports.equality import suppress_column
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


def test_equality_section_suppresses_small_numbers(lead, scenario):
    text = all_text(cohort_report_pdf(lead))
    equality = text[text.index("Equality") :]
    ethnic = _section(equality, "Ethnic group", "Gender")
    # White: 14 fillers + the Polish and Greek names = 16; the other groups have 1 or 2.
    assert re.search(r"White 16 \d+", ethnic)
    assert "Asian or Asian British * * * * *" in ethnic
    assert "Other ethnic groups * * * * *" in ethnic
    gender = _section(equality, "Gender", "Age at enrolment")
    # 8 men and 9 women are shown; 2 non-binary people are hidden, and so (secondary
    # suppression) are the 8 men, or the 9 women could give the 2 away from the total.
    assert re.search(r"Female \(including trans woman\) 9 ", gender)
    assert "Male (including trans man) * " in gender
    assert "Non-binary * " in gender
    for small in re.findall(r"(?<![\d.])([1-7])(?![\d.])", gender.split("Went up", 1)[1]):
        raise AssertionError(f"unsuppressed small count {small} in {gender}")


def test_secondary_suppression_hides_a_second_cell_only_when_one_is_hidden():
    assert suppress_column([16, 2, 1]) == [False, True, True]
    assert suppress_column([9, 8, 2]) == [False, True, True]
    assert suppress_column([9, 0, 2]) == [True, False, True]
    assert suppress_column([20, 12, 0]) == [False, False, False]
    assert suppress_column([20, 12], hidden=[False, True]) == [True, True]


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
