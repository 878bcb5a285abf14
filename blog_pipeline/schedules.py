"""08:00 Berlin every day, whatever the UTC offset."""

import dagster as dg

from blog_pipeline.dates import PUBLISH_DATE_TAG, berlin_date
from blog_pipeline.jobs import daily_blogpost

CRON = "0 8 * * *"
TIMEZONE = "Europe/Berlin"


@dg.schedule(
    name="daily_blogpost_schedule",
    job=daily_blogpost,
    cron_schedule=CRON,
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Runs daily_blogpost at 08:00 Europe/Berlin (06:00 UTC in summer, 07:00 winter).",
)
def daily_blogpost_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    date = berlin_date(context.scheduled_execution_time).isoformat()
    # The run key makes the daemon request at most one run per Berlin date, even when a tick
    # is evaluated again after a daemon restart.
    return dg.RunRequest(run_key=date, tags={PUBLISH_DATE_TAG: date})
