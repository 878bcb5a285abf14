"""Failure to alert under `dagster dev`: from a step's failure to the alert e-mail's acceptance.

The sandbox's Buffer server rejects the token, so every run of daily_blogpost fails at the
buffer_post step. The run-failure sensor, evaluated by the daemon that `dagster dev` starts,
then sends the alert to the sandbox SMTP server. The step's end is the timestamp of its
STEP_FAILURE event in the run's event log, read over the webserver's GraphQL API. The e-mail's
acceptance is the modification time of the .eml file the SMTP server writes before it replies
250. Both clocks are this machine's wall clock.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import httpx
from processes import child_environment, venv_tool

from blog_pipeline.jobs import JOB_NAME
from blog_pipeline.sandbox import Sandbox
from blog_pipeline.sandbox.smtp_server import free_port
from blog_pipeline.sensors import failure_alert_sensor

LOCATION_NAME = "blog_pipeline"
REPOSITORY_NAME = "__repository__"
# Seconds to wait for `dagster dev` to load the code location, for the sensor's first tick, and
# for one alert e-mail.
STARTUP_TIMEOUT_SECONDS = 180.0
FIRST_TICK_TIMEOUT_SECONDS = 120.0
ALERT_TIMEOUT_SECONDS = 120.0
# `dagster dev` started from a non-interactive shell ignores SIGTERM; after this grace period
# its process group gets SIGKILL.
STOP_GRACE_SECONDS = 10.0
POLL_SECONDS = 0.1

WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace {
    locationEntries { name loadStatus
      locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
SENSOR_TICKS_QUERY = """
query SensorTicks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) { __typename
    ... on Sensor { sensorState { status ticks(limit: 1) { timestamp status } } } } }
"""
LAUNCH_MUTATION = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) { __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message } } }
"""
RUN_EVENTS_QUERY = """
query RunEvents($runId: ID!) {
  logsForRun(runId: $runId) { __typename
    ... on EventConnection { events { __typename
      ... on MessageEvent { timestamp }
      ... on ExecutionStepFailureEvent { stepKey } } } } }
"""


@dataclass(frozen=True)
class AlertTiming:
    """Timestamps of one failed run, as seconds between its events."""

    run_id: str
    failed_step: str
    step_failure_to_alert: float
    step_failure_to_run_failure: float
    run_failure_to_alert: float


@dataclass(frozen=True)
class Latency:
    """Latency injected into the sandbox servers, in seconds."""

    openai: float
    buffer: float
    smtp: float


class AlertBenchmarkError(RuntimeError):
    """`dagster dev` did not start, a run did not launch, or no alert arrived in time."""


def measure_failure_to_alert(
    runs: int, workdir: Path, project_root: Path, latency: Latency
) -> list[AlertTiming]:
    """Start `dagster dev` against a failing sandbox, fail ``runs`` runs and time each alert."""
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(project_root / "dagster.yaml", home / "dagster.yaml")

    with Sandbox(workdir / "outbox") as sandbox:
        sandbox.openai.latency_seconds = latency.openai
        sandbox.buffer.latency_seconds = latency.buffer
        sandbox.smtp.delay_seconds = latency.smtp
        sandbox.buffer.token = "sandbox-expects-another-token"  # noqa: S105 - makes Buffer fail

        port = free_port()
        environ = child_environment(
            {
                **sandbox.environ(),
                "DAGSTER_HOME": str(home),
                "DAGSTER_UI_URL": f"http://127.0.0.1:{port}",
            }
        )
        command = [
            venv_tool("dagster"),
            "dev",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(project_root / "workspace.yaml"),
        ]
        with (workdir / "dagster-dev.log").open("wb") as log:
            # Its own session and process group, so that stopping it reaches the code server,
            # the webserver and the daemon, and nothing else.
            process = subprocess.Popen(  # noqa: S603 - fixed command
                command,
                env=environ,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", timeout=30.0, trust_env=False
            ) as client:
                _wait_until_loaded(client, process, workdir)
                _wait_for_first_sensor_tick(client)
                return [_fail_one_run(client, sandbox) for _ in range(runs)]
        finally:
            _stop_process_group(process)


def _graphql(client: httpx.Client, query: str, variables: dict | None = None) -> dict:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise AlertBenchmarkError(f"GraphQL request failed: {body['errors']}")
    return body["data"]


