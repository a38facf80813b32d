"""What the circle's use cases share: the consent in force, and a row's fields for a revision."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim_desk.records.codes import SharingScope
from sim_desk.records.errors import ValidationError
from sim_desk.records.incidents import plain_value
from sim_desk.records.model import Consent, SupportPartner
from sim_desk.records.people.consent import latest_consent_first
from sim_desk.records.validation import clean_text


def current_consent(session: Session, person_id: uuid.UUID) -> Consent | None:
    """The person's latest consent decision (the one in force), if any."""
    return session.execute(
        select(Consent)
        .where(Consent.person_id == person_id)
        .order_by(*latest_consent_first())
        .limit(1)
    ).scalar_one_or_none()


def consent_to_share_with_partners(session: Session, person_id: uuid.UUID) -> Consent:
    """The consent that lets the pair share with named partner services, or a ValidationError
    that says what to record first."""
    consent = current_consent(session, person_id)
    if (
        consent is None
        or consent.withdrawn_on is not None
        or not consent.taking_part
        or not consent.information_sharing
        or consent.scope != SharingScope.TEAM_AND_PARTNERS.value
    ):
        raise ValidationError(
            "What may be shared: the person's consent on record does not cover sharing with"
            " partner services. Ask them, and record their consent with the scope"
            f" '{SharingScope.TEAM_AND_PARTNERS.label}' first; or leave nothing ticked.",
            "shares",
        )
    return consent


def partner_of(
    session: Session, person_id: uuid.UUID, partner_id: uuid.UUID | None, *, field: str
) -> SupportPartner | None:
    """The partner ``partner_id`` in this person's circle (None for None), or a ValidationError."""
    if partner_id is None:
        return None
    partner = session.get(SupportPartner, partner_id)
    if partner is None or partner.person_id != person_id:
        raise ValidationError(
            "Partner: they are not in this person's circle of support, or no longer exist.", field
        )
    return partner


def fields_of(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The row's values as JSON, for a revision."""
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(row, name)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, list):
            value = list(value)
        else:
            value = plain_value(value)
        out[name] = value
    return out


def change_reason(reason: str | None, *, field: str = "reason") -> str | None:
    return clean_text(
        reason, field=field, label="Reason for the change", max_chars=2_000, multiline=True
    )
