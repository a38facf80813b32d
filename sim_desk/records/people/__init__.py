"""Use cases for people: create, update, view, status, consent, key contacts, pairs.

Who may do what (DESIGN.md section 1) is decided here, not in the GUI:

* officers and clinicians work with the people on their own pair's caseload;
* team leads see everyone, assign pairs and manage the team;
* analysts never open an identifiable person record.
"""

from sim_desk.records.people.consent import (
    ConsentDetails,
    add_key_contact,
    record_consent,
)
from sim_desk.records.people.details import (
    EDITABLE,
    PersonDetails,
    create_person,
    update_person,
    validate_person_details,
)
from sim_desk.records.people.pairs import (
    PairView,
    assign_pair,
    create_pair,
    list_pairs,
)
from sim_desk.records.people.record import (
    ConsentView,
    KeyContactView,
    PersonRecord,
    StatusChangeView,
    person_record,
    reload_person,
    view_person,
)
from sim_desk.records.people.status import (
    change_status,
)
from sim_desk.records.permissions import (
    CASEWORKERS,
    FIELD_STAFF,
    load_person,
    require_identifiable_access,
    visible_people_filter,
)

__all__ = [
    "CASEWORKERS",
    "EDITABLE",
    "FIELD_STAFF",
    "ConsentDetails",
    "ConsentView",
    "KeyContactView",
    "PairView",
    "PersonDetails",
    "PersonRecord",
    "StatusChangeView",
    "add_key_contact",
    "assign_pair",
    "change_status",
    "create_pair",
    "create_person",
    "list_pairs",
    "load_person",
    "person_record",
    "record_consent",
    "reload_person",
    "require_identifiable_access",
    "update_person",
    "validate_person_details",
    "view_person",
    "visible_people_filter",
]
