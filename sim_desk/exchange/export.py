"""The anonymised export for analysts (DESIGN.md section 7): plan, preview, write.

:func:`plan_export` gathers the cohort through the records layer, pseudonymises, generalises and
suppresses (:mod:`sim_desk.exchange.anonymise`) and builds the aggregate tables
(:mod:`sim_desk.exchange.aggregates`), all in memory: a wizard shows the plan before anything is
written. :func:`write_export` writes ``people.csv``, ``aggregates.csv``, ``export.xlsx`` and
``data_dictionary.json`` to a new folder or a zip, atomically and owner-only, with one audit entry
holding each file's SHA-256.

Both accept ``progress(fraction, text)``, called between steps; if it raises (a Cancel button),
the exception passes through and nothing is written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sim_desk.exchange import aggregates as agg
from sim_desk.exchange import anonymise as anon
from sim_desk.exchange.dictionary import PEOPLE_MEASURES, data_dictionary
from sim_desk.exchange.files import (
    Sheet,
    csv_bytes,
    sha256,
    write_file,
    write_folder,
    xlsx_bytes,
    zip_bytes,
)
from sim_desk.records import export_data
from sim_desk.records.audit import Action
from sim_desk.records.codes import DEMAND_TYPES, HARM_TYPES
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.outcome_data import ALL_TYPES
from sim_desk.records.outcomes import DAYS_PER_MONTH, person_years
from sim_desk.records.unlocked import LOCAL_ZONE, UnlockedVault

Progress = Callable[[float, str], None]
FILE_NAMES = ("people.csv", "aggregates.csv", "export.xlsx", "data_dictionary.json")
TOTAL_TYPES = {"all_demand": DEMAND_TYPES, "all_harms": HARM_TYPES}


@dataclass(frozen=True)
class Generalisation:
    """How one quasi-identifier is shown: the rung of its ladder the export uses."""

    column: str
    level: int
    applied: str
    ladder: tuple[str, ...]


@dataclass(frozen=True)
class ExportPlan:
    """Everything the export will hold, for a preview. It holds only what the files will hold:
    no key, no record id, no count the small-number rule would hide."""

    vault_id: uuid.UUID
    data_as_of: date
    months: int
    k: int
    k_reached: int | None
    linkage: bool
    max_suppressed_share: float
    rows_total: int
    rows_suppressed: int
    generalisations: tuple[Generalisation, ...]
    people_columns: tuple[str, ...]
    people_rows: tuple[tuple[str, ...], ...]
    aggregate_columns: tuple[str, ...]
    aggregate_rows: tuple[tuple[str, ...], ...]  # already under the small-number rule

    @property
    def rows(self) -> tuple[tuple[str, ...], ...]:
        return self.people_rows


@dataclass(frozen=True)
class ExportResult:
    destination: Path
    files: Mapping[str, str]  # file name -> SHA-256 (hex)
    archive_sha256: str | None  # the zip's own hash when written as a zip
    rows: int
    rows_suppressed: int


def _step(progress: Progress | None, fraction: float, text: str) -> None:
    if progress is not None:
        progress(fraction, text)


def _row(person: export_data.ExportPerson) -> dict[str, Any]:
    row: dict[str, Any] = {
        "person_id": person.person_id,
        "age_at_enrolment": person.age_at_enrolment,
        "gender": person.gender,
        "ethnic_category": person.ethnic_category,
        "borough": person.borough,
        "enrolled_on": person.enrolled_on,
        "months_enrolled": anon.whole_months(person.enrolled_on, person.enrolled_until),
        "before_estimated": int(any(t.before.estimated for t in person.outcome.types)),
        "contacts_per_month": person.engagement.contacts_per_month,
        "attended_share": person.engagement.attended_share,
    }
    for t in person.outcome.types:
        row[f"{t.incident_type}_before"] = t.before.count
        row[f"{t.incident_type}_after"] = t.after.count
        row[f"{t.incident_type}_before_rate"] = t.before_rate
        row[f"{t.incident_type}_after_rate"] = t.after_rate
    return row


def _figures(person: export_data.ExportPerson) -> agg.PersonFigures:
    outcome = person.outcome
    before = {t.incident_type: t.before.count for t in outcome.types}
    after = {t.incident_type: t.after.count for t in outcome.types}
    for total, members in TOTAL_TYPES.items():
        before[total] = sum(before[m.value] for m in members)
        after[total] = sum(after[m.value] for m in members)
    return agg.PersonFigures(
        groups={
            "enrolment_year": str(person.enrolled_on.year),
            "ethnic_group": anon.ethnic_group(person.ethnic_category, 1),
            "gender": anon.gender_group(person.gender, 0),
            "age_band": anon.age_band(person.age_at_enrolment, 1),
        },
        before_years=person_years(outcome.before_days_at_risk),
        after_years=person_years(outcome.after_days_at_risk),
        before=before,
        after=after,
        contacts=person.engagement.contacts,
        attended=person.engagement.attended,
        after_months=outcome.windows.after.days / DAYS_PER_MONTH,
    )


def plan_export(
    vault: UnlockedVault,
    *,
    k: int = anon.DEFAULT_K,
    linkage: bool = False,
    months: int = 12,
    max_suppressed_share: float = anon.DEFAULT_MAX_SUPPRESSED_SHARE,
    progress: Progress | None = None,
) -> ExportPlan:
    """Works out the whole export in memory, for a preview and then :func:`write_export`.

    Args:
        k: every combination of quasi-identifiers in people.csv occurs at least k times
            (3 to 100).
        linkage: pseudonyms under the vault's linkage key (stable across exports; needs a team
            lead's grant) instead of a fresh random key that is forgotten afterwards.
        months: the outcome window, 6, 12 or 24 months.
        max_suppressed_share: the share of people that may be left out of people.csv before a
            quasi-identifier is generalised further (0 to 0.5).

    Raises:
        PermissionDenied: not an analyst or team lead, or linkage without a grant.
        ValidationError: k, months or the suppressed share out of range.
    """
    _step(progress, 0.0, "Checking what you may export")
    if isinstance(k, bool) or not isinstance(k, int) or not anon.MIN_K <= k <= anon.MAX_K:
        raise ValidationError(
            f"k: choose a whole number from {anon.MIN_K} to {anon.MAX_K} (5 is usual).", "k"
        )
    if not 0.0 <= max_suppressed_share <= 0.5:
        raise ValidationError(
            "Suppression: choose a share from 0 to 0.5 of people.", "max_suppressed_share"
        )
    key = export_data.pseudonym_key(vault, linkage=linkage)
    _step(progress, 0.05, "Reading the cohort and working out outcomes")
    cohort = export_data.export_cohort(vault, months=months)
    _step(progress, 0.6, "Generalising and suppressing small groups")
    release = anon.anonymise(
        [_row(p) for p in cohort.people],
        key=key,
        measures=PEOPLE_MEASURES,
        k=k,
        max_suppressed_share=max_suppressed_share,
    )
    del key  # a fresh key goes no further: nothing can make these pseudonyms again
    _step(progress, 0.85, "Building the aggregate tables")
    flow = {
        "referred": cohort.flow.referred,
        "enrolled": cohort.flow.enrolled,
        "not_enrolled": cohort.flow.not_enrolled,
        "active": cohort.flow.active,
        "stepping_down": cohort.flow.stepping_down,
        **{f"closed_{reason}": n for reason, n in cohort.flow.closed.items()},
    }
    types = (*ALL_TYPES, *TOTAL_TYPES)
    rows = agg.aggregate_rows([_figures(p) for p in cohort.people], flow, types)
    _step(progress, 1.0, "Ready to write")
    return ExportPlan(
        vault_id=vault.vault_id,
        data_as_of=cohort.today,
        months=months,
        k=k,
        k_reached=release.k_reached,
        linkage=linkage,
        max_suppressed_share=max_suppressed_share,
        rows_total=release.rows_total,
        rows_suppressed=release.rows_suppressed,
        generalisations=tuple(
            Generalisation(qi.column, level, qi.levels[level], qi.levels)
            for qi, level in zip(anon.QUASI_IDENTIFIERS, release.levels, strict=True)
        ),
        people_columns=release.columns,
        people_rows=release.rows,
        aggregate_columns=agg.COLUMNS,
        aggregate_rows=tuple(rows),
    )


def write_export(
    vault: UnlockedVault,
    plan: ExportPlan,
    destination: Path,
    *,
    as_zip: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Writes a planned export to a new folder (or a zip file), atomically, mode 0600, audited.

    Raises:
        PermissionDenied: not an analyst or team lead, or the plan is from another vault.
        ValidationError: the destination exists (a non-empty folder) or its folder does not.
    """
    vault.require_role(*export_data.EXPORTERS, doing="run anonymised exports")
    if plan.vault_id != vault.vault_id:
        raise PermissionDenied("This export was prepared from another vault; prepare it again.")
    destination = Path(destination)
    exported_at = vault.now()
    _step(progress, 0.0, "Writing the tables")
    files = {
        "people.csv": csv_bytes(plan.people_columns, plan.people_rows),
        "aggregates.csv": csv_bytes(plan.aggregate_columns, plan.aggregate_rows),
    }
    _step(progress, 0.3, "Writing the spreadsheet")
    numeric = frozenset(m.column for m in PEOPLE_MEASURES)
    files["export.xlsx"] = xlsx_bytes(
        [
            Sheet("people", plan.people_columns, plan.people_rows, numeric),
            Sheet("aggregates", plan.aggregate_columns, plan.aggregate_rows, frozenset({"value"})),
        ],
        at=exported_at,
    )
    _step(progress, 0.6, "Writing the data dictionary")
    hashes = {name: sha256(data) for name, data in files.items()}
    dictionary = data_dictionary(plan, exported_at=exported_at, hashes=hashes)
    files["data_dictionary.json"] = (
        json.dumps(dictionary, indent=2, ensure_ascii=False) + "\n"
    ).encode("utf-8")
    hashes["data_dictionary.json"] = sha256(files["data_dictionary.json"])
    archive_hash: str | None = None
    _step(progress, 0.8, "Saving")

    def commit(rename: Callable[[], None]) -> None:
        with vault.write() as session:
            vault.audit(
                session,
                Action.EXPORT,
                "export",
                None,
                kind="anonymised",
                format="zip" if as_zip else "folder",
                rows=len(plan.people_rows),
                suppressed=plan.rows_suppressed,
                k=plan.k,
                k_reached=plan.k_reached,
                linkage=plan.linkage,
                months=plan.months,
                archive=archive_hash,
                **{name.replace(".", "_"): digest for name, digest in hashes.items()},
            )
            rename()

    if as_zip:
        archive = zip_bytes(files, at=exported_at.astimezone(LOCAL_ZONE), folder=destination.stem)
        archive_hash = sha256(archive)
        write_file(destination, archive, commit)
    else:
        write_folder(destination, files, commit)
    _step(progress, 1.0, "Done")
    return ExportResult(
        destination, hashes, archive_hash, len(plan.people_rows), plan.rows_suppressed
    )
