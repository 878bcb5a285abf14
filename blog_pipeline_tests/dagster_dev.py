"""Start `dagster dev` against the local sandbox and drive it through the webserver's GraphQL API.

`DagsterDev` runs the webserver, the daemon and the code server of this project as one process
group, with a temporary DAGSTER_HOME and the environment of a running `Sandbox`. Started from a
non-interactive shell, `dagster dev` and its code server ignore SIGINT and SIGTERM, so `stop()`
ends the whole group and falls back to SIGKILL.

`dagster dev` loads `.env` from its working folder and lets it override the environment it was
started with. A developer's `.env` (see .env.example) selects BLOG_PIPELINE_ENV=dev with real
keys, so a test started in the project folder would publish for real. The harness therefore starts
`dagster dev` in a scratch folder that contains copies of the project's pyproject.toml and
workspace.yaml: it finds the code location the same way, imports the installed blog_pipeline
package, and never sees `.env`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import httpx

from blog_pipeline.jobs import JOB_NAME
from blog_pipeline.sandbox import Sandbox
from blog_pipeline.sandbox.smtp_server import free_port

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCATION_NAME = "blog_pipeline"
# Name that Dagster gives the repository built from a module-level `Definitions` object.
REPOSITORY_NAME = "__repository__"

# Seconds. Measured on 2 cores, the code location loaded in 5-15 s and a sandbox run took 5-10 s.
START_TIMEOUT_SECONDS = 180.0
RUN_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.5
# Seconds that the process group gets to exit after SIGTERM before it gets SIGKILL.
STOP_GRACE_SECONDS = 5.0
OUTPUT_TAIL_CHARACTERS = 6000

TERMINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})

# The files `dagster dev` reads from its working folder to find the code location.
PROJECT_FILES = ("pyproject.toml", "workspace.yaml")
# Settings of real services (keys, hosts, channels) that must never reach the sandboxed process.
SERVICE_ENV_PREFIXES = (
    "OPENAI_",
    "BUFFER_",
    "SMTP_",
    "ALERT_EMAIL_",
    "BLOG_PIPELINE_",
    "SANDBOX_",
)

T = TypeVar("T")

WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            repositories { name jobs { name } }
          }
          ... on PythonError { message }
        }
      }
    }
    ... on Error { message }
  }
}
"""

DAEMON_HEALTH_QUERY = """
query DaemonHealth {
  instance {
    daemonHealth {
      allDaemonStatuses { daemonType required healthy }
    }
  }
}
"""

LAUNCH_RUN_MUTATION = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId
      jobName
      status
      startTime
      endTime
      tags { key value }
      stepStats { stepKey status startTime endTime }
    }
    ... on Error { message }
  }
}
"""

RUN_LOGS_QUERY = """
query RunLogs($runId: ID!, $afterCursor: String) {
  logsForRun(runId: $runId, afterCursor: $afterCursor) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on MessageEvent { message level stepKey }
      }
    }
    ... on Error { message }
  }
}
"""

SENSOR_QUERY = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      name
      minIntervalSeconds
      sensorState {
        status
        ticks(limit: 5) { status timestamp }
      }
    }
    ... on Error { message }
  }
}
"""

