"""The circle of support: who else supports the person, where the pair referred them on, and
the handover plan for when the pair steps back.

There are no sanction or compliance fields here either: a referral the person declined is an
outcome to learn from, never a mark against them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sim_desk.records.model.base import Base, Tracked


class SupportPartner(Base, Tracked):
    """An organisation (and, where known, a named worker) around the person.

    ``shares`` lists the codes of what the person has agreed may be shared with this partner
    (``circle.codes.ShareItem``); ``consent_id`` is the consent decision in force when they
    agreed, so that a later withdrawal can be seen against it.
    """

    __tablename__ = "support_partners"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    service_type: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(200))
    worker_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    how_to_reach: Mapped[str | None] = mapped_column(String(500))
    shares: Mapped[list[str]] = mapped_column()
    sharing_notes: Mapped[str | None] = mapped_column(Text)
    consent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consents.id"))
    ended_on: Mapped[date | None] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, default=1)


class SupportPartnerRevision(Base, Tracked):
    """A partner's entry as it was before an amendment."""

    __tablename__ = "support_partner_revisions"
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("support_partners.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)


class OnwardReferral(Base, Tracked):
    """A referral or a signposting by the pair to another service, with its current status.

    Each change of status is a row of :class:`ReferralStatusChange`; corrections to the
    referral's own details keep the earlier version as a :class:`ReferralRevision`.
    """

    __tablename__ = "onward_referrals"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(20))
    referred_on: Mapped[date] = mapped_column(Date)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("support_partners.id"))
    service_type: Mapped[str] = mapped_column(String(20))
    to_whom: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    made_by: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    status_on: Mapped[date] = mapped_column(Date)
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    first_contact_on: Mapped[date | None] = mapped_column(Date)
    rejection_reason: Mapped[str | None] = mapped_column(String(20))
    closure_reason: Mapped[str | None] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_onward_referrals_person", "person_id", "referred_on"),
        # Today asks "which follow-ups are due" across the caseload on every refresh.
        Index("ix_onward_referrals_follow_up", "follow_up_on", "status"),
    )


class ReferralStatusChange(Base, Tracked):
    """Each move of an onward referral: sent, waiting, accepted, declined, attended, closed."""

    __tablename__ = "referral_status_changes"
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("onward_referrals.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    changed_on: Mapped[date] = mapped_column(Date)
    reason_code: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class ReferralRevision(Base, Tracked):
    """An onward referral's details as they were before a correction."""

    __tablename__ = "referral_revisions"
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("onward_referrals.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)


class HandoverPlan(Base, Tracked):
    """How support carries on when the pair steps back, one per person, revised as it changes.

    ``continuing_partner_id`` names the continuing worker when they are in the circle; the
    person's own words (what they want the next worker to know, their crisis plan) are kept
    as they said them.
    """

    __tablename__ = "handover_plans"
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), unique=True)
    continuing_partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("support_partners.id")
    )
    who_carries_on: Mapped[str | None] = mapped_column(String(300))
    person_wants_known: Mapped[str | None] = mapped_column(Text)
    crisis_plan: Mapped[str | None] = mapped_column(Text)
    shared_with: Mapped[str | None] = mapped_column(String(500))
    check_in_on: Mapped[date | None] = mapped_column(Date)
    agreed_on: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, default=1)


class HandoverPlanRevision(Base, Tracked):
    """A handover plan as it was before it was revised."""

    __tablename__ = "handover_plan_revisions"
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("handover_plans.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
