"""The data dictionary of an export, and the extract's columns that are not quasi-identifiers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sim_desk import __version__
from sim_desk.exchange import aggregates as agg
from sim_desk.exchange import anonymise as anon
from sim_desk.records.codes import IncidentType
from sim_desk.records.read_models.outcome_data import ALL_TYPES
from sim_desk.records.unit_of_work import LOCAL_ZONE

if TYPE_CHECKING:
    from sim_desk.exchange.export import ExportPlan
    from sim_desk.records.read_models.releases import EarlierRelease

LIMITS = (
    "There is no control group: a fall after enrolment cannot be put down to SIM alone.",
    "People are enrolled at a peak of crisis, so part of any fall is regression to the mean.",
    "Numbers are small; counts come from police, NHS and self-report sources of varying"
    " completeness, and some counts before enrolment are estimated from period totals.",
    "Harms are counted alongside demand (crisis services used): read them together.",
)
PUBLISHED_USE = (
    "Anonymous published figures: safe to put in a board paper, a report or on a website."
    " Small numbers are suppressed, counts rounded, and no suppressed or rounded figure can be"
    " worked out from the others (checked by the disclosure audit below)."
)
EXTRACT_USE = (
    "Pseudonymised personal data (UK GDPR): for analysts inside the trust under a data-sharing"
    " agreement only. Not for publication, not to be shared onward, not to be linked with other"
    " data to find out who anyone is. Store it as you would patient records and delete it when"
    " the analysis is done."
)

DIRECTION_LABELS = {
    "down": "the rate of all crisis demand fell",
    "level": "it stayed the same",
    "up": "it rose",
    "too_early": f"too early to tell (under {agg.MIN_FOLLOW_UP_DAYS} days of follow-up, or no"
    " time at risk before or after)",
}


def _harms_band(count: int | None) -> str:
    if count is None:
        return anon.NOT_KNOWN
    return "0" if count == 0 else "1-2" if count <= 2 else "3+"


def _attended_band(share: float | None) -> str:
    if share is None:
        return "no contacts"
    for top, label in ((0.25, "0-24%"), (0.5, "25-49%"), (0.75, "50-74%")):
        if share < top:
            return label
    return "75-100%"


#: The extract's columns after the quasi-identifiers: labels only, never an exact figure.
EXTRACT_ATTRIBUTES: tuple[anon.Attribute, ...] = (
    anon.Attribute(
        "demand_direction",
        "demand_direction",
        "Direction of change in the rate of all crisis demand, after against before",
        tuple(agg.DIRECTIONS),
        lambda value: str(value),
        sensitive=True,
    ),
    anon.Attribute(
        "harms_after",
        "harms_after",
        "All harms in the after window, banded (0, 1-2, 3+)",
        ("0", "1-2", "3+"),
        _harms_band,
        sensitive=True,
    ),
    anon.Attribute(
        "attended_share",
        "attended_share",
        "Share of contacts in the after window the person attended, banded",
        ("no contacts", "0-24%", "25-49%", "50-74%", "75-100%"),
        _attended_band,
    ),
    anon.Attribute(
        "before_estimated",
        "before_estimated",
        "yes if a before count includes a share of a period total (estimated), else no",
        ("yes", "no"),
        lambda value: "yes" if value else "no",
    ),
)


def _date_time(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).isoformat(timespec="seconds")


def data_dictionary(
    plan: ExportPlan,
    *,
    exported_at: datetime,
    hashes: Mapping[str, str],
    earlier: Sequence[EarlierRelease] = (),
) -> dict[str, Any]:
    """The data dictionary: every column, what was done to the data, and its limits."""
    people_columns: list[dict[str, Any]] = [
        {
            "name": "pseudonym",
            "meaning": "HMAC-SHA256 of the person's internal record id under the export key",
            "unit": "64 hex digits",
        }
    ]
    for qi, g in zip(anon.QUASI_IDENTIFIERS, plan.generalisations, strict=True):
        people_columns.append(
            {"name": qi.column, "meaning": qi.meaning, "unit": g.applied, "quasi_identifier": True}
        )
    people_columns += [
        {
            "name": a.column,
            "meaning": a.meaning,
            "values": list(a.values),
            **({"outcome": True} if a.sensitive else {}),
        }
        for a in EXTRACT_ATTRIBUTES
    ]
    types = {t: IncidentType(t).label for t in ALL_TYPES}
    files: dict[str, Any] = {
        "aggregates.csv": {
            "product": "published figures",
            "use": PUBLISHED_USE,
            "sha256": hashes["aggregates.csv"],
            "columns": {
                "table": "flow (everyone referred) or outcomes (everyone enrolled)",
                "breakdown": "how the table is split: "
                + "; ".join(f"{b}: {meaning}" for b, meaning in agg.BREAKDOWNS),
                "group": "the group within the breakdown",
                "incident_type": "the incident type, all_demand, all_harms, or empty",
                "measure": "what the value is (see measures)",
                "value": "a number; empty when not published (see status)",
                "status": "how the value was published (see statuses)",
            },
            "statuses": agg.STATUSES,
            "measures": {m: {"meaning": a, "unit": b} for m, (a, b) in agg.MEASURES.items()},
        },
        "export.xlsx": {
            "sha256": hashes["export.xlsx"],
            "sheets": (["people"] if plan.extract_written else []) + ["aggregates"],
            "note": "the same tables as the CSV files; values are numbers, and a figure that is"
            " not published is an empty cell",
        },
    }
    if plan.extract_written:
        files["people.csv"] = {
            "product": "pseudonymised extract",
            "use": EXTRACT_USE,
            "sha256": hashes["people.csv"],
            "columns": people_columns,
        }
    return {
        "format": "sim-desk-export",
        "format_version": 2,
        "software": {"name": "SIM Desk", "version": __version__},
        "exported_at": _date_time(exported_at),
        "data_as_of": plan.data_as_of.isoformat(),
        "data_as_of_rule": "the last day of the month before the export: every export made in"
        " the same month covers the same period and repeats the period's first release",
        "products": {
            "published figures": {"files": ["aggregates.csv", "export.xlsx"], "use": PUBLISHED_USE},
            "pseudonymised extract": {
                "files": ["people.csv", "export.xlsx"] if plan.extract_written else [],
                "use": EXTRACT_USE,
                **(
                    {"not_written": plan.release.extract_refused}
                    if plan.release.extract_refused
                    else {}
                ),
            },
        },
        "outcome_window_months": plan.months,
        "windows": "before: the months before enrolment; after: enrolment to the earlier of the"
        " data date, closure, or the same number of months. Rates are per person-year at risk"
        " (days in hospital or custody are not at risk).",
        "never_included": "names, NHS numbers, police references, dates of birth, addresses,"
        " free text, exact dates, per-person rates, exact months, exact incident counts",
        "incident_types": types
        | {"all_demand": "All crisis demand types", "all_harms": "All harm types"},
        "incident_type_groups": {
            total: {"label": label, "made_of": {m: types[m] for m in agg.TOTAL_TYPES[total]}}
            for total, label in (
                ("all_demand", "All crisis demand"),
                ("all_harms", "All harms"),
            )
        },
        "directions": DIRECTION_LABELS,
        "minimum_follow_up_days": agg.MIN_FOLLOW_UP_DAYS,
        "small_numbers": {"rule": agg.SMALL_NUMBER_RULE, "applies_to": ["aggregates.csv"]},
        "disclosure_audit": {
            "what": "For every rounded or suppressed figure, the smallest and largest value"
            " consistent with everything published in this export (every table, row, column and"
            " total), found by integer programming (HiGHS, through SciPy), as tau-ARGUS audits"
            " tables. A figure passes when that range still holds its whole band: all of 1 to 7"
            " for a suppressed small count, everything that rounds to the printed figure for a"
            " rounded one. A table that fails is not written. cells_at_risk counts the figures"
            " the first pass did not prove safe (nearly all could be narrowed); each led to a"
            " complementary suppression.",
            **plan.disclosure,
        },
        "pseudonyms": {
            "method": "HMAC-SHA256 over the 16 bytes of the internal record id",
            "linkage": plan.linkage,
            "key": "the vault's linkage key, granted by a team lead: the same person has the same"
            " pseudonym in every linked extract (the one exception to 'exports cannot be"
            " compared'; keep linked extracts apart from other data)"
            if plan.linkage
            else "a fresh random key, forgotten after the export: pseudonyms match no other export",
        },
        "k_anonymity": {
            "quasi_identifiers": [qi.column for qi in anon.QUASI_IDENTIFIERS],
            "k_required": plan.k,
            "k_reached": plan.k_reached,
            "rows_total": plan.rows_total,
            "rows_released": len(plan.people_rows),
            "rows_suppressed": plan.rows_suppressed,
            "max_suppressed_share": plan.max_suppressed_share,
            "generalisations": [
                {"column": g.column, "level": g.level, "applied": g.applied, "ladder": g.ladder}
                for g in plan.generalisations
            ],
            "by_quasi_identifier_set": [
                {
                    "set": s.name,
                    "columns": list(s.columns),
                    "k": s.k,
                    "l_diversity": dict(s.l_diversity),
                }
                for s in plan.safety
            ],
            "l_diversity_means": "for each outcome column, the fewest different values it takes"
            " within one group of people who share every quasi-identifier (1: everyone in some"
            " group has the same value, so knowing someone is in that group tells their value)",
            "suppression_rule": "Quasi-identifiers are generalised up their ladders until at most"
            " the allowed share of people would be left out; then every person whose combination"
            " of all quasi-identifiers together occurs fewer than k times is left out of"
            " people.csv. The published figures still count them.",
        },
        "releases_of_this_period": [
            {
                "released_at": _date_time(r.released_at),
                "k": r.k,
                "months": r.months,
                "published_sha256": r.published_sha256,
                "extract_sha256": r.extract_sha256,
                "extract_rows": r.extract_rows,
            }
            for r in earlier
        ],
        "this_release": {
            "first_of_its_period": not plan.release.repeat,
            "published_figures_issued_again_as_first_released": plan.release.published_changed,
            "published_sha256": plan.published_sha256,
            "extract_sha256": plan.extract_sha256,
        },
        "files": files,
        "limits": list(LIMITS)
        + (
            [
                "Linked extracts can be joined by pseudonym; joining extracts made with different"
                " generalisations can narrow groups below k. Keep linked extracts apart."
            ]
            if plan.linkage
            else []
        ),
    }
