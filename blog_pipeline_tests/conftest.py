"""Shared fixtures: the sandbox servers on loopback and a job runner against them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from blog_pipeline.definitions import build_definitions
from blog_pipeline.jobs import JOB_NAME
from blog_pipeline.sandbox import Sandbox
from blog_pipeline_tests.dagster_dev import DagsterDev

REQUIRE_SERVICES = os.environ.get("BLOG_PIPELINE_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a test whose system service is missing, or fail it where CI provides the service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (BLOG_PIPELINE_REQUIRE_SERVICES=1 requires it)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real keys or a selected environment in the developer's shell must not leak into tests.
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "BUFFER_", "SMTP_", "ALERT_EMAIL_", "SANDBOX_")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("BLOG_PIPELINE_ENV", raising=False)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The three sandbox servers, with the process environment pointing at them."""
    with Sandbox(tmp_path / "outbox") as running:
        for name, value in running.environ().items():
            monkeypatch.setenv(name, value)
        yield running


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def run_daily_job(
    sandbox: Sandbox,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
    resources: dict[str, dg.ConfigurableResource] | None = None,
) -> dg.ExecuteInProcessResult:
    """Execute daily_blogpost in process against ``sandbox`` and return the result."""
    defs = build_definitions(sandbox.settings(extra_env), resources)
    job = defs.resolve_job_def(JOB_NAME)
    return job.execute_in_process(
        run_config=run_config or {}, instance=instance, tags=tags, raise_on_error=False
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that share the session's `dagster dev` run last and together, so its daemon and
    # webserver do not take CPU from the rest of the suite while they idle.
    items.sort(key=lambda item: "dagster_dev" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    """`dagster dev` (webserver, daemon, code server) against its own sandbox, shared by every
    test of the session because starting it costs 5-20 s."""
    workdir = tmp_path_factory.mktemp("dagster-dev")
    with Sandbox(workdir / "outbox") as sandbox, DagsterDev(sandbox, workdir) as dev:
        dev.wait_until_loaded()
        yield dev
