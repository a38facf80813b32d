"""Code lists for the circle of support, onward referrals and handover.

Where the Mental Health Services Data Set (MHSDS) has an item, its codes and Data Dictionary
names are used; where a list could not be confirmed against a published source, the codes are
local, say so here, and are kept apart from any national value (lower-case words, never a
national-looking code) so that an export can never pass one off as the other.

Sources looked up (December 2026), not recalled:

* REFERRAL REJECTION REASON (MHSDS and CSDS): 01, 02, 03 as in the NHS Data Dictionary,
  release June 2026, data element "REFERRAL REJECTION REASON"
  (archive.datadictionary.nhs.uk/DD Release June 2026/data_elements/referral_rejection_reason).
* SERVICE OR TEAM TYPE REFERRED TO (MENTAL HEALTH): only A02, A06, A18 and A19 could be
  confirmed, from NHS England Digital's MHSDS guidance "Urgent and emergency mental health care
  pathways - Appendix: community-based crisis and acute care team type definitions" (taken from
  Appendix 10 of the MHSDS v5.0 user guidance). A06 is named there only as the code for "a
  general community mental health team"; the full A01-A25/B/C/D/E/Z list was not found, so the
  other services a SIM pair works with (GP practice, housing, substance use, probation, VCSE
  groups) have local codes.
* SOURCE OF REFERRAL FOR MENTAL HEALTH SERVICES: not confirmed. Only a superseded 2010 list
  ("SOURCE OF REFERRAL FOR MENTAL HEALTH", 00-22) was found, so it is not used. An onward
  referral's source is always the SIM pair; who in the pair made it is ``ReferralMadeBy``.
* REFERRAL CLOSURE REASON (MHSDS): not confirmed. ``ReferralClosureReason`` is local.
* The referral statuses (sent, waiting, accepted, declined, attended, closed) are the issue's
  own words; MHSDS has no status item.

There are no sanction or compliance codes: declining a referral is the person's choice.
"""

from __future__ import annotations

from sim_desk.records.codes import CodeList, PersonStatus, labelled


@labelled(
    {
        "A02": "Crisis Resolution Team/Home Treatment Service",
        "A06": "Community mental health team",
        "A18": "Single Point of Access Service",
        "A19": "24/7 Crisis Response Line",
        "gp_practice": "GP practice (local code)",
        "housing": "Housing (local code)",
        "substance_use": "Drug and alcohol service (local code)",
        "probation": "Probation (local code)",
        "social_care": "Adult social care (local code)",
        "vcse": "Voluntary or community group (local code)",
        "peer_support": "Peer support (local code)",
        "other": "Other (local code)",
    }
)
class ServiceType(CodeList):
    """SERVICE OR TEAM TYPE REFERRED TO (MENTAL HEALTH) where confirmed (A02, A06, A18, A19);
    local codes for the other services around the person (see the module docstring)."""

    CRISIS_RESOLUTION = "A02"
    COMMUNITY_MENTAL_HEALTH = "A06"
    SINGLE_POINT_OF_ACCESS = "A18"
    CRISIS_LINE = "A19"
    GP_PRACTICE = "gp_practice"
    HOUSING = "housing"
    SUBSTANCE_USE = "substance_use"
    PROBATION = "probation"
    SOCIAL_CARE = "social_care"
    VCSE = "vcse"
    PEER_SUPPORT = "peer_support"
    OTHER = "other"

    @property
    def is_mhsds(self) -> bool:
        """Whether the code is the national MHSDS one (not a local code)."""
        return not self.value.islower()


@labelled(
    {
        "pair_contact": "How to reach the SIM pair",
        "goals": "The person's goals, in their words",
        "crisis_plan": "The crisis plan, in the person's words",
        "handover": "What the person wants the next worker to know",
        "circle": "Who else supports them",
        "referrals": "Referrals the pair has made",
        "health_notes": "Health information a clinician chooses",
    }
)
class ShareItem(CodeList):
    """What a person may agree to share with a partner (local). A handover letter holds only
    the items agreed for its recipient; ``health_notes`` lets a clinician add clinician-only
    notes they choose, and nothing else does."""

    PAIR_CONTACT = "pair_contact"
    GOALS = "goals"
    CRISIS_PLAN = "crisis_plan"
    HANDOVER = "handover"
    CIRCLE = "circle"
    REFERRALS = "referrals"
    HEALTH_NOTES = "health_notes"


