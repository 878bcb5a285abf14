"""daily_blogpost under `dagster dev`, launched and watched through the webserver's GraphQL API.

The run worker, the schedule and the failure sensor run in the processes that `dagster dev`
starts, against the sandbox servers of the session's `dagster_dev` fixture.
"""

from __future__ import annotations

import pickle
import uuid
from email.message import EmailMessage

import pytest

from blog_pipeline.dates import PUBLISH_DATE_TAG
from blog_pipeline.jobs import JOB_NAME
from blog_pipeline.sandbox import german_article
from blog_pipeline.sensors import MINIMUM_INTERVAL_SECONDS
from blog_pipeline_tests.dagster_dev import DagsterDev, step_keys, wait_until

pytestmark = pytest.mark.e2e

SCHEDULE_NAME = "daily_blogpost_schedule"
FAILURE_SENSOR_NAME = "daily_blogpost_failure_alert"
# A publish date that no other test uses. buffer_post queues at most one post per date and
# channel, so this test must own its date to see its post queued.
PUBLISH_DATE = "2030-06-03"
STEPS = ["blog_article", "buffer_post", "publication_log"]
# The sensor daemon evaluates the failure sensor every MINIMUM_INTERVAL_SECONDS, and the rest
# covers a slow daemon loop on a loaded 2-core machine.
ALERT_TIMEOUT_SECONDS = MINIMUM_INTERVAL_SECONDS + 60


def test_schedule_is_running_at_0800_berlin(dagster_dev: DagsterDev) -> None:
    schedule = dagster_dev.schedule(SCHEDULE_NAME)

    assert schedule["pipelineName"] == JOB_NAME
    assert schedule["cronSchedule"] == "0 8 * * *"
    assert schedule["executionTimezone"] == "Europe/Berlin"
    assert schedule["scheduleState"]["status"] == "RUNNING"


def test_failure_sensor_is_running(dagster_dev: DagsterDev) -> None:
    sensor = dagster_dev.sensor(FAILURE_SENSOR_NAME)

    assert sensor["sensorState"]["status"] == "RUNNING"
    assert sensor["minIntervalSeconds"] == MINIMUM_INTERVAL_SECONDS


def test_run_queues_article_then_failure_alerts(dagster_dev: DagsterDev) -> None:
    sandbox = dagster_dev.sandbox
    # A run-status sensor ignores runs that failed before its first tick.
    dagster_dev.wait_for_sensor_tick(FAILURE_SENSOR_NAME)

    # 1. A launched run succeeds and queues exactly one post whose text is the article, byte
    # for byte, although the article has the quotes, backslashes and line breaks that break a
    # JSON string template.
    article = _article_that_breaks_json_templates(run_marker=uuid.uuid4().hex)
    sandbox.openai.article = article
    try:
        posts_before = len(sandbox.buffer.posts)
        run_id = dagster_dev.launch_run(tags={PUBLISH_DATE_TAG: PUBLISH_DATE})
        run = dagster_dev.wait_for_run(run_id)

        assert run["status"] == "SUCCESS", _run_report(dagster_dev, run_id)
        assert step_keys(run, {"SUCCESS"}) == STEPS
        new_posts = sandbox.buffer.posts[posts_before:]
        assert len(new_posts) == 1, new_posts
        assert _stored_article(dagster_dev) == article
        assert new_posts[0]["text"] == article
        assert new_posts[0]["channelId"] == sandbox.environ()["SANDBOX_BUFFER_CHANNEL_ID"]

        # 2. A second run for the same publish date succeeds without queueing the text again.
        rerun_id = dagster_dev.launch_run(tags={PUBLISH_DATE_TAG: PUBLISH_DATE})
        rerun = dagster_dev.wait_for_run(rerun_id)

        assert rerun["status"] == "SUCCESS", _run_report(dagster_dev, rerun_id)
        assert len(sandbox.buffer.posts) == posts_before + 1
    finally:
        sandbox.openai.article = None

    # 3. With OpenAI rejecting the key, the run fails at blog_article and the sensor e-mails.
    sandbox.openai.api_key = "sk-sandbox-expects-another-key"  # noqa: S105
    try:
        failed_id = dagster_dev.launch_run(tags={PUBLISH_DATE_TAG: PUBLISH_DATE})
        failed = dagster_dev.wait_for_run(failed_id)
    finally:
        sandbox.openai.api_key = None

    assert failed["status"] == "FAILURE", _run_report(dagster_dev, failed_id)
    assert step_keys(failed, {"FAILURE"}) == ["blog_article"]
    assert len(sandbox.buffer.posts) == posts_before + 1

    alert = wait_until(
        lambda: _alert_for(dagster_dev, failed_id),
        ALERT_TIMEOUT_SECONDS,
        f"the failure alert e-mail of run {failed_id}",
    )
    subject = alert["Subject"]
    assert JOB_NAME in subject
    assert "blog_article" in subject
    text = alert.get_body(preferencelist=("plain",)).get_content()
    assert failed_id in text
    assert f"{dagster_dev.url}/runs/{failed_id}" in text
    assert "401" in text
    assert "sk-sandbox-expects-another-key" not in alert.as_string()


def _article_that_breaks_json_templates(run_marker: str) -> str:
    """Return a German article of about 350 words, unique to ``run_marker``, whose last
    paragraph has double quotes, backslashes and a tab next to the paragraph breaks."""
    tricky = (
        'Zum Schluss ein Zitat: "Alles ist Code", sagte sie, und legte die Datei unter '
        f"C:\\Projekte\\blog ab.\tLauf {run_marker}."
    )
    return german_article(300) + "\n\n" + tricky


def _stored_article(dagster_dev: DagsterDev) -> str:
    """Return the article of the latest blog_article step, as the I/O manager stored it.

    The webserver does not serve step outputs. In the sandbox the filesystem I/O manager pickles
    each asset's value to DAGSTER_HOME/storage/<asset>, overwritten by every run.
    """
    path = dagster_dev.home / "storage" / "blog_article"
    assert path.exists(), f"no stored blog_article output under {path}"
    with path.open("rb") as stored:
        return pickle.load(stored)  # noqa: S301 - a file this test's own run wrote


def _alert_for(dagster_dev: DagsterDev, run_id: str) -> EmailMessage | None:
    for message in dagster_dev.sandbox.smtp.messages():
        if message["X-Dagster-Run-Id"] == run_id:
            return message
    return None


def _run_report(dagster_dev: DagsterDev, run_id: str) -> str:
    """Return the run's event messages and the end of dagster dev's output, for a failure."""
    lines = [
        f"{event.get('stepKey') or '-'} {event.get('level')}: {event['message']}"
        for event in dagster_dev.run_messages(run_id)
    ]
    return "\n".join(lines[-40:]) + "\n--- dagster dev output ---\n" + dagster_dev.output_tail()
