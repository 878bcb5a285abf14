"""The Berlin calendar date a run publishes for."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from blog_pipeline.errors import ConfigurationError

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
        try:
            return dt.date.fromisoformat(tagged)
        except ValueError:
            raise ConfigurationError(
                f"Run tag {PUBLISH_DATE_TAG}={tagged!r} is not a date: use YYYY-MM-DD, for "
                "example 2026-03-29, or remove the tag to publish for today's Berlin date."
            ) from None
    return berlin_date(dt.datetime.now(dt.UTC))
