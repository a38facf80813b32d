from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event

from sim_desk.records import circle, contacts, people, visits
from sim_desk.records.codes import IncidentType, PersonStatus
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import PermissionDenied
from sim_desk.records.model import Incident
from sim_desk.records.people import PersonDetails
from sim_desk.records.read_models import caseload
from sim_desk.records.visits import PlanDetails

TODAY = date(2026, 11, 2)
REFERRED = date(2026, 1, 5)


def at(year, month, day, hour=10, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def add_person(vault, given, family, *, enrolled=date(2026, 2, 1), **details):
    pid = people.create_person(
        vault, PersonDetails(given_name=given, family_name=family, referred_on=REFERRED, **details)
    )
    if enrolled is not None:
        people.change_status(vault, pid, PersonStatus.ACTIVE, on=enrolled)
    return pid


def seen(vault, person_id, when, attendance="5"):
    return contacts.log_contact(
        vault, person_id, ContactDetails(started_at=when, attendance=attendance)
    )


def plan_once(vault, person_id, when):
    visits.plan_visits(vault, person_id, PlanDetails("once", when))
    return next(v for v in visits.list_planned_visits(vault, person_id) if v.due_at == when)


def add_incident(vault, person_id, when, incident_type):
    with vault.write() as session:
        session.add(
            Incident(
                person_id=person_id, occurred_at=when, incident_type=incident_type, source="nhs"
            )
        )


@pytest.fixture
def zofia(officer):
    return add_person(
        officer,
        "Zofia",
        "Wójcik",
        preferred_name="Zosia",
        nhs_number="943 476 5919",
        police_reference="MPS/26/0042",
    )


@pytest.fixture
def andreas(officer):
    return add_person(officer, "ΑΝΔΡΈΑΣ", "ΠΑΠΑΔΌΠΟΥΛΟΣ", nhs_number="4010232005")


@pytest.fixture
def xiaolong(officer):
    return add_person(officer, "小龙", "李")


@pytest.fixture
def lukasz(team, lead):
    """Someone on the other pair's caseload."""
    return add_person(lead, "Łukasz", "Nowak", pair_id=team.other_pair_id)


# -- the Today view -------------------------------------------------------------------------


def test_visit_due_today_leaves_today_view_once_its_contact_is_logged(officer, zofia):
    later_today = plan_once(officer, zofia, at(2026, 11, 2, 15))
    overdue = plan_once(officer, zofia, at(2026, 10, 28, 11))
    plan_once(officer, zofia, at(2026, 11, 3, 9))  # tomorrow: neither

    view = caseload.today_view(officer)
    [due] = view.due_today
    assert (due.visit_id, due.person_id, due.days_overdue) == (later_today.id, zofia, 0)
    assert due.display_name == "Zofia Wójcik (Zosia)"
    assert due.what == "One-off visit (Face to face)"
    [late] = view.overdue
    assert (late.visit_id, late.due_on, late.days_overdue) == (overdue.id, date(2026, 10, 28), 5)

    contacts.log_contact(officer, zofia, visits.contact_prefill(officer, later_today.id))
    visits.mark_visit(officer, overdue.id, "missed")
    view = caseload.today_view(officer)
    assert view.due_today == () and view.overdue == ()


def test_recurring_visit_says_how_often_and_how(officer, zofia):
    visits.plan_visits(
        officer,
        zofia,
        PlanDetails("fortnightly", at(2026, 11, 2, 16), occurrences=2, mechanism="02"),
    )
    [due] = caseload.today_view(officer).due_today
    assert due.what == "Fortnightly visit (Telephone)"


def test_closed_people_have_no_visits_on_the_today_view(officer, zofia):
    plan_once(officer, zofia, at(2026, 10, 28))
    people.change_status(officer, zofia, PersonStatus.CLOSED, on=TODAY, exit_reason="moved")
    assert caseload.today_view(officer).overdue == ()


def test_not_seen_for_28_days_is_fine_but_29_days_is_flagged(officer):
    # 23:30 UTC on 4 October is 00:30 on 5 October in London (BST): 28 days before today.
    just_in_time = add_person(officer, "Ada", "Seen")
    seen(officer, just_in_time, at(2026, 10, 4, 23, 30))
    one_day_late = add_person(officer, "Ben", "Late")
    seen(officer, one_day_late, at(2026, 10, 4, 12))
    seen(officer, one_day_late, at(2026, 11, 1), attendance="3")  # did not attend: not seen
    circle.save_handover_plan(
        officer,
        one_day_late,
        circle.HandoverDetails(agreed_on=date(2026, 10, 1), who_carries_on="His GP"),
    )
    people.change_status(officer, one_day_late, PersonStatus.STEPPING_DOWN, on=date(2026, 10, 1))

    [row] = caseload.today_view(officer).not_seen
    assert (row.person_id, row.last_seen_on, row.days_not_seen) == (
        one_day_late,
        date(2026, 10, 4),
        29,
    )
    assert row.status == PersonStatus.STEPPING_DOWN and row.what == "Not seen for 29 days"

    seen(officer, one_day_late, at(2026, 11, 1), attendance="6")  # late, but seen
    assert caseload.today_view(officer).not_seen == ()


def test_never_seen_counts_from_enrolment(officer):
    add_person(officer, "Cal", "Recent", enrolled=date(2026, 10, 5))  # 28 days: not yet
    never = add_person(officer, "Dee", "Never", enrolled=date(2026, 10, 4))
    add_person(officer, "Eve", "Referred", enrolled=None)  # not enrolled: not counted
    [row] = caseload.today_view(officer).not_seen
    assert (row.person_id, row.last_seen_on, row.counted_from, row.days_not_seen) == (
        never,
        None,
        date(2026, 10, 4),
        29,
    )
    assert row.what == "Not seen since enrolment on 04/10/2026 (29 days)"


def test_incidents_of_the_last_week_show_newest_first(lead, officer, zofia):
    assert caseload.today_view(officer).recent_incidents == ()
    add_incident(lead, zofia, at(2026, 10, 25, 23, 30), "s136")  # 8 days ago: too old
    add_incident(lead, zofia, at(2026, 10, 26, 0, 30), "self_harm")  # 7 days ago
    add_incident(lead, zofia, at(2026, 11, 1, 22), "s136")
    view = caseload.today_view(officer)
    assert [(i.incident_type, i.occurred_on) for i in view.recent_incidents] == [
        (IncidentType.S136, date(2026, 11, 1)),
        (IncidentType.SELF_HARM, date(2026, 10, 26)),
    ]
    newest, harm = view.recent_incidents
    assert newest.what == "Section 136 detention" and not newest.is_harm
    assert harm.is_harm and harm.display_name == "Zofia Wójcik (Zosia)"


def test_today_view_shows_officers_their_own_pair_and_leads_everyone(
    team, lead, officer, zofia, lukasz
):
    plan_once(officer, zofia, at(2026, 10, 30))
    plan_once(lead, lukasz, at(2026, 10, 31))
    add_incident(lead, lukasz, at(2026, 11, 1), "call_999")
    mine = caseload.today_view(officer)
    assert [r.person_id for r in mine.overdue] == [zofia]
    assert mine.recent_incidents == ()
    assert {r.person_id for r in caseload.today_view(lead).overdue} == {zofia, lukasz}
    with team.unlock("officer2") as other:
        theirs = caseload.today_view(other)
        assert [r.person_id for r in theirs.overdue] == [lukasz]
        assert [i.person_id for i in theirs.recent_incidents] == [lukasz]


def test_analyst_cannot_see_today_view_or_caseload(team, zofia):
    with team.unlock("analyst") as analyst:
        with pytest.raises(PermissionDenied):
            caseload.today_view(analyst)
        with pytest.raises(PermissionDenied):
            caseload.search_caseload(analyst)
        with pytest.raises(PermissionDenied):
            caseload.count_caseload(analyst)


# -- searching the caseload -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("wójc", "zofia"),
        ("WOJCIK", "zofia"),
        ("zosia", "zofia"),
        ("wójcik zofia", "zofia"),
        ("ανδρέας", "andreas"),
        ("Ανδρεας", "andreas"),
        ("παπαδόπ", "andreas"),
        ("ΠΑΠΑΔΟΠΟΥΛΟΣ", "andreas"),
        ("小龙", "xiaolong"),
        ("李小", "xiaolong"),
        ("lukasz", "lukasz"),
        ("ŁUKASZ", "lukasz"),
    ],
)
def test_search_finds_names_in_any_script_and_case(
    lead, zofia, andreas, xiaolong, lukasz, text, who
):
    wanted = {"zofia": zofia, "andreas": andreas, "xiaolong": xiaolong, "lukasz": lukasz}[who]
    assert [row.id for row in caseload.search_caseload(lead, text)] == [wanted]
    assert caseload.count_caseload(lead, text) == 1


