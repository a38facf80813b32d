"""How to read the outcome figures, in plain English: one text for the PDFs and the app.

Plain strings only (no reportlab, no Qt): each is a term and what it means here, so the PDF can
set the term in bold and the app in its own style. Numbers that the figures depend on (the
minimum follow-up) come from ``records.outcomes``, so the words cannot drift from the arithmetic.
"""

from __future__ import annotations

from sim_desk.records.outcomes import MINIMUM_FOLLOW_UP_DAYS, PersonOutcome

TITLE = "How to read these figures"

RATE = (
    "Rate",
    "incidents for each year of time at risk (a person-year). One person followed for a whole"
    " year outside hospital or custody is one person-year; two people followed for six months"
    " each are one person-year too. A rate of 3.0 is three incidents a year.",
)
PERSON_YEARS = (
    "Person-years at risk",
    "the time followed up, less the days spent in hospital or custody, when a crisis in the"
    " community could not happen. Someone enrolled recently, or whose record closed early, has"
    " less time after enrolment than before.",
)
RATE_RATIO = (
    "Rate ratio (95% CI)",
    "the rate after enrolment divided by the rate before: 1 is no change, below 1 fewer"
    " incidents after, above 1 more. A rate ratio of 0.6 with a confidence interval (CI) of"
    " 0.4 to 0.9 means incidents happened at six-tenths of the earlier rate (40% fewer), and"
    " that chance alone, a few incidents more or fewer, could have given anything from about"
    " 0.4 to 0.9. It does not mean the programme caused the fall: there is no comparison group,"
    " and people are referred at a peak that often passes anyway (regression to the mean). An"
    " interval that includes 1, such as 0.7 to 1.3, means the figures cannot tell a fall from"
    " no change.",
)
LATER = (
    "Later",
    "incidents after the after window ended (after the record closed, after the window's"
    " length, or today): counted and shown, but not in the rates, which compare windows fixed"
    " in advance.",
)
DIRECTIONS = (
    "Went down, level, went up",
    "each person's own rate after enrolment against their own rate before, once they have had"
    f" at least {MINIMUM_FOLLOW_UP_DAYS} days at risk since enrolment. Anyone followed up for"
    " less is counted as too early to tell, not as a fall: a few quiet weeks say little.",
)
WILCOXON = (
    "Wilcoxon p",
    "how surprising the pattern of people's changes would be if, for people like these, rises"
    " and falls were equally likely. A small p (below 0.05) says falls outnumber or outweigh"
    " rises by more than chance usually gives; it does not say by how much, or why, and it is"
    " not the chance that the programme works.",
)
PRATT = (
    "Pratt's method",
    "people whose rate did not change stay in the ranking of the sizes of the changes, but"
    " count as neither a rise nor a fall.",
)
MEDIAN = (
    "Median (IQR)",
    "the middle person's rate, and the range holding the middle half of people (the"
    " interquartile range).",
)

#: For the cohort report and the Reports page.
COHORT: tuple[tuple[str, str], ...] = (
    RATE,
    PERSON_YEARS,
    RATE_RATIO,
    LATER,
    DIRECTIONS,
    MEDIAN,
    WILCOXON,
    PRATT,
)

#: For one person's report and the Outcomes tab: the same words, about one person.
PERSON: tuple[tuple[str, str], ...] = (
    RATE,
    PERSON_YEARS,
    RATE_RATIO,
    LATER,
    (
        "Too early to tell",
        f"with fewer than {MINIMUM_FOLLOW_UP_DAYS} days at risk since enrolment, a change in"
        " this person's rate is not judged: a few quiet weeks say little.",
    ),
)


def follow_up(o: PersonOutcome) -> str:
    """Whether one person's rates after enrolment are compared with before yet, and why not."""
    days = o.after_days_at_risk
    if o.left_out is None:
        return (
            f"Followed up for {days} days at risk since enrolment: long enough (at least"
            f" {MINIMUM_FOLLOW_UP_DAYS}) to compare the rates after with the rates before."
        )
    if o.left_out.too_early:
        return (
            f"Too early to tell: {o.left_out.label} ({days} days at risk so far). The counts"
            f" are complete; a change in the rates is not judged until {MINIMUM_FOLLOW_UP_DAYS}"
            " days at risk."
        )
    return f"Not compared: {o.left_out.label}."


def left_out(pairs: tuple[tuple[object, int], ...]) -> str:
    """The people left out of a person-by-person comparison, by reason ("17 followed up for
    fewer than 90 days at risk; 1 enrolled today, ...")."""
    return "; ".join(f"{n} {getattr(reason, 'label', reason)}" for reason, n in pairs)
