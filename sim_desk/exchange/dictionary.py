"""The data dictionary of an anonymised export, and the per-person columns it describes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sim_desk import __version__
from sim_desk.exchange import aggregates as agg
from sim_desk.exchange import anonymise as anon
from sim_desk.records.codes import IncidentType
from sim_desk.records.outcome_data import ALL_TYPES

if TYPE_CHECKING:
    from sim_desk.exchange.export import ExportPlan

LIMITS = (
    "There is no control group: a fall after enrolment cannot be put down to SIM alone.",
    "People are enrolled at a peak of crisis, so part of any fall is regression to the mean.",
    "Numbers are small; counts come from police, NHS and self-report sources of varying"
    " completeness, and some counts before enrolment are estimated from period totals.",
    "Harms are counted alongside demand (crisis services used): read them together.",
)


def _measures() -> tuple[anon.Measure, ...]:
    measures = []
    for kind in ALL_TYPES:
        label = IncidentType(kind).label
        for window in ("before", "after"):
            measures.append(
                anon.Measure(f"{kind}_{window}", f"{label}: count in the {window} window", "count")
            )
        for window in ("before", "after"):
            measures.append(
                anon.Measure(
                    f"{kind}_{window}_rate",
                    f"{label}: {window} count per person-year at risk (blank: no time at risk)",
                    "per person-year",
                    1,
                )
            )
    return (
        *measures,
        anon.Measure(
            "before_estimated",
            "1 if a before count includes a share of a period total (estimated), else 0",
            "flag",
        ),
        anon.Measure(
            "contacts_per_month", "Contacts in the after window per month", "per month", 1
        ),
        anon.Measure("attended_share", "Share of those contacts attended", "0-1", 2),
    )


PEOPLE_MEASURES = _measures()


def data_dictionary(
    plan: ExportPlan, *, exported_at: datetime, hashes: Mapping[str, str]
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
        {"name": m.column, "meaning": m.meaning, "unit": m.unit} for m in PEOPLE_MEASURES
    ]
    return {
        "format": "sim-desk-anonymised-export",
        "format_version": 1,
        "software": {"name": "SIM Desk", "version": __version__},
        "exported_at": exported_at.isoformat(timespec="seconds"),
        "data_as_of": plan.data_as_of.isoformat(),
        "outcome_window_months": plan.months,
        "windows": "before: the months before enrolment; after: enrolment to the earlier of the"
        " export date, closure, or the same number of months. Rates are per person-year at"
        " risk (days in hospital or custody are not at risk).",
        "never_included": "names, NHS numbers, police references, dates of birth, addresses,"
        " free text, exact dates",
        "pseudonyms": {
            "method": "HMAC-SHA256 over the 16 bytes of the internal record id",
            "linkage": plan.linkage,
            "key": "the vault's linkage key, granted by a team lead: the same person has the same"
            " pseudonym in every linked export"
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
            "suppression_rule": "Quasi-identifiers are generalised up their ladders, choosing the"
            " combination of levels that loses least while leaving out at most the allowed share"
            " of people; then every person whose combination of quasi-identifiers occurs fewer"
            " than k times is left out of people.csv. Aggregates still count them.",
        },
        "small_numbers": {"rule": agg.SMALL_NUMBER_RULE, "applies_to": ["aggregates.csv"]},
        "incident_types": {t: IncidentType(t).label for t in ALL_TYPES}
        | {"all_demand": "All crisis demand types", "all_harms": "All harm types"},
        "files": {
            "people.csv": {"sha256": hashes["people.csv"], "columns": people_columns},
            "aggregates.csv": {
                "sha256": hashes["aggregates.csv"],
                "columns": list(agg.COLUMNS),
                "breakdowns": dict(agg.BREAKDOWNS),
                "measures": {m: {"meaning": a, "unit": b} for m, (a, b) in agg.MEASURES.items()},
            },
            "export.xlsx": {
                "sha256": hashes["export.xlsx"],
                "sheets": ["people", "aggregates"],
                "note": "the same tables as the two CSV files",
            },
        },
        "limits": list(LIMITS)
        + (
            [
                "Linked exports can be joined by pseudonym; joining exports made with different"
                " generalisations can narrow groups below k. Keep linked exports apart."
            ]
            if plan.linkage
            else []
        ),
    }