def test_search_key_folds_case_accents_and_final_sigma():
    assert caseload.search_key("ΑΝΔΡΈΑΣ") == caseload.search_key("ανδρεας") == "ανδρεασ"
    assert caseload.search_key("Wójcik") == "wojcik"
    assert caseload.search_key("O’Neil-Smith") == caseload.search_key("oneilsmith")


@pytest.mark.parametrize("text", ["943 476 5919", "9434765919", "476 59", "476-5919"])
def test_search_by_nhs_number_ignores_spaces(officer, zofia, andreas, text):
    [row] = caseload.search_caseload(officer, text)
    assert row.id == zofia and row.nhs_number_masked == "*** *** 5919"


def test_search_by_police_reference(officer, zofia, andreas):
    assert [r.id for r in caseload.search_caseload(officer, "mps/26/0042")] == [zofia]
    assert [r.id for r in caseload.search_caseload(officer, "26/004")] == [zofia]
    assert caseload.search_caseload(officer, "26/009") == []


def test_rows_carry_pair_status_last_contact_and_next_visit(officer, zofia, andreas):
    seen(officer, zofia, at(2026, 10, 20))
    seen(officer, zofia, at(2026, 9, 1))
    plan_once(officer, zofia, at(2026, 10, 29))  # overdue: not the next visit
    plan_once(officer, zofia, at(2026, 11, 12))
    plan_once(officer, zofia, at(2026, 12, 1))
    rows = {r.id: r for r in caseload.search_caseload(officer)}
    row = rows[zofia]
    assert (row.display_name, row.preferred_name) == ("Zofia Wójcik (Zosia)", "Zosia")
    assert (row.status, row.pair_name) == (PersonStatus.ACTIVE, "Pair A")
    assert (row.last_contact_on, row.next_visit_on) == (date(2026, 10, 20), date(2026, 11, 12))
    assert (rows[andreas].last_contact_on, rows[andreas].next_visit_on) == (None, None)


