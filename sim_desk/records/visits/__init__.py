"""Use cases for visit plans and planned visits: plan, mark, reschedule, end, list.

A plan is a rule (weekly, fortnightly, monthly or once); its planned visits are rows of their own,
made when the plan is saved, so that each one can be done, missed, cancelled or rescheduled on its
own. A visit becomes done by logging a contact linked to it (:func:`contacts.log_contact`), which is
what :func:`contact_prefill` sets up for a form.

Visits keep their UK wall-clock time: a fortnightly 10:00 visit is at 10:00 in Europe/London both
sides of a clock change. Each due time is worked out as a local date and time, then stored as UTC.

"Due today", "overdue" and "upcoming" are derived from the due date and today's UK date whenever
they are asked for (:func:`due_state`); they are never stored.
"""

from sim_desk.records.visits.changes import (
    contact_prefill,
    mark_visit,
    reschedule_visit,
)
from sim_desk.records.visits.planning import (
    PlanDetails,
    check_person_can_be_visited,
    clean_plan,
    end_plan,
    plan_visits,
)
from sim_desk.records.visits.recurrence import (
    MAX_DAYS_AHEAD,
    MAX_OCCURRENCES,
    MAX_PLAN_YEARS,
    DueState,
    due_state,
    start_of_local_day,
    visit_times,
)
from sim_desk.records.visits.views import (
    PlannedVisitView,
    PlanView,
    list_planned_visits,
    list_plans,
)

__all__ = [
    "MAX_DAYS_AHEAD",
    "MAX_OCCURRENCES",
    "MAX_PLAN_YEARS",
    "DueState",
    "PlanDetails",
    "PlanView",
    "PlannedVisitView",
    "check_person_can_be_visited",
    "clean_plan",
    "contact_prefill",
    "due_state",
    "end_plan",
    "list_planned_visits",
    "list_plans",
    "mark_visit",
    "plan_visits",
    "reschedule_visit",
    "start_of_local_day",
    "visit_times",
]
