"""The export for analysts (DESIGN.md section 7): plan, preview, write. Two products in one:

* **published figures** (``aggregates.csv``, the ``aggregates`` sheet): anonymous, for a board
  paper or a website. Small numbers suppressed, counts rounded, complementary suppression, and
  a disclosure audit run before anything is written (:mod:`sim_desk.exchange.aggregates`);
* a **pseudonymised extract** (``people.csv``, the ``people`` sheet): personal data, one row per
  person, for analysts inside the trust under a data-sharing agreement, k-anonymous over every
  quasi-identifier (:mod:`sim_desk.exchange.anonymise`).

:func:`plan_export` gathers the cohort through the records layer as at the end of last month,
protects and audits everything in memory, and checks it against earlier releases of the same
month (:mod:`sim_desk.records.read_models.releases`): a wizard shows the plan before anything is
written.
:func:`write_export` writes the files and ``data_dictionary.json`` to a new folder or a zip,
atomically and owner-only, with one audit entry holding each file's SHA-256, and logs the
release.

Both accept ``progress(fraction, text)``, called between steps; if it raises (a Cancel button),
the exception passes through and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sim_desk.exchange import aggregates as agg
from sim_desk.exchange import anonymise as anon
from sim_desk.exchange.dictionary import EXTRACT_ATTRIBUTES, data_dictionary
from sim_desk.exchange.files import (
    Sheet,
    csv_bytes,
    sha256,
    write_file,
    write_folder,
    xlsx_bytes,
    zip_bytes,
)
from sim_desk.records import outcomes
from sim_desk.records.dates import add_months
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.outcomes import person_years
from sim_desk.records.permissions import EXPORTERS
from sim_desk.records.read_models import export_data, releases
from sim_desk.records.read_models.outcome_data import ALL_TYPES
from sim_desk.records.sync import completeness
from sim_desk.records.unit_of_work import LOCAL_ZONE, UnlockedVault
from sim_desk.records.vault.audit import Action

Progress = Callable[[float, str], None]
FILE_NAMES = ("people.csv", "aggregates.csv", "export.xlsx", "data_dictionary.json")
TYPES: tuple[str, ...] = (*ALL_TYPES, *agg.TOTAL_TYPES)
PUBLISHED = "published figures"
EXTRACT = "pseudonymised extract"


@dataclass(frozen=True)
class Generalisation:
    """How one quasi-identifier is shown: the rung of its ladder the export uses."""

    column: str
    level: int
    applied: str
    ladder: tuple[str, ...]


@dataclass(frozen=True)
class ReleaseCheck:
    """How this export stands against earlier releases of the same period."""

    first_released_at: datetime | None  # None: this is the period's first release
    releases_before: int
    published_changed: bool  # fresh figures differ: the first release's are issued again
    extract_refused: str | None  # why people.csv is not written this time, if it is not

    @property
    def repeat(self) -> bool:
        return self.first_released_at is not None


@dataclass(frozen=True)
class ExportPlan:
    """Everything the export will hold, for a preview. It holds only what the files will hold:
    no key, no record id, no figure the protection hides."""

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
    safety: tuple[anon.GroupSafety, ...]
    people_columns: tuple[str, ...]
    people_rows: tuple[tuple[str, ...], ...]
    aggregate_columns: tuple[str, ...]
    aggregate_rows: tuple[tuple[str, ...], ...]  # as printed: value "" when not published
    disclosure: Mapping[str, Any]  # the audit's result, as the dictionary records it
    release: ReleaseCheck
    extract_sha256: str  # over the extract's content, pseudonyms left out
    published_sha256: str
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds per step

    @property
    def rows(self) -> tuple[tuple[str, ...], ...]:
        return self.people_rows

    @property
    def extract_written(self) -> bool:
        return self.release.extract_refused is None


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


def _counts(person: export_data.ExportPerson) -> tuple[dict[str, int], dict[str, int]]:
    before = {t.incident_type: t.before.count for t in person.outcome.types}
    after = {t.incident_type: t.after.count for t in person.outcome.types}
    for total, members in agg.TOTAL_TYPES.items():
        before[total] = sum(before[m] for m in members)
        after[total] = sum(after[m] for m in members)
    return before, after


def _directions(
    person: export_data.ExportPerson, before: Mapping[str, int], after: Mapping[str, int]
) -> dict[str, str]:
    outcome = person.outcome
    years = person_years(outcome.before_days_at_risk), person_years(outcome.after_days_at_risk)
    return {
        kind: agg.direction(
            before[kind], years[0], after[kind], years[1], outcome.windows.after.days
        )
        for kind in agg.DIRECTION_TYPES
    }


def _extract_row(
    person: export_data.ExportPerson,
    counts: tuple[dict[str, int], dict[str, int]],
    directions: Mapping[str, str],
) -> dict[str, Any]:
    """One person's raw values for the extract: only the pure layer decides what comes out."""
    before, after = counts
    engagement = person.engagement
    return {
        "person_id": person.person_id,
        "age_at_enrolment": person.age_at_enrolment,
        "gender": person.gender,
        "ethnic_category": person.ethnic_category,
        "borough": person.borough,
        "enrolled_on": person.enrolled_on,
        "months_enrolled": anon.whole_months(person.enrolled_on, person.enrolled_until),
        "s136_before": before["s136"],
        "s136_after": after["s136"],
        "demand_before": before["all_demand"],
        "demand_after": after["all_demand"],
        "harms_before": before["all_harms"],
        "harms_after": after["all_harms"],
        "demand_direction": directions["all_demand"],
        "attended_share": engagement.attended_share if engagement.contacts else None,
        "before_estimated": any(t.before.estimated for t in person.outcome.types),
    }


