"""Onward referrals as read: for the person workspace, Today and the reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from sim_desk.records.circle.codes import (
    ReferralClosureReason,
    ReferralKind,
    ReferralMadeBy,
    ReferralRejectionReason,
    ReferralStatus,
    ServiceType,
)
from sim_desk.records.circle.referrals import ReferralDetails, load_referral
from sim_desk.records.incidents import RevisionView, revision_history
from sim_desk.records.model import (
    OnwardReferral,
    ReferralRevision,
    ReferralStatusChange,
    User,
)
from sim_desk.records.permissions import load_person
from sim_desk.records.unit_of_work import UnlockedVault


@dataclass(frozen=True)
class ReferralStatusView:
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    changed_on: date
    reason_code: str | None
    note: str | None
    by: str


@dataclass(frozen=True)
class ReferralView:
    id: uuid.UUID
    person_id: uuid.UUID
    kind: ReferralKind
    referred_on: date
    partner_id: uuid.UUID | None
    service_type: ServiceType
    to_whom: str
    reason: str
    made_by: ReferralMadeBy
    status: ReferralStatus
    status_on: date
    follow_up_on: date | None
    first_contact_on: date | None
    rejection_reason: ReferralRejectionReason | None
    closure_reason: ReferralClosureReason | None
    revision: int

    def follow_up_due(self, today: date) -> bool:
        return self.status.is_open and self.follow_up_on is not None and self.follow_up_on <= today

    @property
    def days_to_first_contact(self) -> int | None:
        if self.first_contact_on is None:
            return None
        return (self.first_contact_on - self.referred_on).days


def referral_view(r: OnwardReferral) -> ReferralView:
    return ReferralView(
        id=r.id,
        person_id=r.person_id,
        kind=ReferralKind(r.kind),
        referred_on=r.referred_on,
        partner_id=r.partner_id,
        service_type=ServiceType(r.service_type),
        to_whom=r.to_whom,
        reason=r.reason,
        made_by=ReferralMadeBy(r.made_by),
        status=ReferralStatus(r.status),
        status_on=r.status_on,
        follow_up_on=r.follow_up_on,
        first_contact_on=r.first_contact_on,
        rejection_reason=ReferralRejectionReason(r.rejection_reason)
        if r.rejection_reason
        else None,
        closure_reason=ReferralClosureReason(r.closure_reason) if r.closure_reason else None,
        revision=r.revision,
    )


def list_referrals(vault: UnlockedVault, person_id: uuid.UUID) -> list[ReferralView]:
    """A person's onward referrals and signposting, newest first."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        rows = session.execute(
            select(OnwardReferral)
            .where(OnwardReferral.person_id == person_id)
            .order_by(OnwardReferral.referred_on.desc(), OnwardReferral.created_at.desc())
        ).scalars()
        return [referral_view(r) for r in rows]


def referral_details(vault: UnlockedVault, referral_id: uuid.UUID) -> ReferralDetails:
    """A referral as form values, for the correction form."""
    with vault.read() as session:
        r = load_referral(vault, session, referral_id)
        return ReferralDetails(
            referred_on=r.referred_on,
            reason=r.reason,
            to_whom=r.to_whom,
            service_type=r.service_type,
            partner_id=r.partner_id,
            kind=r.kind,
            made_by=r.made_by,
            follow_up_on=r.follow_up_on,
        )


def referral_status_history(
    vault: UnlockedVault, referral_id: uuid.UUID
) -> list[ReferralStatusView]:
    """Every status the referral has had, oldest first, with who recorded it."""
    with vault.read() as session:
        load_referral(vault, session, referral_id)
        rows = session.execute(
            select(ReferralStatusChange, User.display_name)
            .outerjoin(User, User.id == ReferralStatusChange.created_by)
            .where(ReferralStatusChange.referral_id == referral_id)
            .order_by(ReferralStatusChange.changed_on, ReferralStatusChange.created_at)
        ).all()
        return [
            ReferralStatusView(
                ReferralStatus(c.from_status) if c.from_status else None,
                ReferralStatus(c.to_status),
                c.changed_on,
                c.reason_code,
                c.note,
                name or "recovery key",
            )
            for c, name in rows
        ]


def referral_history(vault: UnlockedVault, referral_id: uuid.UUID) -> list[RevisionView]:
    """Earlier versions of a corrected referral, oldest first."""
    with vault.read() as session:
        load_referral(vault, session, referral_id)
        return revision_history(
            session, ReferralRevision, ReferralRevision.referral_id, referral_id
        )
