"""The Berlin calendar date a run publishes for."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

BERLIN = ZoneInfo("Europe/Berlin")
# Set by the schedule on each run it requests; re-executions inherit the parent run's tags.
PUBLISH_DATE_TAG = "blog_pipeline/publish_date"


def berlin_date(moment: dt.datetime) -> dt.date:
    """Return the calendar date in Berlin at ``moment`` (which must be timezone-aware)."""
    return moment.astimezone(BERLIN).date()


def publish_date(context: dg.AssetExecutionContext) -> dt.date:
    """Return the Berlin date of the scheduled run, or today's Berlin date for a manual run."""
    tagged = context.run.tags.get(PUBLISH_DATE_TAG)
    if tagged:
        return dt.date.fromisoformat(tagged)
    return berlin_date(dt.datetime.now(dt.UTC))