def _figures(
    person: export_data.ExportPerson,
    counts: tuple[dict[str, int], dict[str, int]],
    directions: Mapping[str, str],
) -> agg.PersonFigures:
    before, after = counts
    return agg.PersonFigures(
        groups={
            "enrolment_year": str(person.enrolled_on.year),
            "ethnic_group": anon.ethnic_group(person.ethnic_category, 1),
            "gender": anon.gender_group(person.gender, 1),
            "age_band": agg.age_group(person.age_at_enrolment),
        },
        before_years=person_years(person.outcome.before_days_at_risk),
        after_years=person_years(person.outcome.after_days_at_risk),
        before=before,
        after=after,
        directions=directions,
        contacts=person.engagement.contacts,
        attended=person.engagement.attended,
        **continuity_figures(person.continuity),
    )


def continuity_figures(facts: outcomes.ContinuityInput | None) -> dict[str, int]:
    """A person's counts beyond demand for the published figures (see ``outcomes.continuity``)."""
    if facts is None:
        return {}
    figures = outcomes.continuity([facts])
    seen_soon = sum(
        1 for r in facts.referrals if (wait := r.days_to_first_contact) is not None and wait <= 28
    )
    return {
        "referrals": figures.referrals + figures.signposting,
        "referrals_taken_up": figures.by_outcome["attended"] + figures.by_outcome["accepted"],
        "referrals_seen_within_28_days": seen_soon,
        "stepped_down": figures.stepped_down,
        "connected_at_step_down": figures.connected_at_step_down,
    }


def long_date(day: date | datetime) -> str:
    """A UK date in words, "3 December 2026" (a moment is taken on the UK calendar)."""
    if isinstance(day, datetime):
        day = day.astimezone(LOCAL_ZONE).date()
    return f"{day.day} {day:%B %Y}"


