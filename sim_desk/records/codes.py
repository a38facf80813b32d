"""Code lists. NHS Data Dictionary codes keep their Data Dictionary values and names.

Each list is a ``StrEnum`` (the value is what is stored) with a ``label`` for people. Storing the
code, not the label, keeps the vault stable when wording changes and lets exports map to national
datasets (MHSDS, ECDS) without translation.

The circle of support's lists (services around the person, onward referral statuses, MHSDS
referral rejection reasons, and which lists could not be confirmed against a published
source) are in ``records/circle/codes.py``.
"""

from __future__ import annotations

from enum import StrEnum


class CodeList(StrEnum):
    """A code list whose members know their human label."""

    @property
    def label(self) -> str:
        return _LABELS[type(self).__name__][self.value]

    @classmethod
    def parse(cls, value: str, *, field: str) -> CodeList:
        """Returns the member whose code (or label, ignoring case) is ``value``.

        Raises:
            ValidationError: naming the field and the allowed codes.
        """
        from sim_desk.records.errors import ValidationError

        text = str(value).strip()
        for member in cls:
            if text == member.value or text.casefold() == member.label.casefold():
                return member
        allowed = ", ".join(f"{m.value} ({m.label})" for m in cls)
        raise ValidationError(
            f"{field}: '{text}' is not a known code. Use one of: {allowed}.", field
        )


_LABELS: dict[str, dict[str, str]] = {}


def labelled(labels: dict[str, str]):  # type: ignore[no-untyped-def]
    def register(cls):  # type: ignore[no-untyped-def]
        missing = {m.value for m in cls} ^ set(labels)
        assert not missing, f"{cls.__name__} labels out of step: {missing}"
        _LABELS[cls.__name__] = labels
        return cls

    return register


@labelled(
    {
        "A": "White - British",
        "B": "White - Irish",
        "C": "White - Any other White background",
        "D": "Mixed - White and Black Caribbean",
        "E": "Mixed - White and Black African",
        "F": "Mixed - White and Asian",
        "G": "Mixed - Any other mixed background",
        "H": "Asian or Asian British - Indian",
        "J": "Asian or Asian British - Pakistani",
        "K": "Asian or Asian British - Bangladeshi",
        "L": "Asian or Asian British - Any other Asian background",
        "M": "Black or Black British - Caribbean",
        "N": "Black or Black British - African",
        "P": "Black or Black British - Any other Black background",
        "R": "Other Ethnic Groups - Chinese",
        "S": "Other Ethnic Groups - Any other ethnic group",
        "Z": "Not stated",
        "99": "Not known",
    }
)
class EthnicCategory(CodeList):
    """NHS Data Dictionary ETHNIC CATEGORY (2001 census categories)."""

    WHITE_BRITISH = "A"
    WHITE_IRISH = "B"
    WHITE_OTHER = "C"
    MIXED_WHITE_BLACK_CARIBBEAN = "D"
    MIXED_WHITE_BLACK_AFRICAN = "E"
    MIXED_WHITE_ASIAN = "F"
    MIXED_OTHER = "G"
    ASIAN_INDIAN = "H"
    ASIAN_PAKISTANI = "J"
    ASIAN_BANGLADESHI = "K"
    ASIAN_OTHER = "L"
    BLACK_CARIBBEAN = "M"
    BLACK_AFRICAN = "N"
    BLACK_OTHER = "P"
    CHINESE = "R"
    OTHER = "S"
    NOT_STATED = "Z"
    NOT_KNOWN = "99"


#: Broad ethnic groups, used where small numbers must be pooled (equality tables, exports).
ETHNIC_BROAD_GROUP: dict[str, str] = {
    **dict.fromkeys("ABC", "White"),
    **dict.fromkeys("DEFG", "Mixed"),
    **dict.fromkeys("HJKL", "Asian or Asian British"),
    **dict.fromkeys("MNP", "Black or Black British"),
    **dict.fromkeys("RS", "Other ethnic groups"),
    "Z": "Not stated or not known",
    "99": "Not stated or not known",
}


@labelled(
    {
        "1": "Male (including trans man)",
        "2": "Female (including trans woman)",
        "3": "Non-binary",
        "4": "Other (not listed)",
        "X": "Not known",
        "Z": "Not stated",
    }
)
class GenderIdentity(CodeList):
    """NHS Data Dictionary GENDER IDENTITY CODE (as used in MHSDS)."""

    MALE = "1"
    FEMALE = "2"
    NON_BINARY = "3"
    OTHER = "4"
    NOT_KNOWN = "X"
    NOT_STATED = "Z"


