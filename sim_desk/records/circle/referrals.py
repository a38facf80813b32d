"""Onward referrals and signposting: made, followed up, and how each turned out.

A referral's status moves along :data:`REFERRAL_TRANSITIONS`, each move kept with its date; a
correction to the referral itself keeps the earlier version, as contacts do. The follow-up date
puts the referral on Today when it falls due while the referral is still open.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.circle.codes import (
    REFERRAL_TRANSITIONS,
    ReferralClosureReason,
    ReferralKind,
    ReferralMadeBy,
    ReferralRejectionReason,
    ReferralStatus,
    ServiceType,
)
from sim_desk.records.circle.common import change_reason, fields_of, partner_of
from sim_desk.records.errors import NotFound, ValidationError
from sim_desk.records.model import (
    OnwardReferral,
    Person,
    ReferralRevision,
    ReferralStatusChange,
)
from sim_desk.records.permissions import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import check_date, check_not_future, check_order, clean_text
from sim_desk.records.vault.audit import Action

#: What a revision keeps of a referral (its status has a history of its own).
REFERRAL_FIELDS = (
    "kind",
    "referred_on",
    "partner_id",
    "service_type",
    "to_whom",
    "reason",
    "made_by",
    "follow_up_on",
)


@dataclass
class ReferralDetails:
    """A referral as typed into the form. With ``partner_id`` set, ``to_whom`` and
    ``service_type`` may be left empty: the partner's are used."""

    referred_on: date
    reason: str
    to_whom: str | None = None
    service_type: str | None = None
    partner_id: uuid.UUID | None = None
    kind: str = ReferralKind.REFERRAL.value
    made_by: str = ReferralMadeBy.BOTH.value
    follow_up_on: date | None = None


def _clean(
    vault: UnlockedVault, session: Session, person: Person, details: ReferralDetails
) -> dict[str, object]:
    referred_on = check_date(details.referred_on, field="referred_on", label="Date referred")
    check_not_future(referred_on, today=vault.today(), field="referred_on", label="Date referred")
    check_order(
        person.referred_on,
        referred_on,
        field="referred_on",
        message="Date referred: it is before this person was referred to the SIM team.",
    )
    if details.follow_up_on is not None:
        check_date(details.follow_up_on, field="follow_up_on", label="Follow up on")
        check_order(
            referred_on,
            details.follow_up_on,
            field="follow_up_on",
            message="Follow up on: it is before the date of the referral.",
        )
    partner = partner_of(session, person.id, details.partner_id, field="partner_id")
    to_whom = clean_text(details.to_whom, field="to_whom", label="Referred to", max_chars=200)
    if to_whom is None and partner is not None:
        to_whom = partner.organisation
    if to_whom is None:
        raise ValidationError(
            "Referred to: name the service (or choose a partner from the circle).", "to_whom"
        )
    service = details.service_type or (partner.service_type if partner else None)
    if not service:
        raise ValidationError("Service type: choose the kind of service.", "service_type")
    return {
        "kind": ReferralKind.parse(str(details.kind), field="kind").value,
        "referred_on": referred_on,
        "partner_id": partner.id if partner else None,
        "service_type": ServiceType.parse(str(service), field="service_type").value,
        "to_whom": to_whom,
        "reason": clean_text(
            details.reason,
            field="reason",
            label="Why",
            max_chars=5_000,
            required=True,
            multiline=True,
        ),
        "made_by": ReferralMadeBy.parse(str(details.made_by), field="made_by").value,
        "follow_up_on": details.follow_up_on,
    }


def add_referral(
    vault: UnlockedVault, session: Session, person: Person, details: ReferralDetails
) -> OnwardReferral:
    """Validates and adds a referral in the caller's transaction (the caller checked access
    and audits). For imports, which add many in one batch."""
    values = _clean(vault, session, person, details)
    referral = OnwardReferral(
        person_id=person.id,
        status=ReferralStatus.SENT.value,
        status_on=values["referred_on"],
        created_by=vault.actor.user_id,
        **values,
    )
    session.add(referral)
    session.flush()
    session.add(
        ReferralStatusChange(
            referral_id=referral.id,
            from_status=None,
            to_status=ReferralStatus.SENT.value,
            changed_on=referral.referred_on,
            created_by=vault.actor.user_id,
        )
    )
    return referral


def record_referral(
    vault: UnlockedVault, person_id: uuid.UUID, details: ReferralDetails
) -> uuid.UUID:
    """Records an onward referral or signposting, status "sent"; returns its id."""
    vault.require_role(*CASEWORKERS, doing="record onward referrals")
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        referral = add_referral(vault, session, person, details)
        vault.audit(
            session,
            Action.CREATE,
            "onward_referral",
            referral.id,
            person=person.id,
            kind=referral.kind,
            service_type=referral.service_type.lower(),
        )
        return referral.id


