"""Use cases for incidents: crisis events and harms, s136 episodes, baseline counts, disclosures.

Demand (s136, 999 calls, A&E, admissions …) and harms (self-harm, complaints, police or legal
action …) are both incidents, so that a report can never show demand without harms beside it.

Every Section 136 detention has exactly one episode row. When only the event is known (an import
from a police spreadsheet), the episode holds the detention time and leaves the rest unknown,
rather than the detention being counted without any of its detail.

Times are stored as UTC; dates people reason about (discharge, age at detention, "not before the
date of birth") are UK dates.
"""

from sim_desk.records.incidents.baseline import (
    BaselineCountView,
    baseline_count_history,
    list_baseline_counts,
    record_baseline_count,
    update_baseline_count,
)
from sim_desk.records.incidents.details import (
    ADULT_AGE,
    EPISODE_FIELDS,
    MAX_EXTENSION_HOURS,
    MAX_PLACES_OF_SAFETY,
    MAX_SUMMARY_CHARS,
    Episode,
    IncidentDetails,
    S136Details,
    check_for_person,
    checked_moment,
    clean_incident,
    validate_incident,
)
from sim_desk.records.incidents.disclosures import (
    DisclosureDetails,
    DisclosureView,
    list_disclosures,
    record_disclosure,
)
from sim_desk.records.incidents.recording import (
    RevisionView,
    correction_reason,
    incident_details,
    incident_history,
    next_revision,
    plain_value,
    record_incident,
    revision_history,
    update_incident,
)
from sim_desk.records.incidents.views import (
    EpisodeView,
    IncidentDetail,
    IncidentView,
    PlaceOfSafetyView,
    incident_detail,
    list_incidents,
    stay_for,
    stays_for,
)

__all__ = [
    "ADULT_AGE",
    "EPISODE_FIELDS",
    "MAX_EXTENSION_HOURS",
    "MAX_PLACES_OF_SAFETY",
    "MAX_SUMMARY_CHARS",
    "BaselineCountView",
    "DisclosureDetails",
    "DisclosureView",
    "Episode",
    "EpisodeView",
    "IncidentDetail",
    "IncidentDetails",
    "IncidentView",
    "PlaceOfSafetyView",
    "RevisionView",
    "S136Details",
    "baseline_count_history",
    "check_for_person",
    "checked_moment",
    "clean_incident",
    "correction_reason",
    "incident_detail",
    "incident_details",
    "incident_history",
    "list_baseline_counts",
    "list_disclosures",
    "list_incidents",
    "next_revision",
    "plain_value",
    "record_baseline_count",
    "record_disclosure",
    "record_incident",
    "revision_history",
    "stay_for",
    "stays_for",
    "update_baseline_count",
    "update_incident",
    "validate_incident",
]