@labelled(
    {
        "01": "Face to face",
        "02": "Telephone",
        "09": "Text message",
        "10": "Instant messaging",
        "11": "Video",
        "98": "Other",
    }
)
class ConsultationMechanism(CodeList):
    """NHS Data Dictionary CONSULTATION MECHANISM (MHSDS), the subset a SIM pair uses."""

    FACE_TO_FACE = "01"
    TELEPHONE = "02"
    TEXT_MESSAGE = "09"
    INSTANT_MESSAGING = "10"
    VIDEO = "11"
    OTHER = "98"


@labelled(
    {
        "5": "Attended",
        "6": "Arrived late, seen",
        "7": "Arrived late, not seen",
        "2": "Cancelled by the person",
        "3": "Did not attend",
        "4": "Cancelled by the team",
    }
)
class Attendance(CodeList):
    """NHS Data Dictionary ATTENDED OR DID NOT ATTEND."""

    ATTENDED = "5"
    LATE_SEEN = "6"
    LATE_NOT_SEEN = "7"
    CANCELLED_BY_PERSON = "2"
    DID_NOT_ATTEND = "3"
    CANCELLED_BY_TEAM = "4"

    @property
    def seen(self) -> bool:
        """Whether the person was actually seen (counts as an attended contact)."""
        return self in (Attendance.ATTENDED, Attendance.LATE_SEEN)


@labelled({"officer": "Officer", "clinician": "Clinician", "both": "Officer and clinician"})
class StaffPresent(CodeList):
    OFFICER = "officer"
    CLINICIAN = "clinician"
    BOTH = "both"


@labelled(
    {
        "officer": "Officer (police mentor)",
        "clinician": "Clinician (mental-health mentor)",
        "team_lead": "Team lead",
        "analyst": "Analyst (trust)",
    }
)
class Role(CodeList):
    OFFICER = "officer"
    CLINICIAN = "clinician"
    TEAM_LEAD = "team_lead"
    ANALYST = "analyst"


@labelled(
    {
        "referred": "Referred",
        "active": "Active",
        "stepping_down": "Stepping down",
        "closed": "Closed",
    }
)
class PersonStatus(CodeList):
    REFERRED = "referred"
    ACTIVE = "active"
    STEPPING_DOWN = "stepping_down"
    CLOSED = "closed"


#: Which status may follow which. Re-opening a closed record is a new referral, not an edit.
STATUS_TRANSITIONS: dict[PersonStatus, frozenset[PersonStatus]] = {
    PersonStatus.REFERRED: frozenset({PersonStatus.ACTIVE, PersonStatus.CLOSED}),
    PersonStatus.ACTIVE: frozenset({PersonStatus.STEPPING_DOWN, PersonStatus.CLOSED}),
    PersonStatus.STEPPING_DOWN: frozenset({PersonStatus.ACTIVE, PersonStatus.CLOSED}),
    PersonStatus.CLOSED: frozenset({PersonStatus.REFERRED}),
}


@labelled(
    {
        "disengaged": "Disengaged",
        "moved": "Moved away",
        "died": "Died",
        "stepped_down": "Stepped down",
        "discharged": "Discharged",
        "not_enrolled": "Referred, not enrolled",
    }
)
class ExitReason(CodeList):
    DISENGAGED = "disengaged"
    MOVED = "moved"
    DIED = "died"
    STEPPED_DOWN = "stepped_down"
    DISCHARGED = "discharged"
    NOT_ENROLLED = "not_enrolled"


@labelled(
    {
        "s136": "Section 136 detention",
        "s135": "Section 135 warrant",
        "call_999": "999 call",
        "police_attendance": "Police attendance",
        "ae_attendance": "A&E attendance",
        "ambulance": "Ambulance call-out",
        "mh_admission": "Mental-health admission",
        "self_harm": "Self-harm",
        "death": "Death",
        "complaint": "Complaint",
        "safeguarding": "Safeguarding concern",
        "police_legal_action": "Police or legal action",
    }
)
class IncidentType(CodeList):
    """Crisis events (demand) and harms: reports never show demand without harms beside it."""

    S136 = "s136"
    S135 = "s135"
    CALL_999 = "call_999"
    POLICE_ATTENDANCE = "police_attendance"
    AE_ATTENDANCE = "ae_attendance"
    AMBULANCE = "ambulance"
    MH_ADMISSION = "mh_admission"
    SELF_HARM = "self_harm"
    DEATH = "death"
    COMPLAINT = "complaint"
    SAFEGUARDING = "safeguarding"
    POLICE_LEGAL_ACTION = "police_legal_action"

    @property
    def is_harm(self) -> bool:
        return self in HARM_TYPES


