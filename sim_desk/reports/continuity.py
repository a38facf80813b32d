"""The "beyond demand" section of the person and cohort reports: onward referrals made and
how they turned out, connection with continuing support at step-down, and the wait from
referral to first contact. Definitions are printed with the figures (``outcomes.continuity``).
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from sim_desk.records import outcomes
from sim_desk.records.outcomes import OUTCOME_LABELS, Continuity
from sim_desk.reports.layout import facts_table, number, share
from sim_desk.reports.pdf import heading, para, styles

INDENT = "\u00a0" * 4  # leading spaces would be dropped by the paragraph
DEFINITION = (
    "A referral's outcome is the furthest it got (attended, else accepted, else declined). A"
    " person is <i>connected with continuing support at step-down</i> when, by the day they"
    " moved to stepping down (or closed as stepped down), at least one onward referral had been"
    " accepted or attended, or their handover plan named a continuing worker from their circle."
    " Everyone who stepped down is counted, including records from before handover plans."
)


def _waits(c: Continuity) -> str:
    f = c.first_contact
    if f.median is None:
        return "No first contact dates recorded yet"
    text = f"median {number(f.median, 0)} days (IQR {number(f.q1, 0)} to {number(f.q3, 0)}), {f.n}"
    text += " referral" if f.n == 1 else " referrals"
    if c.first_contact_unknown:
        text += f"; date not known for {c.first_contact_unknown}"
    return text


def continuity_section(c: Continuity, *, cohort: bool) -> list[Flowable]:
    """The figures as a facts table, under their definitions."""
    s = styles()
    made = c.referrals + c.signposting
    rows: list[tuple[str, object]] = [
        ("Onward referrals made", f"{c.referrals} referrals and {c.signposting} signposting"),
    ]
    for code in outcomes.continuity_outcomes():
        if made:
            n = c.by_outcome[code]
            rows.append((f"{INDENT}{OUTCOME_LABELS[code]}", f"{n} ({share(n / made)})"))
    if cohort:
        rows.append(
            (
                "Connected with continuing support at step-down",
                f"{c.connected_at_step_down} of {c.stepped_down} people who stepped down"
                f" ({share(c.connected_share)})"
                if c.stepped_down
                else "Nobody has stepped down yet",
            )
        )
    elif c.stepped_down:
        rows.append(
            (
                "Connected with continuing support at step-down",
                "Yes" if c.connected_at_step_down else "No",
            )
        )
    rows.append(("Days from referral to first contact", _waits(c)))
    return [
        *heading("Beyond demand: onward referrals and continuing support", "h2"),
        para(DEFINITION, s["small"]),
        facts_table(rows, label_width=70 * mm),
    ]
