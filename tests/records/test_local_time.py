"""local_date takes a short cut for most moments (speed, for cohort reports); it must always
agree with the time-zone rules."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sim_desk.records.unit_of_work import LOCAL_ZONE, local_date


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31)))
def test_local_date_agrees_with_the_uk_time_zone(moment):
    moment = moment.replace(tzinfo=UTC)
    assert local_date(moment) == moment.astimezone(LOCAL_ZONE).date()


def test_the_hour_before_midnight_utc_is_the_next_uk_day_in_summer_only():
    summer = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    winter = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    assert local_date(summer) == summer.date() + timedelta(days=1)
    assert local_date(winter) == winter.date()
    # 1968-71: British Standard Time, UTC+1 all year round.
    assert local_date(datetime(1970, 1, 1, 23, 30, tzinfo=UTC)).day == 2