def _wait_until_loaded(client: httpx.Client, process: subprocess.Popen, workdir: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AlertBenchmarkError(
                f"dagster dev exited with status {process.returncode}; see "
                f"{workdir / 'dagster-dev.log'}"
            )
        try:
            workspace = _graphql(client, WORKSPACE_QUERY)["workspaceOrError"]
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        entries = workspace.get("locationEntries") or []
        for entry in entries:
            error = entry.get("locationOrLoadError") or {}
            if error.get("__typename") == "PythonError":
                raise AlertBenchmarkError(f"Code location failed to load: {error['message']}")
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            return
        time.sleep(0.5)
    raise AlertBenchmarkError(
        f"dagster dev did not load the code location within {STARTUP_TIMEOUT_SECONDS:g} s"
    )


def _wait_for_first_sensor_tick(client: httpx.Client) -> None:
    # A run-failure sensor starts its cursor at its first tick and ignores earlier failures.
    selector = {
        "repositoryLocationName": LOCATION_NAME,
        "repositoryName": REPOSITORY_NAME,
        "sensorName": failure_alert_sensor.name,
    }
    deadline = time.monotonic() + FIRST_TICK_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        sensor = _graphql(client, SENSOR_TICKS_QUERY, {"selector": selector})["sensorOrError"]
        if sensor["__typename"] != "Sensor":
            raise AlertBenchmarkError(f"Sensor {failure_alert_sensor.name} not found: {sensor}")
        if sensor["sensorState"]["ticks"]:
            return
        time.sleep(0.5)
    raise AlertBenchmarkError(
        f"Sensor {failure_alert_sensor.name} did not tick within {FIRST_TICK_TIMEOUT_SECONDS:g} s"
    )


def _fail_one_run(client: httpx.Client, sandbox: Sandbox) -> AlertTiming:
    params = {
        "selector": {
            "repositoryLocationName": LOCATION_NAME,
            "repositoryName": REPOSITORY_NAME,
            "jobName": JOB_NAME,
        },
        "runConfigData": {},
    }
    launched = _graphql(client, LAUNCH_MUTATION, {"params": params})["launchRun"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise AlertBenchmarkError(f"launchRun failed: {launched}")
    run_id = launched["run"]["runId"]

    accepted_at = _wait_for_alert(sandbox, run_id)

    events = _graphql(client, RUN_EVENTS_QUERY, {"runId": run_id})["logsForRun"]["events"]
    step_failures = [e for e in events if e["__typename"] == "ExecutionStepFailureEvent"]
    run_failures = [e for e in events if e["__typename"] == "RunFailureEvent"]
    if not step_failures or not run_failures:
        raise AlertBenchmarkError(f"Run {run_id} has no STEP_FAILURE or RUN_FAILURE event")
    # GraphQL returns event timestamps as milliseconds since the epoch, in a string.
    step_failed_at = float(step_failures[-1]["timestamp"]) / 1000
    run_failed_at = float(run_failures[-1]["timestamp"]) / 1000
    return AlertTiming(
        run_id=run_id,
        failed_step=step_failures[-1]["stepKey"],
        step_failure_to_alert=accepted_at - step_failed_at,
        step_failure_to_run_failure=run_failed_at - step_failed_at,
        run_failure_to_alert=accepted_at - run_failed_at,
    )


def _wait_for_alert(sandbox: Sandbox, run_id: str) -> float:
    """Return the time the SMTP server accepted the alert for ``run_id``."""
    deadline = time.monotonic() + ALERT_TIMEOUT_SECONDS
    seen: set[Path] = set()
    while time.monotonic() < deadline:
        for path in sandbox.smtp.message_files():
            if path in seen:
                continue
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            alert_run_id = message.get("X-Dagster-Run-Id")
            if alert_run_id is None:
                continue  # still being written
            if alert_run_id == run_id:
                return path.stat().st_mtime
            seen.add(path)
        time.sleep(POLL_SECONDS)
    raise AlertBenchmarkError(
        f"No alert e-mail for run {run_id} within {ALERT_TIMEOUT_SECONDS:g} s"
    )


def _stop_process_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_GRACE_SECONDS)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    # The leader may be gone while its code server or daemon still runs.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
