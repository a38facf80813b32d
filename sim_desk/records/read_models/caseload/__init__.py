"""Queries behind the Today view and the caseload list.

Officers and clinicians see their own pair's caseload, team leads see everyone, and analysts see no
one here (they work with anonymised figures). Everything below is read-only and derived when asked
for: "due today", "overdue" and "not seen for 28 days" are never stored.

**Name search.** SQLite's ``LOWER()`` and ``LIKE`` fold ASCII letters only, so "wójcik" would not
find "WÓJCIK" and "ανδρέας" would not find "ΑΝΔΡΈΑΣ". The schema has no search-key column and we do
not add one (it would be a second copy of every name to keep in step), so names are matched in
Python: a caseload is at most a few thousand people, and reading their names is one indexed query
of a few milliseconds. Both the names and the search text are turned into a search key: Unicode
case folding (which handles Greek final sigma, German ß, Turkish dotted I), compatibility
decomposition with accents removed (so "Wojcik" on a UK keyboard finds "Wójcik"), a few letters
that have no decomposition ("ł" → "l"), and punctuation dropped ("O'Neil" = "ONeil"). Every word
typed must appear in the given, family or preferred name, or in given and family run together
(so "李小龙" finds 李 小龙 however the two parts were entered).

**Speed.** Last contact and next planned visit are looked up only for the rows that are shown
(one statement per page, not one per person). They are correlated subqueries that SQLite answers
with one seek each on ``ix_contacts_person_started`` and ``ix_planned_visits_person_due``; with
2,000 people and 500,000 contacts a GROUP BY over the contacts table reads the whole index
(about 300 ms) where the seeks take about 30 ms for all 2,000 people and under 1 ms for a page.
"""

from sim_desk.records.read_models.caseload.caseload import (
    NOT_SEEN_DAYS,
    ORDERINGS,
    RECENT_INCIDENT_DAYS,
    SEEN,
    STILL_PLANNED,
    CaseloadRow,
    count_caseload,
    search_caseload,
)
from sim_desk.records.read_models.caseload.search import (
    Query,
    display_name,
    folded_names,
    search_key,
)
from sim_desk.records.read_models.caseload.today import (
    FollowUpDue,
    NotSeen,
    RecentIncident,
    TodayView,
    VaultCounts,
    VisitDue,
    today_view,
    vault_counts,
)

__all__ = [
    "NOT_SEEN_DAYS",
    "ORDERINGS",
    "RECENT_INCIDENT_DAYS",
    "SEEN",
    "STILL_PLANNED",
    "CaseloadRow",
    "FollowUpDue",
    "NotSeen",
    "Query",
    "RecentIncident",
    "TodayView",
    "VaultCounts",
    "VisitDue",
    "count_caseload",
    "display_name",
    "folded_names",
    "search_caseload",
    "search_key",
    "today_view",
    "vault_counts",
]
