"""Who supports the person: organisations and named workers, and what may be shared with each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from sim_desk.records.circle.codes import ServiceType, ShareItem
from sim_desk.records.circle.common import (
    change_reason,
    consent_to_share_with_partners,
    fields_of,
)
from sim_desk.records.errors import NotFound, ValidationError
from sim_desk.records.incidents import RevisionView, revision_history
from sim_desk.records.model import SupportPartner, SupportPartnerRevision
from sim_desk.records.permissions import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import check_not_future, check_order, clean_text
from sim_desk.records.vault.audit import Action

#: What a revision keeps of a partner's entry.
PARTNER_FIELDS = (
    "service_type",
    "organisation",
    "worker_name",
    "role",
    "how_to_reach",
    "shares",
    "sharing_notes",
    "consent_id",
    "ended_on",
)


@dataclass
class PartnerDetails:
    """A partner as typed into the form. ``shares`` are :class:`ShareItem` codes."""

    service_type: str
    organisation: str
    worker_name: str | None = None
    role: str | None = None
    how_to_reach: str | None = None
    shares: list[str] = field(default_factory=list)
    sharing_notes: str | None = None
    ended_on: date | None = None


@dataclass(frozen=True)
class PartnerView:
    id: uuid.UUID
    person_id: uuid.UUID
    service_type: ServiceType
    organisation: str
    worker_name: str | None
    role: str | None
    how_to_reach: str | None
    shares: tuple[ShareItem, ...]
    sharing_notes: str | None
    consent_id: uuid.UUID | None
    ended_on: date | None
    revision: int

    @property
    def name(self) -> str:
        """ "Dr Amira Haddad, Riverside Surgery" or just the organisation."""
        return f"{self.worker_name}, {self.organisation}" if self.worker_name else self.organisation

    @property
    def active(self) -> bool:
        return self.ended_on is None


def _clean(vault: UnlockedVault, details: PartnerDetails) -> dict[str, object]:
    shares = details.shares or []
    if isinstance(shares, str) or not all(isinstance(s, str) for s in shares):
        raise ValidationError("What may be shared: choose from the list.", "shares")
    codes = sorted({ShareItem.parse(s, field="shares").value for s in shares})
    if details.ended_on is not None:
        check_not_future(
            details.ended_on, today=vault.today(), field="ended_on", label="No longer involved"
        )
    return {
        "service_type": ServiceType.parse(str(details.service_type), field="service_type").value,
        "organisation": clean_text(
            details.organisation,
            field="organisation",
            label="Organisation",
            max_chars=200,
            required=True,
        ),
        "worker_name": clean_text(
            details.worker_name, field="worker_name", label="Worker", max_chars=200
        ),
        "role": clean_text(details.role, field="role", label="Role", max_chars=200),
        "how_to_reach": clean_text(
            details.how_to_reach,
            field="how_to_reach",
            label="How to reach them",
            max_chars=500,
            multiline=True,
        ),
        "shares": codes,
        "sharing_notes": clean_text(
            details.sharing_notes,
            field="sharing_notes",
            label="Notes on sharing",
            max_chars=2_000,
            multiline=True,
        ),
        "ended_on": details.ended_on,
    }


def add_partner(vault: UnlockedVault, person_id: uuid.UUID, details: PartnerDetails) -> uuid.UUID:
    """Adds an organisation or worker to the person's circle of support.

    Anything ticked as shareable needs the person's consent to share with partner services on
    record; the partner is linked to that consent decision.
    """
    vault.require_role(*CASEWORKERS, doing="add someone to a person's circle of support")
    values = _clean(vault, details)
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        consent = consent_to_share_with_partners(session, person.id) if values["shares"] else None
        check_order(
            person.referred_on,
            values["ended_on"],  # type: ignore[arg-type]
            field="ended_on",
            message="No longer involved: it is before this person was referred.",
        )
        partner = SupportPartner(
            person_id=person.id,
            consent_id=consent.id if consent else None,
            created_by=vault.actor.user_id,
            **values,
        )
        session.add(partner)
        session.flush()
        vault.audit(
            session,
            Action.CREATE,
            "support_partner",
            partner.id,
            person=person.id,
            service_type=partner.service_type.lower(),
            shares=list(partner.shares),
        )
        return partner.id


def amend_partner(
    vault: UnlockedVault,
    partner_id: uuid.UUID,
    details: PartnerDetails,
    *,
    reason: str | None = None,
) -> int:
    """Saves a change to a partner's entry, keeping the earlier one; returns the new revision.

    Widening what may be shared checks consent again; narrowing it never needs to.
    """
    vault.require_role(*CASEWORKERS, doing="change a person's circle of support")
    values = _clean(vault, details)
    why = change_reason(reason)
    with vault.write() as session:
        partner = session.get(SupportPartner, partner_id)
        if partner is None:
            raise NotFound("That partner was not found. They may have been removed or restored.")
        person = load_person(vault, session, partner.person_id)
        check_order(
            person.referred_on,
            values["ended_on"],  # type: ignore[arg-type]
            field="ended_on",
            message="No longer involved: it is before this person was referred.",
        )
        shares: list[str] = values["shares"]  # type: ignore[assignment]
        widened = set(shares) - set(partner.shares)
        if widened:
            values["consent_id"] = consent_to_share_with_partners(session, person.id).id
        changed = [name for name, value in values.items() if getattr(partner, name) != value]
        if not changed:
            return partner.revision
        session.add(
            SupportPartnerRevision(
                partner_id=partner.id,
                revision=partner.revision,
                fields=fields_of(partner, PARTNER_FIELDS),
                reason=why,
                created_by=vault.actor.user_id,
            )
        )
        for name in changed:
            setattr(partner, name, values[name])
        partner.revision += 1
        vault.audit(
            session,
            Action.UPDATE,
            "support_partner",
            partner.id,
            person=person.id,
            fields=changed,
            revision=partner.revision,
        )
        return partner.revision


def partner_view(partner: SupportPartner) -> PartnerView:
    return PartnerView(
        id=partner.id,
        person_id=partner.person_id,
        service_type=ServiceType(partner.service_type),
        organisation=partner.organisation,
        worker_name=partner.worker_name,
        role=partner.role,
        how_to_reach=partner.how_to_reach,
        shares=tuple(ShareItem(s) for s in partner.shares),
        sharing_notes=partner.sharing_notes,
        consent_id=partner.consent_id,
        ended_on=partner.ended_on,
        revision=partner.revision,
    )


def list_partners(
    vault: UnlockedVault, person_id: uuid.UUID, *, include_ended: bool = True
) -> list[PartnerView]:
    """The person's circle of support: current partners first, then those no longer involved."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        query = select(SupportPartner).where(SupportPartner.person_id == person_id)
        if not include_ended:
            query = query.where(SupportPartner.ended_on.is_(None))
        rows = session.execute(query.order_by(SupportPartner.created_at)).scalars()
        views = [partner_view(p) for p in rows]
    return sorted(views, key=lambda p: (not p.active, p.organisation.casefold()))


def partner_details(vault: UnlockedVault, partner_id: uuid.UUID) -> PartnerDetails:
    """A partner as form values, for the amendment form."""
    with vault.read() as session:
        partner = session.get(SupportPartner, partner_id)
        if partner is None:
            raise NotFound("That partner was not found. They may have been removed or restored.")
        load_person(vault, session, partner.person_id)
        return PartnerDetails(
            service_type=partner.service_type,
            organisation=partner.organisation,
            worker_name=partner.worker_name,
            role=partner.role,
            how_to_reach=partner.how_to_reach,
            shares=list(partner.shares),
            sharing_notes=partner.sharing_notes,
            ended_on=partner.ended_on,
        )


def partner_history(vault: UnlockedVault, partner_id: uuid.UUID) -> list[RevisionView]:
    """Earlier versions of a partner's entry, oldest first."""
    with vault.read() as session:
        partner = session.get(SupportPartner, partner_id)
        if partner is None:
            raise NotFound("That partner was not found. They may have been removed or restored.")
        load_person(vault, session, partner.person_id)
        return revision_history(
            session, SupportPartnerRevision, SupportPartnerRevision.partner_id, partner_id
        )
