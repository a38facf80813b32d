"""SQLAlchemy 2.0 typed ORM classes: the records a SIM team keeps.

Portable SQL only (the same schema must later run on PostgreSQL for a team server), UUID primary
keys, and ``created_at``/``updated_at``/``created_by`` on every row so that rows can be merged
between laptops without renumbering. There are deliberately no sanction, warning or "do not
respond" fields: the programme must never withhold care.
"""

from sim_desk.records.model.base import (
    NAMING,
    Base,
    Tracked,
    UTCDateTime,
    utcnow,
)
from sim_desk.records.model.care import (
    Contact,
    ContactRevision,
    PlannedVisit,
    VisitPlan,
)
from sim_desk.records.model.circle import (
    HandoverPlan,
    HandoverPlanRevision,
    OnwardReferral,
    ReferralRevision,
    ReferralStatusChange,
    SupportPartner,
    SupportPartnerRevision,
)
from sim_desk.records.model.incidents import (
    BaselineCount,
    BaselineCountRevision,
    Disclosure,
    Incident,
    IncidentRevision,
    PlaceOfSafetyUse,
    S136Episode,
)
from sim_desk.records.model.keys import TeamInvitationProof, TeamKey, TeamTrustedDevice
from sim_desk.records.model.local import (
    LOCAL_ONLY_TABLES,
    AuditEvent,
    Draft,
    ExportRelease,
)
from sim_desk.records.model.people import (
    Consent,
    KeyContact,
    Person,
    PersonStatusChange,
)
from sim_desk.records.model.sync import (
    SYNC_TABLES,
    SyncChangedElsewhere,
    SyncMergeProposal,
    SyncOutboxEntry,
    SyncRow,
    SyncState,
)
from sim_desk.records.model.team import (
    LinkageGrant,
    Pair,
    TeamServerDevice,
    User,
    VaultMeta,
)

__all__ = [
    "LOCAL_ONLY_TABLES",
    "NAMING",
    "SYNC_TABLES",
    "AuditEvent",
    "Base",
    "BaselineCount",
    "BaselineCountRevision",
    "Consent",
    "Contact",
    "ContactRevision",
    "Disclosure",
    "Draft",
    "ExportRelease",
    "HandoverPlan",
    "HandoverPlanRevision",
    "Incident",
    "IncidentRevision",
    "KeyContact",
    "LinkageGrant",
    "OnwardReferral",
    "Pair",
    "Person",
    "PersonStatusChange",
    "PlaceOfSafetyUse",
    "PlannedVisit",
    "ReferralRevision",
    "ReferralStatusChange",
    "S136Episode",
    "SupportPartner",
    "SupportPartnerRevision",
    "SyncChangedElsewhere",
    "SyncMergeProposal",
    "SyncOutboxEntry",
    "SyncRow",
    "SyncState",
    "TeamInvitationProof",
    "TeamKey",
    "TeamServerDevice",
    "TeamTrustedDevice",
    "Tracked",
    "UTCDateTime",
    "User",
    "VaultMeta",
    "VisitPlan",
    "utcnow",
]
