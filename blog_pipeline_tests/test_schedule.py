"""The 08:00 Europe/Berlin schedule across both daylight-saving changes of 2026."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from blog_pipeline.dates import BERLIN, PUBLISH_DATE_TAG
from blog_pipeline.jobs import daily_blogpost
from blog_pipeline.schedules import daily_blogpost_schedule

UTC = dt.UTC


def _iterate(start: dt.datetime, end: dt.datetime):
    from dagster._utils.schedules import cron_string_iterator

    for tick in cron_string_iterator(
        start.timestamp(), daily_blogpost_schedule.cron_schedule, "Europe/Berlin"
    ):
        if tick > end:
            return
        yield tick.astimezone(UTC)


@pytest.mark.parametrize(
    ("first_day", "utc_hours"),
    [
        # Summer time starts on Sunday 2026-03-29.
        (dt.date(2026, 3, 27), [7, 7, 6, 6, 6]),
        # Summer time ends on Sunday 2026-10-25.
        (dt.date(2026, 10, 23), [6, 6, 7, 7, 7]),
    ],
)
def test_one_tick_per_day_at_eight_berlin(first_day: dt.date, utc_hours: list[int]) -> None:
    start = dt.datetime.combine(first_day, dt.time(0, 0), tzinfo=BERLIN)
    end = start + dt.timedelta(days=5)

    ticks = list(_iterate(start, end))

    assert [t.date() for t in ticks] == [first_day + dt.timedelta(days=i) for i in range(5)]
    assert [t.hour for t in ticks] == utc_hours
    assert all(t.astimezone(BERLIN).time() == dt.time(8, 0) for t in ticks)


def test_schedule_definition() -> None:
    assert daily_blogpost_schedule.cron_schedule == "0 8 * * *"
    assert daily_blogpost_schedule.execution_timezone == "Europe/Berlin"
    assert daily_blogpost_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert daily_blogpost_schedule.job_name == daily_blogpost.name


@pytest.mark.parametrize(
    ("utc_moment", "berlin_date"),
    [
        (dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC), "2026-03-29"),
        (dt.datetime(2026, 10, 26, 7, 0, tzinfo=UTC), "2026-10-26"),
        # 23:30 UTC on New Year's Eve is already 00:30 on January 1st in Berlin.
        (dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "2027-01-01"),
    ],
)
def test_tick_tags_run_with_berlin_date(utc_moment: dt.datetime, berlin_date: str) -> None:
    context = dg.build_schedule_context(scheduled_execution_time=utc_moment)

    request = daily_blogpost_schedule.evaluate_tick(context).run_requests[0]

    assert request.tags[PUBLISH_DATE_TAG] == berlin_date
    assert request.run_key == berlin_date