SCHEDULE_QUERY = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule {
      name
      pipelineName
      cronSchedule
      executionTimezone
      scheduleState { status }
      futureTicks(limit: 2) { results { timestamp } }
    }
    ... on Error { message }
  }
}
"""


class DagsterDevError(RuntimeError):
    """`dagster dev` failed to start, returned an error, or a wait timed out."""


class DagsterDev:
    """One `dagster dev` process group on 127.0.0.1, pointed at the servers of ``sandbox``.

    ``workdir`` receives the scratch project folder, the DAGSTER_HOME folder and
    ``dagster-dev.log`` with everything the process group prints.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        workdir: Path,
        project_dir: Path = PROJECT_DIR,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.workdir = Path(workdir)
        self.project_dir = Path(project_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run_dir = self.workdir / "project"
        self.home = self.workdir / "dagster_home"
        self.log_path = self.workdir / "dagster-dev.log"
        self._extra_env = dict(extra_env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: BinaryIO | None = None
        # trust_env=False: a proxy from the environment must not see loopback traffic.
        self._client = httpx.Client(base_url=self.url, timeout=30.0, trust_env=False)

    # -- lifecycle -------------------------------------------------------------------------

    def environ(self) -> dict[str, str]:
        """Return the environment of the process group: this one, without any real service's
        settings, plus the sandbox's."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(SERVICE_ENV_PREFIXES)
        }
        env.update(self.sandbox.environ())
        env.update(
            {
                "DAGSTER_HOME": str(self.home),
                "DAGSTER_UI_URL": self.url,
                # The OpenAI SDK honours proxy variables, but the sandbox must be reached directly.
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        env.update(self._extra_env)
        return env

    def start(self) -> DagsterDev:
        """Start `dagster dev` in its own process group.

        wait_until_loaded() waits until the webserver serves the code location.
        """
        if self._process is not None:
            raise DagsterDevError("dagster dev is already running; call stop() first.")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in PROJECT_FILES:
            if (self.project_dir / name).exists():
                shutil.copy(self.project_dir / name, self.run_dir / name)
        # With DAGSTER_HOME set, dagster dev ignores ./dagster.yaml, so the home gets a copy.
        self.home.mkdir(parents=True, exist_ok=True)
        if (self.project_dir / "dagster.yaml").exists():
            shutil.copy(self.project_dir / "dagster.yaml", self.home / "dagster.yaml")

        command = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]
        self._log_file = self.log_path.open("wb")
        self._process = subprocess.Popen(  # noqa: S603 - fixed command, no shell
            command,
            cwd=self.run_dir,
            env=self.environ(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after STOP_GRACE_SECONDS."""
        process, self._process = self._process, None
        if process is not None:
            # With start_new_session=True the group id is the leader's pid, and the code
            # server and run workers are in the same group.
            group = process.pid
            _signal_group(group, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(group, signal.SIGKILL)
                process.wait(timeout=STOP_GRACE_SECONDS)
            # Children can outlive the leader. Whatever is left of the group gets SIGKILL.
            _signal_group(group, signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._client.close()

    def __enter__(self) -> DagsterDev:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output_tail(self, characters: int = OUTPUT_TAIL_CHARACTERS) -> str:
        """Return the end of what the process group printed, for failure messages."""
        if not self.log_path.exists():
            return "(no output captured)"
        text = self.log_path.read_bytes().decode("utf-8", "replace")
        return text[-characters:]

    # -- GraphQL ---------------------------------------------------------------------------

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST ``query`` to the webserver and return its ``data``.

        Raises DagsterDevError when the HTTP status is not 200 or the response has ``errors``.
        """
        response = self._client.post(
            "/graphql", json={"query": query, "variables": dict(variables or {})}
        )
        if response.status_code != 200:
            raise DagsterDevError(
                f"GraphQL request to {self.url}/graphql failed with HTTP "
                f"{response.status_code}: {response.text[:1000]}"
            )
        body = response.json()
        if body.get("errors"):
            messages = "; ".join(str(e.get("message")) for e in body["errors"])
            raise DagsterDevError(f"GraphQL request to {self.url}/graphql failed: {messages}")
        return body["data"]

    def repository_selector(self) -> dict[str, str]:
        return {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}

    def wait_until_loaded(
        self, job_name: str = JOB_NAME, timeout: float = START_TIMEOUT_SECONDS
    ) -> None:
        """Wait until the webserver answers, the code location shows ``job_name`` and the
        daemon's required parts report healthy."""

        def loaded() -> bool:
            entries = self._workspace_entries()
            entry = next((e for e in entries if e["name"] == LOCATION_NAME), None)
            if entry is None or entry["loadStatus"] != "LOADED":
                return False
            location = entry["locationOrLoadError"]
            if location["__typename"] != "RepositoryLocation":
                raise DagsterDevError(
                    f"Code location {LOCATION_NAME} failed to load: {location.get('message')}"
                )
            jobs = {job["name"] for repo in location["repositories"] for job in repo["jobs"]}
            if job_name not in jobs:
                raise DagsterDevError(
                    f"Code location {LOCATION_NAME} loaded without job {job_name}; "
                    f"jobs: {sorted(jobs)}"
                )
            return True

        self.wait_for(loaded, timeout, f"code location {LOCATION_NAME} to load")
        self.wait_for(self._daemon_healthy, timeout, "the dagster daemon to report healthy")

    def _workspace_entries(self) -> list[dict[str, Any]]:
        try:
            data = self.graphql(WORKSPACE_QUERY)
        except httpx.TransportError:
            return []
        workspace = data["workspaceOrError"]
        if workspace["__typename"] != "Workspace":
            raise DagsterDevError(f"Workspace failed to load: {workspace.get('message')}")
        return workspace["locationEntries"]

    def _daemon_healthy(self) -> bool:
        statuses = self.graphql(DAEMON_HEALTH_QUERY)["instance"]["daemonHealth"]
        required = [s for s in statuses["allDaemonStatuses"] if s["required"]]
        return bool(required) and all(s["healthy"] for s in required)

    def launch_run(
        self,
        job_name: str = JOB_NAME,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Launch ``job_name`` through the webserver, as the Launchpad does; return the run id."""
        params = {
            "selector": {**self.repository_selector(), "jobName": job_name},
            "runConfigData": dict(run_config or {}),
            "executionMetadata": {
                "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]
            },
        }
        result = self.graphql(LAUNCH_RUN_MUTATION, {"executionParams": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            detail = result.get("message") or result.get("errors") or result
            raise DagsterDevError(
                f"launchRun of {job_name} returned {result['__typename']}: {detail}"
            )
        return result["run"]["runId"]

    def run(self, run_id: str) -> dict[str, Any]:
        """Return the run's status, times, tags and step stats."""
        result = self.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise DagsterDevError(f"Run {run_id} not found: {result.get('message')}")
        return result

    def wait_for_run(self, run_id: str, timeout: float = RUN_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Wait until the run reaches SUCCESS, FAILURE or CANCELED and return it."""

        def finished_run() -> dict[str, Any] | None:
            run = self.run(run_id)
            return run if run["status"] in TERMINAL_RUN_STATUSES else None

        return self.wait_for(finished_run, timeout, f"run {run_id} to finish")

    def run_messages(self, run_id: str) -> list[dict[str, Any]]:
        """Return every event of the run's event log that carries a message."""
        events: list[dict[str, Any]] = []
        cursor = None
        while True:
            result = self.graphql(RUN_LOGS_QUERY, {"runId": run_id, "afterCursor": cursor})
            connection = result["logsForRun"]
            if connection["__typename"] != "EventConnection":
                raise DagsterDevError(f"Event log of run {run_id}: {connection.get('message')}")
            events += [e for e in connection["events"] if "message" in e]
            cursor = connection["cursor"]
            if not connection["hasMore"]:
                return events

    def sensor(self, sensor_name: str) -> dict[str, Any]:
        selector = {**self.repository_selector(), "sensorName": sensor_name}
        result = self.graphql(SENSOR_QUERY, {"selector": selector})["sensorOrError"]
        if result["__typename"] != "Sensor":
            raise DagsterDevError(f"Sensor {sensor_name} not found: {result.get('message')}")
        return result

    def schedule(self, schedule_name: str) -> dict[str, Any]:
        selector = {**self.repository_selector(), "scheduleName": schedule_name}
        result = self.graphql(SCHEDULE_QUERY, {"selector": selector})["scheduleOrError"]
        if result["__typename"] != "Schedule":
            raise DagsterDevError(f"Schedule {schedule_name} not found: {result.get('message')}")
        return result

    def wait_for_sensor_tick(self, sensor_name: str, timeout: float = 60.0) -> None:
        """Wait until the daemon has evaluated ``sensor_name`` at least once.

        A run-status sensor starts its cursor at its first tick and never reports runs that
        failed before it, so a test must wait for that tick before it makes a run fail.
        """
        self.wait_for(
            lambda: bool(self.sensor(sensor_name)["sensorState"]["ticks"]),
            timeout,
            f"the first tick of sensor {sensor_name}",
        )

    # -- waiting ---------------------------------------------------------------------------

    def wait_for(self, condition: Callable[[], T | None], timeout: float, description: str) -> T:
        """Call ``condition`` until it returns a true value and return that value.

        Raises DagsterDevError with the end of the process group's output when `dagster dev`
        exits or ``timeout`` seconds pass first.
        """
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise DagsterDevError(
                    f"dagster dev exited while waiting for {description}. Output:\n"
                    f"{self.output_tail()}"
                )
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise DagsterDevError(
                    f"Timed out after {timeout:g} s waiting for {description}. "
                    "dagster dev output:\n"
                    f"{self.output_tail()}"
                )
            time.sleep(POLL_SECONDS)


def wait_until(condition: Callable[[], T | None], timeout: float, description: str) -> T:
    """Call ``condition`` until it returns a true value; raise TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout:g} s waiting for {description}.")
        time.sleep(POLL_SECONDS)


def step_keys(run: Mapping[str, Any], statuses: Iterable[str] | None = None) -> list[str]:
    """Return the step keys of ``run`` in start order, only those in ``statuses`` if given."""
    wanted = set(statuses) if statuses is not None else None
    steps = sorted(run["stepStats"], key=lambda s: s["startTime"] or float("inf"))
    return [s["stepKey"] for s in steps if wanted is None or s["status"] in wanted]


def _signal_group(group: int, signum: signal.Signals) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass
