"""The circle of support: partners around the person, onward referrals, the handover plan.

Use cases for the organisations and named workers who support the person (and what the person
agreed may be shared with each, linked to their consent), for the referrals and signposting the
pair makes with their status history and follow-up dates, and for the handover plan a record
needs before it moves to stepping down.
"""

from sim_desk.records.circle.codes import (
    REFERRAL_TRANSITIONS,
    DisclosureRecipient,
    ReferralClosureReason,
    ReferralKind,
    ReferralMadeBy,
    ReferralRejectionReason,
    ReferralStatus,
    ServiceType,
    ShareItem,
)
from sim_desk.records.circle.handover import (
    HandoverDetails,
    HandoverPlanView,
    handover_history,
    handover_plan,
    save_handover_plan,
)
from sim_desk.records.circle.letter import HandoverLetter, LetterNote, handover_letter
from sim_desk.records.circle.partners import (
    PartnerDetails,
    PartnerView,
    add_partner,
    amend_partner,
    list_partners,
    partner_details,
    partner_history,
)
from sim_desk.records.circle.referral_views import (
    ReferralStatusView,
    ReferralView,
    list_referrals,
    referral_details,
    referral_history,
    referral_status_history,
    referral_view,
)
from sim_desk.records.circle.referrals import (
    ReferralDetails,
    StatusUpdate,
    add_referral,
    amend_referral,
    apply_status,
    record_referral,
    update_referral_status,
)

__all__ = [
    "REFERRAL_TRANSITIONS",
    "DisclosureRecipient",
    "HandoverDetails",
    "HandoverLetter",
    "HandoverPlanView",
    "LetterNote",
    "PartnerDetails",
    "PartnerView",
    "ReferralClosureReason",
    "ReferralDetails",
    "ReferralKind",
    "ReferralMadeBy",
    "ReferralRejectionReason",
    "ReferralStatus",
    "ReferralStatusView",
    "ReferralView",
    "ServiceType",
    "ShareItem",
    "StatusUpdate",
    "add_partner",
    "add_referral",
    "amend_partner",
    "amend_referral",
    "apply_status",
    "handover_history",
    "handover_letter",
    "handover_plan",
    "list_partners",
    "list_referrals",
    "partner_details",
    "partner_history",
    "record_referral",
    "referral_details",
    "referral_history",
    "referral_status_history",
    "referral_view",
    "save_handover_plan",
    "update_referral_status",
]
