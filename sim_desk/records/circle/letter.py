"""The handover letter's contents, and the disclosure it makes, logged like one to police.

A letter to a partner (a GP, a care coordinator) holds only what the person agreed may be shared
with that partner, under consent still in force. Clinician-only notes go in only when the
person agreed to share health information with the partner *and* a clinician (or clinical
lead) picks the notes; nobody else can add them and none are read otherwise.

Gathering the contents and logging the disclosure happen in one transaction: a letter is never
made without its log entry. (If the PDF then fails to be written, the log shows an intended
disclosure that did not happen, which is the safer way to be wrong.)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from sim_desk.records.circle.codes import DisclosureRecipient, ShareItem
from sim_desk.records.circle.common import consent_to_share_with_partners, partner_of
from sim_desk.records.circle.handover import HandoverPlanView
from sim_desk.records.circle.partners import PartnerView, partner_view
from sim_desk.records.circle.referral_views import ReferralView, referral_view
from sim_desk.records.codes import LawfulBasis, PersonAsked
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import (
    Contact,
    Disclosure,
    HandoverPlan,
    OnwardReferral,
    Pair,
    SupportPartner,
    User,
)
from sim_desk.records.permissions import CASEWORKERS, CLINICAL_REPORTERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.audit import Action


@dataclass(frozen=True)
class LetterNote:
    """A clinician-only note the clinician chose for the letter."""

    written_at: datetime
    text: str


@dataclass(frozen=True)
class HandoverLetter:
    """What a handover letter may say: each part is None (or empty) unless the person agreed
    to share it with this partner."""

    disclosure_id: uuid.UUID
    person_name: str
    preferred_name: str | None
    date_of_birth: date | None
    nhs_number: str | None
    recipient: PartnerView
    agreed: tuple[ShareItem, ...]
    consent_recorded_on: date
    written_by: str
    written_on: date
    pair_contact: str | None
    goals: str | None
    crisis_plan: str | None
    handover: HandoverPlanView | None
    circle: tuple[PartnerView, ...]
    referrals: tuple[ReferralView, ...]
    clinical_notes: tuple[LetterNote, ...]
    sharing_notes: str | None


def _plan_view(plan: HandoverPlan, partners: dict[uuid.UUID, PartnerView]) -> HandoverPlanView:
    continuing = partners.get(plan.continuing_partner_id) if plan.continuing_partner_id else None
    return HandoverPlanView(
        id=plan.id,
        person_id=plan.person_id,
        continuing_partner_id=plan.continuing_partner_id,
        continuing_partner=continuing.name if continuing else None,
        who_carries_on=plan.who_carries_on,
        person_wants_known=plan.person_wants_known,
        crisis_plan=plan.crisis_plan,
        shared_with=plan.shared_with,
        check_in_on=plan.check_in_on,
        agreed_on=plan.agreed_on,
        revision=plan.revision,
    )


def handover_letter(
    vault: UnlockedVault,
    person_id: uuid.UUID,
    partner_id: uuid.UUID,
    *,
    clinical_note_ids: Sequence[uuid.UUID] = (),
) -> HandoverLetter:
    """Gathers a handover letter for ``partner_id`` and logs the disclosure it makes.

    Raises:
        ValidationError: the partner is not in the circle or no longer involved, nothing was
            agreed to share with them, the consent no longer covers partners, or notes were
            chosen that the person did not agree to share.
        PermissionDenied: clinician-only notes asked for by anyone but a clinician or
            clinical lead (with the clinical key).
    """
    vault.require_role(*CASEWORKERS, doing="write a handover letter")
    if clinical_note_ids and (
        not vault.has_clinical_key or vault.actor.role not in CLINICAL_REPORTERS
    ):
        raise PermissionDenied(
            "Only a clinician or clinical lead can put clinician-only notes in a letter. Write"
            " it without them, or ask the clinician in the pair."
        )
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        row = partner_of(session, person.id, partner_id, field="partner_id")
        assert row is not None
        recipient = partner_view(row)
        if not recipient.active:
            raise ValidationError(
                "Letter to: they are no longer involved with this person.", "partner_id"
            )
        if not recipient.shares:
            raise ValidationError(
                "Letter to: the person has not agreed to share anything with them. Ask the"
                " person, and record what they agree to on the partner's entry.",
                "partner_id",
            )
        consent = consent_to_share_with_partners(session, person.id)
        agreed = set(recipient.shares)
        if clinical_note_ids and ShareItem.HEALTH_NOTES not in agreed:
            raise ValidationError(
                "Clinician-only notes: the person has not agreed to share health information"
                " with this partner.",
                "clinical_note_ids",
            )
        notes = []
        for note_id in dict.fromkeys(clinical_note_ids):
            contact = session.get(Contact, note_id)
            if contact is None or contact.person_id != person.id or not contact.clinical_note:
                raise ValidationError(
                    "Clinician-only notes: one chosen is not a note on this person's record.",
                    "clinical_note_ids",
                )
            notes.append(
                LetterNote(
                    contact.started_at, vault.decrypt_clinical(contact.clinical_note, note_id)
                )
            )
        partners = {
            p.id: partner_view(p)
            for p in session.execute(
                select(SupportPartner).where(SupportPartner.person_id == person.id)
            ).scalars()
        }
        plan = session.execute(
            select(HandoverPlan).where(HandoverPlan.person_id == person.id)
        ).scalar_one_or_none()
        pair_contact = None
        if ShareItem.PAIR_CONTACT in agreed and person.pair_id is not None:
            pair = session.get(Pair, person.pair_id)
            if pair is not None:
                names = [
                    n
                    for n in session.execute(
                        select(User.display_name).where(
                            User.id.in_((pair.officer_id, pair.clinician_id))
                        )
                    ).scalars()
                ]
                pair_contact = f"{pair.name}: " + " and ".join(sorted(names))
        referrals: tuple[ReferralView, ...] = ()
        if ShareItem.REFERRALS in agreed:
            referrals = tuple(
                referral_view(r)
                for r in session.execute(
                    select(OnwardReferral)
                    .where(OnwardReferral.person_id == person.id)
                    .order_by(OnwardReferral.referred_on)
                ).scalars()
            )
        handover = _plan_view(plan, partners) if plan and ShareItem.HANDOVER in agreed else None
        crisis_plan = None
        if ShareItem.CRISIS_PLAN in agreed:
            crisis_plan = (plan.crisis_plan if plan else None) or person.crisis_plan
        items = sorted(agreed, key=list(ShareItem).index)
        what = "Handover letter: " + "; ".join(i.label for i in items)
        if notes:
            what += f"; {len(notes)} clinician-only note(s) chosen by {vault.actor.display_name}"
        disclosure = Disclosure(
            person_id=person.id,
            shared_at=vault.now(),
            what=what,
            why="Handover of support as the SIM pair steps back",
            lawful_basis=LawfulBasis.CONSENT.value,
            person_asked=PersonAsked.ASKED_AGREED.value,
            shared_with=recipient.name[:200],
            recipient=DisclosureRecipient.PARTNER.value,
            partner_id=recipient.id,
            created_by=vault.actor.user_id,
        )
        session.add(disclosure)
        session.flush()
        vault.audit(
            session,
            Action.CREATE,
            "disclosure",
            disclosure.id,
            person=person.id,
            recipient=DisclosureRecipient.PARTNER.value,
            partner=recipient.id,
            items=[i.value for i in items],
            clinical_notes=len(notes),
        )
        return HandoverLetter(
            disclosure_id=disclosure.id,
            person_name=f"{person.given_name} {person.family_name}",
            preferred_name=person.preferred_name,
            date_of_birth=person.date_of_birth,
            nhs_number=person.nhs_number,
            recipient=recipient,
            agreed=tuple(items),
            consent_recorded_on=consent.recorded_on,
            written_by=vault.actor.display_name,
            written_on=vault.today(),
            pair_contact=pair_contact,
            goals=person.goals if ShareItem.GOALS in agreed else None,
            crisis_plan=crisis_plan,
            handover=handover,
            circle=tuple(p for p in partners.values() if p.active and p.id != recipient.id)
            if ShareItem.CIRCLE in agreed
            else (),
            referrals=referrals,
            clinical_notes=tuple(notes),
            sharing_notes=recipient.sharing_notes,
        )