def test_pair_filter_and_status_filter(team, lead, officer, zofia, andreas, lukasz):
    people.change_status(officer, andreas, PersonStatus.CLOSED, on=TODAY, exit_reason="moved")
    assert [r.id for r in caseload.search_caseload(lead, pair_id=team.other_pair_id)] == [lukasz]
    assert caseload.count_caseload(lead, pair_id=team.pair_id) == 2
    assert caseload.count_caseload(lead, statuses=["active"], pair_id=team.pair_id) == 1
    assert [r.id for r in caseload.search_caseload(lead, statuses=[PersonStatus.CLOSED])] == [
        andreas
    ]
    # An officer never sees another pair's caseload, filter or not.
    assert {r.id for r in caseload.search_caseload(officer)} == {zofia, andreas}
    assert caseload.search_caseload(officer, pair_id=team.other_pair_id) == []
    assert caseload.search_caseload(officer, "lukasz") == []


def test_order_by_family_name_ignores_accents_and_pages(officer):
    dunn = add_person(officer, "Bea", "Dunn")
    cwik = add_person(officer, "Adam", "Ćwik")
    abbot = add_person(officer, "Ola", "Abbot")
    assert [r.id for r in caseload.search_caseload(officer)] == [abbot, cwik, dunn]
    assert [r.id for r in caseload.search_caseload(officer, limit=2, offset=1)] == [cwik, dunn]
    assert [r.id for r in caseload.search_caseload(officer, limit=1, offset=5)] == []


def test_order_by_last_contact_puts_longest_without_contact_first(
    officer, zofia, andreas, xiaolong
):
    seen(officer, zofia, at(2026, 10, 1))
    seen(officer, andreas, at(2026, 10, 30))
    rows = caseload.search_caseload(officer, order_by="last_contact")
    assert [r.id for r in rows] == [xiaolong, zofia, andreas]
    plan_once(officer, andreas, at(2026, 11, 20))
    plan_once(officer, xiaolong, at(2026, 11, 5))
    rows = caseload.search_caseload(officer, order_by="next_visit", limit=2)
    assert [r.id for r in rows] == [xiaolong, andreas]


def test_search_runs_the_same_number_of_statements_for_3_or_15_people(officer):
    statements = []

    def count(*args):
        statements.append(args[2])

    def run():
        statements.clear()
        event.listen(officer.engine, "before_cursor_execute", count)
        try:
            rows = caseload.search_caseload(officer)
            caseload.today_view(officer)
        finally:
            event.remove(officer.engine, "before_cursor_execute", count)
        return len(rows), len(statements)

    for n in range(3):
        pid = add_person(officer, f"Person{n}", "Few")
        seen(officer, pid, at(2026, 10, 1))
    few_rows, few = run()
    for n in range(12):
        pid = add_person(officer, f"Person{n}", "Many")
        seen(officer, pid, at(2026, 10, 1))
        plan_once(officer, pid, at(2026, 10, 30))
    many_rows, many = run()
    assert (few_rows, many_rows) == (3, 15)
    assert many == few


def test_search_keys_kept_for_the_sign_in_are_dropped_on_lock_and_follow_renames(officer, zofia):
    # The caseload keeps the search keys of names it has folded (caching where safe): they must
    # not outlive the sign-in, and a renamed person must be found by the new name at once.
    assert [r.id for r in caseload.search_caseload(officer, "wojc")] == [zofia]
    assert "Wójcik" in officer.cache["caseload.folded"]
    renamed = PersonDetails(given_name="Zofia", family_name="Nowak", referred_on=REFERRED)
    people.update_person(officer, zofia, renamed)
    assert [r.id for r in caseload.search_caseload(officer, "nowak")] == [zofia]
    assert caseload.search_caseload(officer, "wojc") == []
    officer.lock()
    assert officer.cache == {}