DEMAND_TYPES: tuple[IncidentType, ...] = (
    IncidentType.S136,
    IncidentType.S135,
    IncidentType.CALL_999,
    IncidentType.POLICE_ATTENDANCE,
    IncidentType.AE_ATTENDANCE,
    IncidentType.AMBULANCE,
    IncidentType.MH_ADMISSION,
)
HARM_TYPES: tuple[IncidentType, ...] = (
    IncidentType.SELF_HARM,
    IncidentType.DEATH,
    IncidentType.COMPLAINT,
    IncidentType.SAFEGUARDING,
    IncidentType.POLICE_LEGAL_ACTION,
)


@labelled(
    {
        "community_protection_notice": "Community protection notice",
        "behaviour_order": "Behaviour order",
        "prosecution": "Prosecution",
        "other": "Other",
    }
)
class LegalAction(CodeList):
    COMMUNITY_PROTECTION_NOTICE = "community_protection_notice"
    BEHAVIOUR_ORDER = "behaviour_order"
    PROSECUTION = "prosecution"
    OTHER = "other"


@labelled({"police": "Police", "nhs": "NHS", "self_report": "Self-report"})
class IncidentSource(CodeList):
    POLICE = "police"
    NHS = "nhs"
    SELF_REPORT = "self_report"


@labelled(
    {
        "hbpos": "Health-based place of safety",
        "ae": "A&E",
        "police_station": "Police station",
        "other": "Other",
    }
)
class PlaceOfSafety(CodeList):
    HEALTH_BASED = "hbpos"
    AE = "ae"
    POLICE_STATION = "police_station"
    OTHER = "other"


@labelled({"ambulance": "Ambulance", "police_vehicle": "Police vehicle", "other": "Other"})
class Conveyance(CodeList):
    AMBULANCE = "ambulance"
    POLICE_VEHICLE = "police_vehicle"
    OTHER = "other"


@labelled(
    {
        "discharged": "Discharged",
        "community_follow_up": "Community follow-up",
        "informal_admission": "Informal admission",
        "detained_s2": "Detained under section 2",
        "detained_s3": "Detained under section 3",
    }
)
class S136Outcome(CodeList):
    DISCHARGED = "discharged"
    COMMUNITY_FOLLOW_UP = "community_follow_up"
    INFORMAL_ADMISSION = "informal_admission"
    DETAINED_S2 = "detained_s2"
    DETAINED_S3 = "detained_s3"


@labelled(
    {
        "weekly": "Weekly",
        "fortnightly": "Fortnightly",
        "monthly": "Monthly",
        "once": "One-off",
    }
)
class VisitFrequency(CodeList):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"
    ONCE = "once"


@labelled(
    {
        "planned": "Planned",
        "done": "Done",
        "missed": "Missed",
        "cancelled": "Cancelled",
        "rescheduled": "Rescheduled",
    }
)
class PlannedVisitStatus(CodeList):
    PLANNED = "planned"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"


@labelled(
    {
        "consent": "Consent (UK GDPR 6(1)(a), 9(2)(a))",
        "public_task": "Public task (UK GDPR 6(1)(e)) with health or social care (9(2)(h))",
        "vital_interests": "Vital interests (UK GDPR 6(1)(d), 9(2)(c))",
        "legal_obligation": "Legal obligation (UK GDPR 6(1)(c))",
    }
)
class LawfulBasis(CodeList):
    CONSENT = "consent"
    PUBLIC_TASK = "public_task"
    VITAL_INTERESTS = "vital_interests"
    LEGAL_OBLIGATION = "legal_obligation"


@labelled(
    {
        "pair_only": "The assigned pair only",
        "team": "The SIM team",
        "team_and_partners": "The SIM team and named partner services",
    }
)
class SharingScope(CodeList):
    PAIR_ONLY = "pair_only"
    TEAM = "team"
    TEAM_AND_PARTNERS = "team_and_partners"


@labelled(
    {
        "asked_agreed": "Asked first, agreed",
        "asked_declined": "Asked first, declined (shared on another basis)",
        "not_asked": "Not asked first",
    }
)
class PersonAsked(CodeList):
    ASKED_AGREED = "asked_agreed"
    ASKED_DECLINED = "asked_declined"
    NOT_ASKED = "not_asked"
