"""The run-failure sensor, given real failed runs, against the sandbox SMTP server."""

from __future__ import annotations

import dagster as dg
import pytest

from blog_pipeline.definitions import build_definitions
from blog_pipeline.errors import SMTPDeliveryError
from blog_pipeline.sandbox import Fault, Sandbox
from blog_pipeline.sensors import failure_alert_sensor
from blog_pipeline_tests.conftest import run_daily_job


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
    assert mail["Subject"].endswith("daily_blogpost failed before any step ran")
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

    with pytest.raises(SMTPDeliveryError, match="451"):
        _evaluate_sensor(sandbox, instance, result)

    # Outside the daemon, a sensor's log goes to Dagster's console logger on stderr.
    logged = capsys.readouterr().err
    assert f"Failure alert for run {result.run_id} of daily_blogpost was not sent" in logged
    assert "rejected the message with 451: Temporary local problem" in logged
    assert sandbox.smtp.messages() == []


def test_sensor_monitors_daily_job_and_runs_by_default() -> None:
    assert failure_alert_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert failure_alert_sensor.minimum_interval_seconds <= 15
