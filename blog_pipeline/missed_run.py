"""Missed-post sensor: an e-mail when no post was queued for a Berlin date by its deadline.

The run-failure sensor only reacts to runs that exist. A stopped or broken schedule, or a
launch that fails before a run is created, leaves no failed run behind. This sensor checks the
outcome instead: a materialization of ``buffer_post`` whose ``publish_date`` metadata is the date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import dagster as dg

from blog_pipeline.alerts import one_line
from blog_pipeline.assets import buffer_post
from blog_pipeline.dates import BERLIN, berlin_date
from blog_pipeline.errors import BlogPipelineError
from blog_pipeline.jobs import JOB_NAME
from blog_pipeline.resources import PipelineSettings, SMTPResource
from blog_pipeline.schedules import daily_blogpost_schedule

SENSOR_NAME = "daily_blogpost_missed_post_alert"
# The code location name in pyproject.toml and workspace.yaml. The UI puts it in job and
# schedule URLs.
CODE_LOCATION = "blog_pipeline"
# The alert leaves at most this long after the deadline. An evaluation is one event-log query.
MINIMUM_INTERVAL_SECONDS = 180
# Newest buffer_post materializations read per evaluation. The schedule adds one a day and a
# manual run is dated the day it runs, so the checked date's post is among them unless about a
# hundred re-executions of older runs came after it.
POSTS_TO_SCAN = 100

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class QueuedPostRecord:
    """A materialization of buffer_post: a post that Buffer accepted for a Berlin date."""

    publish_date: dt.date
    post_id: str
    run_id: str
    queued_at: dt.datetime


@dataclass(frozen=True)
class MissedPost:
    """A Berlin date whose deadline passed without a queued post."""

    date: dt.date
    deadline: dt.datetime
    last_post: QueuedPostRecord | None


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def deadline_on(date: dt.date, deadline: dt.time) -> dt.datetime:
    """Return the Berlin wall-clock ``deadline`` on ``date`` as an aware datetime."""
    # zoneinfo reads a time that a daylight-saving change skips or repeats with the offset in
    # force before the change (fold=0). The default 09:00 is never one of them.
    return dt.datetime.combine(date, deadline, tzinfo=BERLIN)


def due_date(now: dt.datetime, deadline: dt.time) -> dt.date:
    """Return the latest Berlin date whose deadline has passed at ``now``."""
    today = berlin_date(now)
    if now >= deadline_on(today, deadline):
        return today
    return today - dt.timedelta(days=1)


def find_missed_post(
    posts: Sequence[QueuedPostRecord],
    now: dt.datetime,
    deadline: dt.time,
    last_alerted: dt.date | None,
) -> MissedPost | None:
    """Return the alert to send at ``now``, or None when there is nothing to send.

    ``posts`` are newest first. The checked date is today after the deadline and yesterday
    before it, so an alert held up by an SMTP outage still goes out until the next deadline.
    After that the next day's alert names the last post, which shows the gap.
    """
    if now.tzinfo is None:
        raise ValueError(f"now={now!r} has no timezone: pass an aware datetime")
    date = due_date(now, deadline)
    if last_alerted is not None and last_alerted >= date:
        return None
    if any(post.publish_date == date for post in posts):
        return None
    return MissedPost(
        date=date,
        deadline=deadline_on(date, deadline),
        last_post=posts[0] if posts else None,
    )


def load_posts(instance: dg.DagsterInstance, limit: int = POSTS_TO_SCAN) -> list[QueuedPostRecord]:
    """Read the newest buffer_post materializations that carry a publish date, newest first."""
    result = instance.fetch_materializations(buffer_post.key, limit=limit)
    posts = []
    for record in result.records:
        materialization = record.asset_materialization
        metadata = materialization.metadata if materialization else {}
        # A materialization without a valid publish_date, such as one reported by hand, queued
        # nothing.
        date_value = metadata.get("publish_date")
        if not isinstance(date_value, dg.TextMetadataValue):
            continue
        try:
            publish_date = dt.date.fromisoformat(date_value.value)
        except ValueError:
            continue
        post_id = metadata.get("post_id")
        posts.append(
            QueuedPostRecord(
                publish_date=publish_date,
                post_id=str(post_id.value) if post_id is not None else "unknown",
                run_id=record.run_id,
                queued_at=dt.datetime.fromtimestamp(record.timestamp, dt.UTC),
            )
        )
    return posts


def location_url(settings: PipelineSettings, path: str) -> str:
    return f"{settings.dagster_ui_url.rstrip('/')}/locations/{CODE_LOCATION}/{path}"


def build_missed_post_email(missed: MissedPost, settings: PipelineSettings) -> EmailMessage:
    """Build the plain-text alert. The SMTP resource sets From and To."""
    environment = settings.environment.value
    date = missed.date.isoformat()
    deadline = missed.deadline.strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"No post of the Dagster job {JOB_NAME} was queued on Buffer for {date} "
        f"(Europe/Berlin) in {environment}.",
        "",
        f"Deadline passed: {deadline}",
    ]
    last = missed.last_post
    if last is None:
        lines.append("Last queued post: none recorded in this Dagster instance")
    else:
        queued_at = last.queued_at.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M %Z")
        lines += [
            f"Last queued post: {last.publish_date.isoformat()}, Buffer post id {last.post_id}, "
            f"queued {queued_at}",
            f"Run id of the last post: {last.run_id}",
            f"Run in the Dagster UI: {settings.run_url(last.run_id)}",
        ]
    lines += [
        f"Job in the Dagster UI: {location_url(settings, f'jobs/{JOB_NAME}')}",
        "",
        "A failed run would have sent its own alert, so most likely no run started. Check that "
        f"the schedule {daily_blogpost_schedule.name} is running and read its tick history for "
        f"launch errors: {location_url(settings, f'schedules/{daily_blogpost_schedule.name}')}",
    ]

    message = EmailMessage()
    message["Subject"] = one_line(
        f"[blog-pipeline {environment}] No blog post queued for {date}, deadline {deadline} passed"
    )
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="blog-pipeline")
    message.set_content("\n".join(lines) + "\n")
    return message


def build_missed_post_sensor(clock: Clock = utc_now) -> dg.SensorDefinition:
    """Build the sensor. ``clock`` returns the current time, and tests pass a fixed one."""

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"E-mails an alert when no {buffer_post.key.to_user_string()} was queued for the "
            "Berlin date by the deadline in the settings resource (post_deadline)."
        ),
    )
    def missed_post_sensor(
        context: dg.SensorEvaluationContext, smtp: SMTPResource, settings: PipelineSettings
    ) -> dg.SkipReason:
        # The cursor is the last date alerted. It advances only after the SMTP server accepted
        # the mail, so a failed send is retried on the next evaluation, also after a restart.
        last_alerted = dt.date.fromisoformat(context.cursor) if context.cursor else None
        now = clock()
        missed = find_missed_post(
            load_posts(context.instance), now, settings.post_deadline_time, last_alerted
        )
        if missed is None:
            checked = due_date(now, settings.post_deadline_time).isoformat()
            return dg.SkipReason(f"{checked} has a queued post or was alerted already")

        try:
            smtp.send(build_missed_post_email(missed, settings))
        except BlogPipelineError as exc:
            context.log.error(
                "Missed-post alert for %s was not sent, retrying on the next evaluation: %s",
                missed.date.isoformat(),
                exc,
            )
            raise
        # NOTE: the daemon stores the cursor with the tick after this function returns. If the
        # evaluation times out or the daemon dies in between, the next evaluation mails again.
        context.update_cursor(missed.date.isoformat())
        context.log.info(
            "Missed-post alert for %s sent to %s",
            missed.date.isoformat(),
            ", ".join(smtp.recipients),
        )
        return dg.SkipReason(f"Alert sent: no post queued for {missed.date.isoformat()}")

    return missed_post_sensor


daily_blogpost_missed_post_alert = build_missed_post_sensor()
