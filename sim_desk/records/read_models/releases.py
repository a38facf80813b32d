"""The release log of anonymised exports: what each release of a period published.

An export covers whole months: its data date is the last day of the month before it is made
(:func:`sim_desk.records.read_models.export_data.period_end`). Records about a month can still be
entered
after the month is over; two exports of the same month made either side of such an entry would
differ by exactly that entry, and subtracting one from the other would single it out. So the
first release of a period is kept here, published figures and all, and a later export of the
same period must use the same settings and publishes the same figures again. The pseudonymised
extract is not kept (it is personal data): only a hash of its content, so that an extract that
would differ from the first one of its period can be refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from sim_desk.records.model import ExportRelease
from sim_desk.records.unit_of_work import UnlockedVault


@dataclass(frozen=True)
class EarlierRelease:
    """One release of a period, as logged (its published figures are read on demand)."""

    release_id: uuid.UUID
    released_at: datetime
    released_by: uuid.UUID | None
    period_end: date
    months: int
    k: int
    max_suppressed_share: float
    linkage: bool
    levels: Mapping[str, int]
    published_sha256: str
    extract_sha256: str
    extract_rows: int


@dataclass(frozen=True)
class PublishedFigures:
    """The figures a release published, and its disclosure audit's account."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    audit: Mapping[str, Any]


def releases_of(vault: UnlockedVault, period_end: date) -> tuple[EarlierRelease, ...]:
    """Every logged release of the period ending ``period_end``, the first first.

    The caller checks the user may export (:func:`sim_desk.exchange.export.plan_export` does).
    """
    with vault.read() as session:
        found = session.execute(
            select(ExportRelease)
            .options(defer(ExportRelease.published))
            .where(ExportRelease.period_end == period_end)
            .order_by(ExportRelease.created_at, ExportRelease.id)
        ).scalars()
        return tuple(
            EarlierRelease(
                release_id=r.id,
                released_at=r.created_at,
                released_by=r.created_by,
                period_end=r.period_end,
                months=r.months,
                k=r.k,
                max_suppressed_share=r.max_suppressed_share,
                linkage=r.linkage,
                levels=dict(r.levels),
                published_sha256=r.published_sha256,
                extract_sha256=r.extract_sha256,
                extract_rows=r.extract_rows,
            )
            for r in found
        )


def published_figures(vault: UnlockedVault, release: EarlierRelease) -> PublishedFigures:
    """The figures a logged release published, to issue them again."""
    with vault.read() as session:
        published = session.execute(
            select(ExportRelease.published).where(ExportRelease.id == release.release_id)
        ).scalar_one()
    return PublishedFigures(
        tuple(published["columns"]),
        tuple(tuple(row) for row in published["rows"]),
        dict(published.get("audit", {})),
    )


def log_release(
    vault: UnlockedVault,
    session: Session,
    *,
    period_end: date,
    months: int,
    k: int,
    max_suppressed_share: float,
    linkage: bool,
    levels: Mapping[str, int],
    published_columns: Sequence[str],
    published_rows: Sequence[Sequence[str]],
    published_audit: Mapping[str, Any],
    published_sha256: str,
    extract_sha256: str,
    extract_rows: int,
) -> None:
    """Adds a release to the log, in the caller's write transaction (with its audit entry)."""
    session.add(
        ExportRelease(
            period_end=period_end,
            months=months,
            k=k,
            max_suppressed_share=max_suppressed_share,
            linkage=linkage,
            levels=dict(levels),
            published={
                "columns": list(published_columns),
                "rows": [list(row) for row in published_rows],
                "audit": dict(published_audit),
            },
            published_sha256=published_sha256,
            extract_sha256=extract_sha256,
            extract_rows=extract_rows,
            created_by=vault.actor.user_id,
        )
    )
