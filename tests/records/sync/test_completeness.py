"""The words a team-mode report prints about how complete it is (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sim_desk.records.sync.completeness import Completeness, OtherLaptop, describe, who_is_behind

LAST = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)  # 14:05 in London (GMT in December)


def test_outside_team_mode_nothing_is_said():
    assert describe(None, LAST) is None


def test_a_laptop_that_never_synced_says_so():
    said = describe(Completeness(None, ()), LAST)
    assert said is not None and "never synced" in said and "only what was entered" in said


def test_the_last_sync_and_the_laptops_behind_it():
    c = Completeness(
        LAST,
        (
            OtherLaptop(LAST - timedelta(hours=2)),  # within a day: not behind
            OtherLaptop(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
            OtherLaptop(datetime(2026, 11, 28, 9, 0, tzinfo=UTC)),
            OtherLaptop(None),
        ),
    )
    assert describe(c, LAST + timedelta(minutes=5)) == (
        "As of the last sync at 14:05 on 3 December 2026; 2 laptops of the team not synced"
        " since 28 November 2026; 1 laptop of the team never synced."
    )


def test_summer_time_and_a_laptop_that_has_not_synced_for_days():
    june = datetime(2026, 6, 1, 13, 5, tzinfo=UTC)
    said = describe(Completeness(june, (OtherLaptop(june),), unsent=3), june + timedelta(days=9))
    assert said == (
        "As of the last sync at 14:05 on 1 June 2026; this laptop has not synced for 9 days;"
        " every other laptop of the team synced within a day of it; 3 change(s) made here not"
        " yet sent."
    )


def test_only_a_leads_view_names_who_is_behind():
    officer_view = Completeness(LAST, (OtherLaptop(None),))
    lead_view = Completeness(LAST, (OtherLaptop(None, "olu", "d1"), OtherLaptop(LAST, "cleo")))
    assert who_is_behind(officer_view) == []
    assert who_is_behind(lead_view) == ["olu"]
