"""The run-failure sensor, given real failed runs, against the sandbox SMTP server."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from blog_pipeline.definitions import build_definitions
from blog_pipeline.sandbox import Fault, Sandbox
from blog_pipeline.sensors import ALERT_TAG, alert_outbox_sensor, failure_alert_sensor
from blog_pipeline_tests.conftest import run_daily_job
from blog_pipeline_tests.reconstructable_job import reexecute_from_failure


def _evaluate_sensor(
    sandbox: Sandbox, instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult
) -> None:
    defs = build_definitions(sandbox.settings())
    context = dg.build_run_status_sensor_context(
        sensor_name=failure_alert_sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=defs.resources,
    ).for_run_failure()
    failure_alert_sensor(context)


def test_sensor_sends_one_alert_for_step_failure(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    error = {"__typename": "MutationError", "message": "Queue <full> & closed"}
    sandbox.buffer.inject(
        Fault(status=200, body={"data": {"createPost": error}}, match="createPost")
    )
    result = run_daily_job(sandbox, instance)
    assert not result.success

    _evaluate_sensor(sandbox, instance, result)

    [mail] = sandbox.smtp.messages()
    assert mail["Subject"] == "[blog-pipeline sandbox] daily_blogpost failed at step buffer_post"
    assert mail["To"] == "alerts@sandbox.invalid"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert f"Run id: {result.run_id}" in text
    assert "Failed steps: buffer_post" in text
    assert "MutationError: Queue <full> & closed" in text
    assert f"/runs/{result.run_id}" in text
    assert "Queue &lt;full&gt; &amp; closed" in html
    assert "Queue <full>" not in html
    assert f'href="http://127.0.0.1:3000/runs/{result.run_id}"' in html


def test_sensor_alerts_run_that_failed_before_any_step(
    sandbox: Sandbox, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDBOX_OPENAI_API_KEY")
    result = run_daily_job(sandbox, instance)
    assert not result.success
    monkeypatch.setenv("SANDBOX_OPENAI_API_KEY", "sk-back")

    _evaluate_sensor(sandbox, instance, result)

    [mail] = sandbox.smtp.messages()
    assert mail["Subject"].endswith("daily_blogpost failed outside any step (run-level failure)")
    text = mail.get_body(("plain",)).get_content()
    assert "SANDBOX_OPENAI_API_KEY" in text
    assert "Failed steps: none" in text


def test_sensor_logs_smtp_failure_with_run_id(
    sandbox: Sandbox, instance: dg.DagsterInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.openai.api_key = "sk-another-key"
    result = run_daily_job(sandbox, instance)
    sandbox.smtp.reject_with = "451 Temporary local problem"

    capsys.readouterr()

    _evaluate_sensor(sandbox, instance, result)

    # Outside the daemon, a sensor's log goes to Dagster's console logger on stderr.
    logged = capsys.readouterr().err
    assert f"Failure alert for run {result.run_id} of daily_blogpost was not sent" in logged
    assert "rejected the message with 451: Temporary local problem" in logged
    assert sandbox.smtp.messages() == []
    assert instance.get_run_by_id(result.run_id).tags[ALERT_TAG] == "pending"


def test_outbox_sends_pending_alert_once_smtp_is_back(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    sandbox.openai.api_key = "sk-another-key"
    result = run_daily_job(sandbox, instance)
    sandbox.smtp.reject_with = "421 Service not available"
    _evaluate_sensor(sandbox, instance, result)
    _evaluate_outbox(sandbox, instance)
    assert sandbox.smtp.messages() == []

    sandbox.smtp.reject_with = None
    _evaluate_outbox(sandbox, instance)
    _evaluate_outbox(sandbox, instance)

    [mail] = sandbox.smtp.messages()
    assert result.run_id in mail.get_body(("plain",)).get_content()
    assert instance.get_run_by_id(result.run_id).tags[ALERT_TAG] == "sent"


def test_sensor_sends_one_alert_per_retry_chain(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.openai.api_key = "sk-another-key"
    overrides = {"run_retries": {"enabled": True, "max_retries": 1}}
    with dg.instance_for_test(overrides=overrides) as instance:
        first = run_daily_job(sandbox, instance)
        assert instance.get_run_by_id(first.run_id).tags["dagster/will_retry"] == "true"
        _evaluate_sensor(sandbox, instance, first)
        assert sandbox.smtp.messages() == []

        # What the retry daemon launches: a re-execution from failure with the retry number.
        retry = reexecute_from_failure(instance, first.run_id, {"dagster/retry_number": "1"})
        retried_run = instance.get_run_by_id(retry.run_id)
        assert retried_run.root_run_id == first.run_id
        assert retried_run.tags["dagster/will_retry"] == "false"
        context = dg.build_run_status_sensor_context(
            sensor_name=failure_alert_sensor.name,
            dagster_event=instance.all_logs(retry.run_id, of_type=DagsterEventType.RUN_FAILURE)[
                -1
            ].dagster_event,
            dagster_instance=instance,
            dagster_run=retried_run,
            resources=build_definitions(sandbox.settings()).resources,
        ).for_run_failure()
        failure_alert_sensor(context)

    [mail] = sandbox.smtp.messages()
    assert mail["Subject"].endswith("failed at step blog_article after 2 attempts")
    text = mail.get_body(("plain",)).get_content()
    assert f"Attempts: 2 runs, the first was {first.run_id}" in text
    assert f"Run id: {retry.run_id}" in text


def _evaluate_outbox(sandbox: Sandbox, instance: dg.DagsterInstance) -> None:
    defs = build_definitions(sandbox.settings())
    context = dg.build_sensor_context(instance=instance, resources=defs.resources)
    alert_outbox_sensor(context)


def test_sensor_monitors_daily_job_and_runs_by_default() -> None:
    assert failure_alert_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert failure_alert_sensor.minimum_interval_seconds <= 15


def test_reexecution_that_fails_again_alerts(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    sandbox.buffer.sticky_fault = Fault(status=200, body={"data": None}, match="createPost")
    first = run_daily_job(sandbox, instance)
    _evaluate_sensor(sandbox, instance, first)
    assert instance.get_run_by_id(first.run_id).tags[ALERT_TAG] == "sent"

    retry = reexecute_from_failure(instance, first.run_id)
    assert retry.tags[ALERT_TAG] == "sent"  # inherited from the parent run
    context = dg.build_run_status_sensor_context(
        sensor_name=failure_alert_sensor.name,
        dagster_event=instance.all_logs(retry.run_id, of_type=DagsterEventType.RUN_FAILURE)[
            -1
        ].dagster_event,
        dagster_instance=instance,
        dagster_run=retry,
        resources=build_definitions(sandbox.settings()).resources,
    ).for_run_failure()
    failure_alert_sensor(context)

    mails = sandbox.smtp.messages()
    assert len(mails) == 2
    assert f"Run id: {retry.run_id}" in mails[1].get_body(("plain",)).get_content()


def test_outbox_skips_successful_reexecution_of_pending_run(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    sandbox.buffer.sticky_fault = Fault(status=200, body={"data": None}, match="createPost")
    first = run_daily_job(sandbox, instance)
    sandbox.smtp.reject_with = "421 Service not available"
    _evaluate_sensor(sandbox, instance, first)
    sandbox.buffer.sticky_fault = None
    retry = reexecute_from_failure(instance, first.run_id)
    assert retry.status == dg.DagsterRunStatus.SUCCESS
    sandbox.smtp.reject_with = None

    _evaluate_outbox(sandbox, instance)

    [mail] = sandbox.smtp.messages()
    assert f"Run id: {first.run_id}" in mail.get_body(("plain",)).get_content()
