"""The missed-post sensor, on a real instance with real job runs and the sandbox SMTP server."""

from __future__ import annotations

import datetime as dt
import tomllib
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import pytest

from blog_pipeline.dates import BERLIN, PUBLISH_DATE_TAG
from blog_pipeline.definitions import build_definitions, defs
from blog_pipeline.environment import Environment
from blog_pipeline.errors import SMTPDeliveryError
from blog_pipeline.missed_run import (
    CODE_LOCATION,
    SENSOR_NAME,
    build_missed_post_sensor,
    due_date,
    find_missed_post,
    load_posts,
)
from blog_pipeline.resources import PipelineSettings
from blog_pipeline.resources.settings import DEFAULT_POST_DEADLINE
from blog_pipeline.sandbox import Sandbox
from blog_pipeline_tests.conftest import run_daily_job

PROJECT = Path(__file__).resolve().parents[1]
UTC = dt.UTC
NINE = dt.time(9, 0)


def _berlin(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BERLIN)


def _queue_post(
    sandbox: Sandbox, instance: dg.DagsterInstance, day: dt.date
) -> dg.ExecuteInProcessResult:
    """Run the daily job for ``day`` as the schedule would, and return the successful result."""
    result = run_daily_job(sandbox, instance, tags={PUBLISH_DATE_TAG: day.isoformat()})
    assert result.success
    return result


def _post_id(result: dg.ExecuteInProcessResult) -> str:
    [materialization] = result.asset_materializations_for_node("buffer_post")
    return str(materialization.metadata["post_id"].value)


class Daemon:
    """Evaluates the sensor like the daemon: a new context per tick, the cursor carried over."""

    def __init__(
        self,
        sandbox: Sandbox,
        instance: dg.DagsterInstance,
        settings: PipelineSettings | None = None,
    ) -> None:
        self.instance = instance
        self.resources = dict(build_definitions(sandbox.settings()).resources)
        if settings is not None:
            self.resources["settings"] = settings
        self.cursor: str | None = None

    def tick(self, now: dt.datetime) -> dg.SkipReason:
        sensor = build_missed_post_sensor(clock=lambda: now)
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources
        )
        try:
            return sensor(context)
        finally:
            self.cursor = context.cursor