@labelled({"referral": "Referral", "signposting": "Signposting"})
class ReferralKind(CodeList):
    """A referral is sent to a service on the person's behalf; signposting points the person
    to a service they contact themselves (local)."""

    REFERRAL = "referral"
    SIGNPOSTING = "signposting"


@labelled(
    {
        "officer": "Officer",
        "clinician": "Clinician",
        "both": "Officer and clinician",
        "person": "The person, with the pair's help",
    }
)
class ReferralMadeBy(CodeList):
    OFFICER = "officer"
    CLINICIAN = "clinician"
    BOTH = "both"
    PERSON = "person"


@labelled(
    {
        "sent": "Sent",
        "waiting": "Waiting",
        "accepted": "Accepted",
        "declined": "Declined",
        "attended": "Attended",
        "closed": "Closed",
    }
)
class ReferralStatus(CodeList):
    SENT = "sent"
    WAITING = "waiting"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    ATTENDED = "attended"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """Still needs the pair's attention (a follow-up on Today)."""
        return self in (ReferralStatus.SENT, ReferralStatus.WAITING, ReferralStatus.ACCEPTED)

    @property
    def connects(self) -> bool:
        """Counts as connecting the person with a continuing service (issue 17's definition)."""
        return self in (ReferralStatus.ACCEPTED, ReferralStatus.ATTENDED)


#: Which status may follow which. A closed referral stays closed: a new one is a new referral.
REFERRAL_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.SENT: frozenset(
        {
            ReferralStatus.WAITING,
            ReferralStatus.ACCEPTED,
            ReferralStatus.DECLINED,
            ReferralStatus.ATTENDED,
            ReferralStatus.CLOSED,
        }
    ),
    ReferralStatus.WAITING: frozenset(
        {
            ReferralStatus.ACCEPTED,
            ReferralStatus.DECLINED,
            ReferralStatus.ATTENDED,
            ReferralStatus.CLOSED,
        }
    ),
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.ATTENDED, ReferralStatus.CLOSED}),
    ReferralStatus.DECLINED: frozenset({ReferralStatus.CLOSED}),
    ReferralStatus.ATTENDED: frozenset({ReferralStatus.CLOSED}),
    ReferralStatus.CLOSED: frozenset(),
}


@labelled(
    {
        "01": "Duplicate referral request",
        "02": "Inappropriate referral request",
        "03": "Incomplete referral request",
        "person_declined": "The person chose not to go ahead (local code)",
        "other": "Other (local code)",
    }
)
class ReferralRejectionReason(CodeList):
    """REFERRAL REJECTION REASON (NHS Data Dictionary, used in MHSDS): 01-03 are national;
    the person's own choice and "other" are local, since the national item covers only a
    provider rejecting a referral."""

    DUPLICATE = "01"
    INAPPROPRIATE = "02"
    INCOMPLETE = "03"
    PERSON_DECLINED = "person_declined"
    OTHER = "other"


@labelled(
    {
        "support_ongoing": "Support under way; the pair no longer needs to follow it up",
        "support_ended": "The service's support has ended",
        "person_choice": "The person chose to stop",
        "no_response": "No response from the service",
        "moved": "The person moved away",
        "other": "Other",
    }
)
class ReferralClosureReason(CodeList):
    """Why the pair closed an onward referral. Local codes: the MHSDS REFERRAL CLOSURE REASON
    list could not be confirmed (see the module docstring)."""

    SUPPORT_ONGOING = "support_ongoing"
    SUPPORT_ENDED = "support_ended"
    PERSON_CHOICE = "person_choice"
    NO_RESPONSE = "no_response"
    MOVED = "moved"
    OTHER = "other"


@labelled({"police": "Police", "partner": "A partner in the person's circle"})
class DisclosureRecipient(CodeList):
    POLICE = "police"
    PARTNER = "partner"


#: Moves that need a handover plan first (from now on; see ``people.status``).
NEEDS_HANDOVER_PLAN = (PersonStatus.STEPPING_DOWN,)