def amend_referral(
    vault: UnlockedVault,
    referral_id: uuid.UUID,
    details: ReferralDetails,
    *,
    reason: str | None = None,
) -> int:
    """Corrects a referral's details, keeping the earlier version; returns the new revision."""
    vault.require_role(*CASEWORKERS, doing="correct onward referrals")
    # "reason" is the referral's own "why"; the reason for a correction is "why_corrected".
    why = change_reason(reason, field="why_corrected")
    with vault.write() as session:
        referral = load_referral(vault, session, referral_id)
        person = load_person(vault, session, referral.person_id)
        values = _clean(vault, session, person, details)
        if referral.status == ReferralStatus.SENT.value:
            # Still only sent: the "sent" status moves with the corrected date.
            if referral.status_on != values["referred_on"]:
                for change in session.execute(
                    select(ReferralStatusChange).where(
                        ReferralStatusChange.referral_id == referral.id
                    )
                ).scalars():
                    change.changed_on = values["referred_on"]  # type: ignore[assignment]
                referral.status_on = values["referred_on"]  # type: ignore[assignment]
        elif referral.status_on < values["referred_on"]:  # type: ignore[operator]
            raise ValidationError(
                "Date referred: the referral's status changed before that date; check it.",
                "referred_on",
            )
        changed = [name for name, value in values.items() if getattr(referral, name) != value]
        if not changed:
            return referral.revision
        session.add(
            ReferralRevision(
                referral_id=referral.id,
                revision=referral.revision,
                fields=fields_of(referral, REFERRAL_FIELDS),
                reason=why,
                created_by=vault.actor.user_id,
            )
        )
        for name in changed:
            setattr(referral, name, values[name])
        referral.revision += 1
        vault.audit(
            session,
            Action.UPDATE,
            "onward_referral",
            referral.id,
            person=person.id,
            fields=changed,
            revision=referral.revision,
        )
        return referral.revision


@dataclass
class StatusUpdate:
    """A move of a referral's status. ``first_contact_on`` is when the service first saw the
    person (it defaults to the day an "attended" is recorded); ``follow_up_on`` of None keeps
    the follow-up date as it was."""

    to_status: str
    on: date
    rejection_reason: str | None = None
    closure_reason: str | None = None
    first_contact_on: date | None = None
    follow_up_on: date | None = None
    note: str | None = None


def apply_status(
    vault: UnlockedVault, session: Session, referral: OnwardReferral, update: StatusUpdate
) -> ReferralStatus:
    """Checks and applies a status move in the caller's transaction (access checked there)."""
    target = ReferralStatus(ReferralStatus.parse(str(update.to_status), field="status").value)
    current = ReferralStatus(referral.status)
    if target not in REFERRAL_TRANSITIONS[current]:
        raise ValidationError(
            f"Status: a referral that is {current.label.lower()} cannot become"
            f" {target.label.lower()}."
            + (" Record a new referral instead." if current == ReferralStatus.CLOSED else ""),
            "status",
        )
    on = check_date(update.on, field="on", label="Date of the change")
    check_not_future(on, today=vault.today(), field="on", label="Date of the change")
    check_order(
        referral.status_on,
        on,
        field="on",
        message="Date of the change: it is before the referral's last change; check the date.",
    )
    reason_code: str | None = None
    if update.rejection_reason is not None:
        if target != ReferralStatus.DECLINED:
            raise ValidationError(
                "Reason declined: only a declined referral has one.", "rejection_reason"
            )
        reason_code = ReferralRejectionReason.parse(
            str(update.rejection_reason), field="rejection_reason"
        ).value
        referral.rejection_reason = reason_code
    if update.closure_reason is not None:
        if target != ReferralStatus.CLOSED:
            raise ValidationError(
                "Reason closed: only a closed referral has one.", "closure_reason"
            )
        reason_code = ReferralClosureReason.parse(
            str(update.closure_reason), field="closure_reason"
        ).value
        referral.closure_reason = reason_code
    first = update.first_contact_on
    if first is None and target == ReferralStatus.ATTENDED and referral.first_contact_on is None:
        first = on
    if first is not None:
        check_date(first, field="first_contact_on", label="First seen by the service")
        check_not_future(
            first, today=vault.today(), field="first_contact_on", label="First seen by the service"
        )
        check_order(
            referral.referred_on,
            first,
            field="first_contact_on",
            message="First seen by the service: it is before the referral was made.",
        )
        referral.first_contact_on = first
    if update.follow_up_on is not None:
        check_date(update.follow_up_on, field="follow_up_on", label="Follow up on")
        check_order(
            on,
            update.follow_up_on,
            field="follow_up_on",
            message="Follow up on: it is before the date of this change.",
        )
        referral.follow_up_on = update.follow_up_on
    note = clean_text(update.note, field="note", label="Note", max_chars=2_000, multiline=True)
    session.add(
        ReferralStatusChange(
            referral_id=referral.id,
            from_status=current.value,
            to_status=target.value,
            changed_on=on,
            reason_code=reason_code,
            note=note,
            created_by=vault.actor.user_id,
        )
    )
    referral.status = target.value
    referral.status_on = on
    return target


def update_referral_status(
    vault: UnlockedVault, referral_id: uuid.UUID, update: StatusUpdate
) -> None:
    """Moves a referral to its next status (sent, waiting, accepted, declined, attended,
    closed), keeping every earlier one with its date."""
    vault.require_role(*CASEWORKERS, doing="update onward referrals")
    with vault.write() as session:
        referral = load_referral(vault, session, referral_id)
        target = apply_status(vault, session, referral, update)
        vault.audit(
            session,
            Action.UPDATE,
            "onward_referral",
            referral.id,
            person=referral.person_id,
            status=target.value,
        )


def load_referral(vault: UnlockedVault, session: Session, referral_id: uuid.UUID) -> OnwardReferral:
    referral = session.get(OnwardReferral, referral_id)
    if referral is None:
        raise NotFound("That referral was not found. It may have been moved or restored.")
    load_person(vault, session, referral.person_id)
    return referral