def content_sha256(rows: Any) -> str:
    """SHA-256 over rows' content, in a canonical order (JSON of the sorted rows)."""
    canonical = json.dumps(sorted(list(map(list, rows))), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _window_years(months: int) -> float:
    """The longest window one person can have, in person-years (31-day months throughout)."""
    return person_years((add_months(date(2000, 1, 31), months) - date(2000, 1, 31)).days + 1)


def _check_options(
    first: releases.EarlierRelease, k: int, months: int, share: float, linkage: bool
) -> None:
    wanted = {
        "k": (k, first.k),
        "the outcome window": (f"{months} months", f"{first.months} months"),
        "the share of people that may be left out": (share, first.max_suppressed_share),
        "linked pseudonyms": ("yes" if linkage else "no", "yes" if first.linkage else "no"),
    }
    differ = [f"{name} {old}" for name, (new, old) in wanted.items() if new != old]
    if differ:
        raise ValidationError(
            f"This period (to {long_date(first.period_end)}) was first released on"
            f" {long_date(first.released_at)} with {', '.join(differ)}."
            " A second release of the same period must use the same settings, or the two could"
            " be compared to single people out. Choose the same settings, or wait for the next"
            " period (it starts on the 1st of next month).",
            "k"
            if k != first.k
            else "months"
            if months != first.months
            else "linkage"
            if linkage != first.linkage
            else "max_suppressed_share",
        )


def plan_export(
    vault: UnlockedVault,
    *,
    k: int = anon.DEFAULT_K,
    linkage: bool = False,
    months: int = 12,
    max_suppressed_share: float = anon.DEFAULT_MAX_SUPPRESSED_SHARE,
    progress: Progress | None = None,
    max_rounds: int = 200,
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
        max_rounds: rounds of complementary suppression before a table is given up (tests).

    Raises:
        PermissionDenied: not an analyst or team lead, or linkage without a grant.
        ValidationError: k, months or the suppressed share out of range, or settings that
            differ from an earlier release of the same period.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
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
    earlier = releases.releases_of(vault, cohort.data_as_of)
    first = earlier[0] if earlier else None
    if first is not None:
        _check_options(first, k, months, max_suppressed_share, linkage)
    timings["cohort"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _step(progress, 0.55, "Generalising the pseudonymised extract until every group has k")
    counts = [_counts(p) for p in cohort.people]
    directions = [_directions(p, *c) for p, c in zip(cohort.people, counts, strict=True)]
    release = anon.anonymise(
        [_extract_row(p, c, d) for p, c, d in zip(cohort.people, counts, directions, strict=True)],
        key=key,
        attributes=EXTRACT_ATTRIBUTES,
        k=k,
        max_suppressed_share=max_suppressed_share,
        levels=(
            [first.levels[qi.column] for qi in anon.QUASI_IDENTIFIERS]
            if first is not None
            else None
        ),
    )
    del key  # a fresh key goes no further: nothing can make these pseudonyms again
    extract_hash = content_sha256(row[1:] for row in release.rows)
    timings["extract"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _step(progress, 0.7, "Protecting the published figures and auditing them")
    published = agg.publish(
        [_figures(p, c, d) for p, c, d in zip(cohort.people, counts, directions, strict=True)],
        agg.FlowFigures(cohort.flow.referred, cohort.flow.enrolled, cohort.flow.statuses),
        TYPES,
        window_years=_window_years(months),
        max_rounds=max_rounds,
    )
    aggregate_rows = tuple(row.as_text() for row in published.rows)
    audit = published.audit
    disclosure = {
        "method": audit.method,
        "cells_checked": audit.checked,
        "cells_at_risk_before_complementary_suppression": audit.first_unsafe,
        "complementary_suppressions": audit.complementary,
        "groups_withheld": audit.withheld_groups,
        "cells_unsafe_in_what_is_written": audit.unsafe,
        "solves": audit.solves,
        "seconds": round(audit.seconds, 3),
        "tables_not_written": [
            {"table": t.table, "breakdown": t.breakdown, "reason": t.reason}
            for t in audit.not_written
        ],
    }
    published_hash = content_sha256(aggregate_rows)
    timings["published"] = time.perf_counter() - clock
    timings["audit"] = audit.seconds

    changed = False
    refused = None
    if first is not None:
        if published_hash != first.published_sha256:
            changed = True
            again = releases.published_figures(vault, first)
            aggregate_rows = again.rows
            disclosure = {**again.audit, "issued_again_as_first_released": True}
            published_hash = first.published_sha256
        if extract_hash != first.extract_sha256:
            refused = (
                "Records about this period changed after its first release on"
                f" {long_date(first.released_at)}, so a second extract"
                " would show what changed. people.csv is not written again; use the first"
                " one, or the next period's."
            )
    _step(progress, 1.0, "Ready to write")
    return ExportPlan(
        vault_id=vault.vault_id,
        data_as_of=cohort.data_as_of,
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
        safety=release.safety,
        people_columns=release.columns,
        people_rows=release.rows if refused is None else (),
        aggregate_columns=agg.COLUMNS,
        aggregate_rows=aggregate_rows,
        disclosure=disclosure,
        release=ReleaseCheck(
            first.released_at if first is not None else None, len(earlier), changed, refused
        ),
        extract_sha256=extract_hash,
        published_sha256=published_hash,
        timings=timings,
    )


def _matches(plan: ExportPlan, first: releases.EarlierRelease) -> bool:
    """Whether writing this plan repeats the period's first release (as it must)."""
    return (
        plan.published_sha256 == first.published_sha256
        and (not plan.extract_written or plan.extract_sha256 == first.extract_sha256)
        and (plan.k, plan.months, plan.max_suppressed_share, plan.linkage)
        == (first.k, first.months, first.max_suppressed_share, first.linkage)
    )


def write_export(
    vault: UnlockedVault,
    plan: ExportPlan,
    destination: Path,
    *,
    as_zip: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Writes a planned export to a new folder (or a zip file), atomically, mode 0600, audited,
    and logs the release.

    Raises:
        PermissionDenied: not an analyst or team lead, or the plan is from another vault.
        ValidationError: the destination exists (a non-empty folder) or its folder does not,
            or the period was released since the plan was made (plan again).
    """
    vault.require_role(*EXPORTERS, doing="run anonymised exports")
    if plan.vault_id != vault.vault_id:
        raise PermissionDenied("This export was prepared from another vault; prepare it again.")
    earlier = releases.releases_of(vault, plan.data_as_of)
    if earlier and not _matches(plan, earlier[0]):
        raise ValidationError(
            "This period was released while you were previewing, with different figures or"
            " settings. Preview again: a second release of a period must repeat the first.",
            "destination",
        )
    destination = Path(destination)
    exported_at = vault.now()
    _step(progress, 0.0, "Writing the tables")
    files: dict[str, bytes] = {}
    if plan.extract_written:
        files["people.csv"] = csv_bytes(plan.people_columns, plan.people_rows)
    files["aggregates.csv"] = csv_bytes(plan.aggregate_columns, plan.aggregate_rows)
    _step(progress, 0.3, "Writing the spreadsheet")
    sheets = [
        Sheet("aggregates", plan.aggregate_columns, plan.aggregate_rows, frozenset({"value"}))
    ]
    if plan.extract_written:
        sheets.insert(0, Sheet("people", plan.people_columns, plan.people_rows))
    files["export.xlsx"] = xlsx_bytes(sheets, at=exported_at)
    _step(progress, 0.6, "Writing the data dictionary")
    hashes = {name: sha256(data) for name, data in files.items()}
    dictionary = data_dictionary(plan, exported_at=exported_at, hashes=hashes, earlier=earlier)
    team_mode = completeness.for_export(vault)  # how complete this laptop's picture is
    if team_mode is not None:
        dictionary["team_mode_completeness"] = team_mode
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
                period_end=plan.data_as_of.isoformat(),
                rows=len(plan.people_rows),
                suppressed=plan.rows_suppressed,
                k=plan.k,
                k_reached=plan.k_reached,
                linkage=plan.linkage,
                months=plan.months,
                repeat=plan.release.repeat,
                extract_written=plan.extract_written,
                archive=archive_hash,
                **{name.replace(".", "_"): digest for name, digest in hashes.items()},
            )
            releases.log_release(
                vault,
                session,
                period_end=plan.data_as_of,
                months=plan.months,
                k=plan.k,
                max_suppressed_share=plan.max_suppressed_share,
                linkage=plan.linkage,
                levels={g.column: g.level for g in plan.generalisations},
                published_columns=plan.aggregate_columns,
                published_rows=plan.aggregate_rows,
                published_audit=plan.disclosure,
                published_sha256=plan.published_sha256,
                extract_sha256=plan.extract_sha256,
                extract_rows=len(plan.people_rows),
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