def _text(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()


def test_no_mail_before_deadline(sandbox: Sandbox, instance: dg.DagsterInstance) -> None:
    today = dt.date(2026, 6, 10)
    _queue_post(sandbox, instance, today - dt.timedelta(days=1))
    daemon = Daemon(sandbox, instance)

    for now in (_berlin(today, 0, 0), _berlin(today, 8, 0), _berlin(today, 8, 59)):
        daemon.tick(now)

    assert sandbox.smtp.messages() == []
    assert daemon.cursor is None


def test_one_mail_after_deadline_without_post(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    today = dt.date(2026, 6, 10)
    daemon = Daemon(sandbox, instance)

    daemon.tick(_berlin(today, 9, 1))
    daemon.tick(_berlin(today, 9, 4))
    daemon.tick(_berlin(today, 23, 59))

    [mail] = sandbox.smtp.messages()
    assert daemon.cursor == "2026-06-10"
    assert mail["Subject"] == (
        "[blog-pipeline sandbox] No blog post queued for 2026-06-10, "
        "deadline 2026-06-10 09:00 CEST passed"
    )
    assert mail["To"] == "alerts@sandbox.invalid"
    text = _text(mail)
    assert "was queued on Buffer for 2026-06-10 (Europe/Berlin) in sandbox" in text
    assert "Deadline passed: 2026-06-10 09:00 CEST" in text
    assert "Last queued post: none recorded in this Dagster instance" in text
    assert (
        "Job in the Dagster UI: http://127.0.0.1:3000/locations/blog_pipeline/jobs/daily_blogpost"
    ) in text
    assert "/locations/blog_pipeline/schedules/daily_blogpost_schedule" in text


def test_mail_names_last_successful_post(sandbox: Sandbox, instance: dg.DagsterInstance) -> None:
    today = dt.date(2026, 6, 10)
    yesterday = _queue_post(sandbox, instance, today - dt.timedelta(days=1))
    daemon = Daemon(sandbox, instance)

    daemon.tick(_berlin(today, 10, 0))

    [mail] = sandbox.smtp.messages()
    text = _text(mail)
    assert "for 2026-06-10 (Europe/Berlin)" in text
    assert f"Last queued post: 2026-06-09, Buffer post id {_post_id(yesterday)}, queued " in text
    assert f"Run id of the last post: {yesterday.run_id}" in text
    assert f"Run in the Dagster UI: http://127.0.0.1:3000/runs/{yesterday.run_id}" in text


def test_post_for_today_means_no_mail(sandbox: Sandbox, instance: dg.DagsterInstance) -> None:
    today = dt.date(2026, 6, 10)
    _queue_post(sandbox, instance, today)
    daemon = Daemon(sandbox, instance)

    skip = daemon.tick(_berlin(today, 9, 30))

    assert sandbox.smtp.messages() == []
    assert daemon.cursor is None
    assert skip.skip_message == "2026-06-10 has a queued post or was alerted already"


def test_late_post_cancels_pending_alert(sandbox: Sandbox, instance: dg.DagsterInstance) -> None:
    today = dt.date(2026, 6, 10)
    daemon = Daemon(sandbox, instance)
    sandbox.smtp.reject_with = "451 Temporary local problem"
    with pytest.raises(SMTPDeliveryError):
        daemon.tick(_berlin(today, 9, 3))

    _queue_post(sandbox, instance, today)
    sandbox.smtp.reject_with = None
    daemon.tick(_berlin(today, 9, 30))

    assert sandbox.smtp.messages() == []
    assert daemon.cursor is None


def test_hand_reported_materialization_does_not_count(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    today = dt.date(2026, 6, 10)
    instance.report_runless_asset_event(dg.AssetMaterialization("buffer_post"))
    instance.report_runless_asset_event(
        dg.AssetMaterialization("buffer_post", metadata={"publish_date": "10.06.2026"})
    )

    Daemon(sandbox, instance).tick(_berlin(today, 9, 5))

    assert load_posts(instance) == []
    [mail] = sandbox.smtp.messages()
    assert "No blog post queued for 2026-06-10" in mail["Subject"]


def test_smtp_outage_delays_alert_until_back(
    sandbox: Sandbox, instance: dg.DagsterInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    today = dt.date(2026, 6, 10)
    daemon = Daemon(sandbox, instance)
    sandbox.smtp.reject_with = "451 Temporary local problem"
    capsys.readouterr()

    for now in (_berlin(today, 9, 3), _berlin(today, 9, 6)):
        with pytest.raises(SMTPDeliveryError, match="451"):
            daemon.tick(now)

    assert sandbox.smtp.messages() == []
    assert daemon.cursor is None
    logged = capsys.readouterr().err
    assert (
        "Missed-post alert for 2026-06-10 was not sent, retrying on the next evaluation" in logged
    )
    assert "rejected the message with 451: Temporary local problem" in logged

    sandbox.smtp.reject_with = None
    daemon.tick(_berlin(today, 9, 9))
    daemon.tick(_berlin(today, 9, 12))

    [mail] = sandbox.smtp.messages()
    assert "No blog post queued for 2026-06-10" in mail["Subject"]
    assert daemon.cursor == "2026-06-10"


def test_smtp_outage_past_midnight_still_alerts(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    day = dt.date(2026, 6, 10)
    next_day = day + dt.timedelta(days=1)
    daemon = Daemon(sandbox, instance)
    sandbox.smtp.reject_with = "451 Temporary local problem"
    with pytest.raises(SMTPDeliveryError):
        daemon.tick(_berlin(day, 9, 3))

    sandbox.smtp.reject_with = None
    daemon.tick(_berlin(next_day, 0, 30))
    daemon.tick(_berlin(next_day, 8, 59))

    [mail] = sandbox.smtp.messages()
    assert "No blog post queued for 2026-06-10" in mail["Subject"]
    assert daemon.cursor == "2026-06-10"

    daemon.tick(_berlin(next_day, 9, 0))

    assert daemon.cursor == "2026-06-11"
    assert len(sandbox.smtp.messages()) == 2


def test_alert_for_yesterday_before_deadline(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    # Before the deadline the sensor checks yesterday, so a missed day not yet alerted is reported.
    today = dt.date(2026, 6, 10)
    _queue_post(sandbox, instance, today - dt.timedelta(days=2))
    daemon = Daemon(sandbox, instance)

    daemon.tick(_berlin(today, 7, 0))

    [mail] = sandbox.smtp.messages()
    assert "No blog post queued for 2026-06-09" in mail["Subject"]
    assert "Last queued post: 2026-06-08" in _text(mail)


def test_deadline_from_settings(sandbox: Sandbox, instance: dg.DagsterInstance) -> None:
    today = dt.date(2026, 6, 10)
    _queue_post(sandbox, instance, today - dt.timedelta(days=1))
    settings = PipelineSettings(environment=Environment.SANDBOX, post_deadline="10:30")
    daemon = Daemon(sandbox, instance, settings)

    daemon.tick(_berlin(today, 10, 29))
    assert sandbox.smtp.messages() == []

    daemon.tick(_berlin(today, 10, 30))
    [mail] = sandbox.smtp.messages()
    assert "deadline 2026-06-10 10:30 CEST passed" in mail["Subject"]


@pytest.mark.parametrize(
    ("day_before", "deadline_utc"),
    [
        # Summer time starts on Sunday 2026-03-29 at 02:00: from then 09:00 Berlin is 07:00 UTC.
        (dt.date(2026, 3, 28), dt.time(7, 0)),
        # Summer time ends on Sunday 2026-10-25 at 03:00: from then 09:00 Berlin is 08:00 UTC.
        (dt.date(2026, 10, 24), dt.time(8, 0)),
    ],
    ids=["spring", "autumn"],
)
def test_clock_walk_across_daylight_saving_change(
    sandbox: Sandbox, instance: dg.DagsterInstance, day_before: dt.date, deadline_utc: dt.time
) -> None:
    _queue_post(sandbox, instance, day_before)
    daemon = Daemon(sandbox, instance)
    alerts: list[tuple[str | None, dt.datetime]] = []

    # Every 15 minutes on the UTC grid, from noon before the change to noon two days later.
    now = _berlin(day_before, 12, 0).astimezone(UTC)
    end = _berlin(day_before + dt.timedelta(days=2), 12, 0).astimezone(UTC)
    while now <= end:
        cursor = daemon.cursor
        daemon.tick(now)
        if daemon.cursor != cursor:
            alerts.append((daemon.cursor, now))
        now += dt.timedelta(minutes=15)

    change_day = day_before + dt.timedelta(days=1)
    day_after = day_before + dt.timedelta(days=2)
    assert alerts == [
        (change_day.isoformat(), dt.datetime.combine(change_day, deadline_utc, UTC)),
        (day_after.isoformat(), dt.datetime.combine(day_after, deadline_utc, UTC)),
    ]
    subjects = [mail["Subject"] for mail in sandbox.smtp.messages()]
    assert len(subjects) == 2
    assert f"No blog post queued for {change_day.isoformat()}" in subjects[0]
    assert f"No blog post queued for {day_after.isoformat()}" in subjects[1]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Berlin midnight starts the day, but its deadline is 9 hours later.
        (dt.datetime(2026, 6, 9, 22, 0, tzinfo=UTC), dt.date(2026, 6, 9)),
        (dt.datetime(2026, 6, 10, 6, 59, 59, tzinfo=UTC), dt.date(2026, 6, 9)),
        (dt.datetime(2026, 6, 10, 7, 0, tzinfo=UTC), dt.date(2026, 6, 10)),
        # Winter: Berlin is UTC+1.
        (dt.datetime(2026, 1, 15, 7, 59, tzinfo=UTC), dt.date(2026, 1, 14)),
        (dt.datetime(2026, 1, 15, 8, 0, tzinfo=UTC), dt.date(2026, 1, 15)),
        # Berlin skips 02:00-03:00 on 2026-03-29 and repeats it on 2026-10-25.
        (dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC), dt.date(2026, 3, 28)),
        (dt.datetime(2026, 3, 29, 7, 0, tzinfo=UTC), dt.date(2026, 3, 29)),
        (dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC), dt.date(2026, 10, 24)),
        (dt.datetime(2026, 10, 25, 7, 59, tzinfo=UTC), dt.date(2026, 10, 24)),
        (dt.datetime(2026, 10, 25, 8, 0, tzinfo=UTC), dt.date(2026, 10, 25)),
        # The same instant given in Berlin time.
        (dt.datetime(2026, 10, 25, 9, 0, tzinfo=BERLIN), dt.date(2026, 10, 25)),
    ],
)
def test_due_date_is_latest_passed_deadline(now: dt.datetime, expected: dt.date) -> None:
    assert due_date(now, NINE) == expected


def test_find_missed_post_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        find_missed_post([], dt.datetime(2026, 6, 10, 9, 30), NINE, None)


def test_post_deadline_rejects_invalid_time() -> None:
    for value in ("9:00", "24:00", "09:60", "09:00:00", "nine"):
        with pytest.raises(ValueError, match="post_deadline .* is invalid: use HH:MM"):
            PipelineSettings(environment=Environment.SANDBOX, post_deadline=value)


def test_sensor_is_loaded_running_every_few_minutes() -> None:
    sensor = defs.resolve_sensor_def(SENSOR_NAME)

    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert 60 <= sensor.minimum_interval_seconds <= 300
    assert sensor.required_resource_keys == {"smtp", "settings"}


def test_job_link_uses_code_location_name() -> None:
    tool = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["dagster"]

    assert tool["code_location_name"] == CODE_LOCATION


def test_buffer_post_freshness_matches_deadline() -> None:
    hour, minute = (int(part) for part in DEFAULT_POST_DEADLINE.split(":"))
    node = defs.resolve_asset_graph().get(dg.AssetKey("buffer_post"))
    policy = node.freshness_policy

    assert isinstance(policy, dg.FreshnessPolicy)
    assert policy.deadline_cron == f"{minute} {hour} * * *"
    assert policy.timezone == "Europe/Berlin"
    # From Berlin midnight to the deadline, so any post of the day counts.
    assert policy.lower_bound_delta == dt.timedelta(hours=hour, minutes=minute)
