"""The facts behind "outcomes beyond demand": each person's onward referrals with the statuses
they reached, their step-down date, and whether their handover plan names a continuing worker."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sim_desk.records import outcomes
from sim_desk.records.codes import ExitReason, PersonStatus
from sim_desk.records.model import (
    HandoverPlan,
    OnwardReferral,
    Person,
    PersonStatusChange,
    ReferralStatusChange,
)

#: Ids per IN (...) list: well under SQLite's limit on bound variables.
CHUNK = 900


def _chunks(ids: Sequence[uuid.UUID]) -> list[Sequence[uuid.UUID]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def read_continuity(
    session: Session, people: Sequence[Person], *, as_of: date | None = None
) -> dict[uuid.UUID, outcomes.ContinuityInput]:
    """Each person's :class:`outcomes.ContinuityInput` (people without referrals included).

    With ``as_of`` (an export's data date), only what was known by that day counts.
    """
    last = as_of or date.max
    ids = [p.id for p in people]
    referrals: dict[uuid.UUID, list[OnwardReferral]] = defaultdict(list)
    reached: dict[uuid.UUID, list[tuple[str, date]]] = defaultdict(list)
    stepped: dict[uuid.UUID, date] = {}
    continuing: set[uuid.UUID] = set()
    for chunk in _chunks(ids):
        for r in session.execute(
            select(OnwardReferral).where(OnwardReferral.person_id.in_(chunk))
        ).scalars():
            if r.referred_on <= last:
                referrals[r.person_id].append(r)
        for referral_id, status, first in session.execute(
            select(
                ReferralStatusChange.referral_id,
                ReferralStatusChange.to_status,
                func.min(ReferralStatusChange.changed_on),
            )
            .join(OnwardReferral, OnwardReferral.id == ReferralStatusChange.referral_id)
            .where(OnwardReferral.person_id.in_(chunk))
            .group_by(ReferralStatusChange.referral_id, ReferralStatusChange.to_status)
        ):
            if first <= last:
                reached[referral_id].append((status, first))
        for person_id, to_status, exit_reason, day in session.execute(
            select(
                PersonStatusChange.person_id,
                PersonStatusChange.to_status,
                PersonStatusChange.exit_reason,
                PersonStatusChange.changed_on,
            ).where(
                PersonStatusChange.person_id.in_(chunk),
                PersonStatusChange.to_status.in_(
                    (PersonStatus.STEPPING_DOWN.value, PersonStatus.CLOSED.value)
                ),
            )
        ):
            steps_down = to_status == PersonStatus.STEPPING_DOWN.value or (
                exit_reason == ExitReason.STEPPED_DOWN.value
            )
            if day > last:
                continue
            if steps_down and (person_id not in stepped or day < stepped[person_id]):
                stepped[person_id] = day
        continuing |= set(
            session.execute(
                select(HandoverPlan.person_id).where(
                    HandoverPlan.person_id.in_(chunk),
                    HandoverPlan.continuing_partner_id.is_not(None),
                )
            ).scalars()
        )
    return {
        p.id: outcomes.ContinuityInput(
            referrals=tuple(
                outcomes.ReferralFact(
                    referred_on=r.referred_on,
                    reached=tuple(sorted(reached.get(r.id, ()))),
                    first_contact_on=r.first_contact_on
                    if r.first_contact_on and r.first_contact_on <= last
                    else None,
                    kind=r.kind,
                )
                for r in sorted(referrals.get(p.id, ()), key=lambda r: (r.referred_on, r.id))
            ),
            stepped_down_on=stepped.get(p.id),
            continuing_worker=p.id in continuing,
        )
        for p in people
    }
