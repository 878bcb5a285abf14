"""The image's entry point, deploy/entrypoint.py, against Secrets Manager on a local moto server.

Each test starts the entry point as the container would, in a subprocess with the environment
that Kubernetes or Dagster+ would set, and checks what the wrapped command receives.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from blog_pipeline.sandbox import SANDBOX_OPENAI_KEY, Sandbox
from blog_pipeline.sandbox.buffer_server import DEFAULT_CHANNEL_ID, DEFAULT_TOKEN
from blog_pipeline_tests.moto_server import (
    AWS_VARIABLES_TO_CLEAR,
    aws_environment,
    running_moto_server,
)

PROJECT = Path(__file__).resolve().parents[1]
ENTRYPOINT = PROJECT / "deploy" / "entrypoint.py"
TAG_VAR = "BLOG_PIPELINE_AWS_SECRETS_TAG"
ARNS_VAR = "BLOG_PIPELINE_AWS_SECRET_ARNS"
# Prints the variables the wrapped command receives, as JSON.
SHOW_ENV = "import json, os, sys; print(json.dumps({n: os.environ.get(n) for n in sys.argv[1:]}))"


@pytest.fixture(scope="module")
def secrets_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def tag() -> str:
    """A tag key of its own per test, so secrets of other tests on the server stay out."""
    return f"blog-pipeline-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def base_environment(secrets_endpoint: str) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in AWS_VARIABLES_TO_CLEAR and not name.startswith(("AWS_", "BLOG_PIPELINE_"))
    }
    environment.update(aws_environment(secrets_endpoint))
    return environment


def create_secret(environment: dict[str, str], name: str, value: str, tag: str) -> str:
    client = boto3.client(
        "secretsmanager",
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        region_name=environment["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's throw-away credentials
    )
    return client.create_secret(
        Name=name, SecretString=value, Tags=[{"Key": tag, "Value": "test"}]
    )["ARN"]


def run_entrypoint(
    environment: dict[str, str], *command: str, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed interpreter and script
        [sys.executable, str(ENTRYPOINT), *command],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def shown_environment(environment: dict[str, str], *names: str) -> tuple[dict, str]:
    result = run_entrypoint(environment, sys.executable, "-c", SHOW_ENV, *names)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_tagged_secrets_reach_command(base_environment: dict[str, str], tag: str) -> None:
    key = f"sk-test-{uuid.uuid4().hex}"
    create_secret(base_environment, f"OPENAI_API_KEY_{tag[-8:]}", key, tag)
    create_secret(base_environment, f"SMTP_PASS_{tag[-8:]}", "smtp-secret", tag)

    seen, stderr = shown_environment(
        {**base_environment, TAG_VAR: tag}, f"OPENAI_API_KEY_{tag[-8:]}", f"SMTP_PASS_{tag[-8:]}"
    )

    assert seen == {f"OPENAI_API_KEY_{tag[-8:]}": key, f"SMTP_PASS_{tag[-8:]}": "smtp-secret"}
    assert "loaded 2 secret(s)" in stderr
    # Names are reported, values never.
    assert key not in stderr
    assert "smtp-secret" not in stderr


def test_secrets_by_arn_reach_command(base_environment: dict[str, str], tag: str) -> None:
    name = f"BUFFER_TOKEN_{tag[-8:]}"
    arn = create_secret(base_environment, name, "buffer-token-value", tag)

    seen, _ = shown_environment({**base_environment, ARNS_VAR: arn}, name)

    assert seen == {name: "buffer-token-value"}


def test_variable_already_set_is_kept(base_environment: dict[str, str], tag: str) -> None:
    name = f"SMTP_USER_{tag[-8:]}"
    create_secret(base_environment, name, "from-secrets-manager", tag)

    seen, stderr = shown_environment(
        {**base_environment, TAG_VAR: tag, name: "from-kubernetes-secret"}, name
    )

    assert seen == {name: "from-kubernetes-secret"}
    assert f"kept the value already set in the environment for: {name}" in stderr


def test_empty_variable_is_filled(base_environment: dict[str, str], tag: str) -> None:
    name = f"SMTP_USER_{tag[-8:]}"
    create_secret(base_environment, name, "from-secrets-manager", tag)

    seen, _ = shown_environment({**base_environment, TAG_VAR: tag, name: ""}, name)

    assert seen == {name: "from-secrets-manager"}


def test_without_selection_nothing_is_fetched(base_environment: dict[str, str]) -> None:
    # An endpoint where nothing listens: any request would fail the start.
    environment = {**base_environment, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}

    seen, stderr = shown_environment(environment, "OPENAI_API_KEY")

    assert seen == {"OPENAI_API_KEY": None}
    assert stderr == ""


def test_unreachable_secrets_manager_stops_start(base_environment: dict[str, str]) -> None:
    environment = {
        **base_environment,
        TAG_VAR: "blog-pipeline",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }

    result = run_entrypoint(environment, sys.executable, "-c", "print('command ran')")

    assert result.returncode == 1
    assert "command ran" not in result.stdout
    assert "Loading secrets by tag 'blog-pipeline' from AWS Secrets Manager failed" in result.stderr


def test_secret_name_must_be_variable_name(base_environment: dict[str, str], tag: str) -> None:
    create_secret(base_environment, f"blog-pipeline/prod/openai-{tag[-8:]}", "value", tag)

    result = run_entrypoint(
        {**base_environment, TAG_VAR: tag}, sys.executable, "-c", "print('command ran')"
    )

    assert result.returncode == 1
    assert "command ran" not in result.stdout
    assert "cannot become an environment variable" in result.stderr


def test_missing_command_is_usage_error(base_environment: dict[str, str]) -> None:
    result = run_entrypoint(base_environment)

    assert result.returncode == 2
    assert "no command given" in result.stderr


def test_daily_job_runs_with_keys_from_secrets_manager(
    base_environment: dict[str, str], tag: str, tmp_path: Path
) -> None:
    """The whole option: keys only in Secrets Manager, the job run by `dagster job execute`."""
    with Sandbox(tmp_path / "outbox") as sandbox:
        environment = {**base_environment, **sandbox.environ(), TAG_VAR: tag}
        keys = {
            "SANDBOX_OPENAI_API_KEY": SANDBOX_OPENAI_KEY,
            "SANDBOX_BUFFER_TOKEN": DEFAULT_TOKEN,
            "SANDBOX_BUFFER_CHANNEL_ID": DEFAULT_CHANNEL_ID,
        }
        for name, value in keys.items():
            create_secret(environment, name, value, tag)
            del environment[name]
        sandbox.openai.api_key = SANDBOX_OPENAI_KEY
        environment["DAGSTER_HOME"] = str(tmp_path)

        dagster = str(Path(sys.executable).with_name("dagster"))
        command = [dagster, "job", "execute", "-m", "blog_pipeline.definitions"]
        # Outside the project folder, so no .env file there can supply a key.
        result = run_entrypoint(
            environment, *command, "-j", "daily_blogpost", timeout=180, cwd=tmp_path
        )

        assert result.returncode == 0, result.stderr[-3000:]
        assert "loaded 3 secret(s)" in result.stderr
        [post] = sandbox.buffer.posts
        assert post["channelId"] == DEFAULT_CHANNEL_ID
        # The fake OpenAI server returns 401 for any key other than the one stored above.
        assert sandbox.openai.completions >= 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
