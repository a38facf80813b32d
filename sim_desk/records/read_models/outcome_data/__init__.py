"""Use cases that gather a vault's facts and hand them to the pure arithmetic in ``outcomes``.

Queries are shaped for a trust-wide vault: one query per kind of fact for each chunk of people,
grouped in Python, never one query per person (see :func:`read_facts`).
"""

from sim_desk.records.read_models.outcome_data.continuity import read_continuity
from sim_desk.records.read_models.outcome_data.facts import (
    Facts,
    read_facts,
)
from sim_desk.records.read_models.outcome_data.reports import (
    ALL_TYPES,
    CohortEngagement,
    CohortReport,
    Flow,
    PersonOutcomeReport,
    cohort_outcomes,
    person_outcomes,
    person_report,
)

__all__ = [
    "ALL_TYPES",
    "CohortEngagement",
    "CohortReport",
    "Facts",
    "Flow",
    "PersonOutcomeReport",
    "cohort_outcomes",
    "person_outcomes",
    "person_report",
    "read_continuity",
    "read_facts",
]
