"""Secrets stay out of the UI's resource view, resource reprs and request URLs."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import PyProjectFileTarget

from blog_pipeline.resources import BufferResource, OpenAIResource
from blog_pipeline.sandbox import Sandbox
from blog_pipeline.secrets import REDACTED, read_secret, redact

PROJECT = Path(__file__).resolve().parents[1]
PLANTED = {
    "OPENAI_API_KEY": "sk-planted-ui-Op3nAI-2b7e41",
    "BUFFER_TOKEN": "planted-ui-Buff3r-9c0d13",
    "SMTP_PASS": "planted-ui-smtp-pass-4a5f",
}


def test_resource_view_shows_variable_names_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOG_PIPELINE_ENV", "prod")
    monkeypatch.setenv("SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("ALERT_EMAIL_FROM", "pipeline@example.com")
    monkeypatch.setenv("ALERT_EMAIL_TO", "ops@example.com")
    monkeypatch.setenv("BLOG_PIPELINE_IO_MANAGER", "filesystem")
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)

    with dg.instance_for_test() as instance:
        target = PyProjectFileTarget(str(PROJECT / "pyproject.toml"))
        with WorkspaceProcessContext(instance, target) as process_context:
            context = process_context.create_request_context()
            [repository] = context.get_code_location("blog_pipeline").get_repositories().values()
            resources = {r.name: r for r in repository.get_resources()}

    shown = json.dumps({name: r.configured_values for name, r in resources.items()})
    for secret in PLANTED.values():
        assert secret not in shown
    assert json.loads(resources["openai"].configured_values["api_key_env_var"]) == "OPENAI_API_KEY"
    assert json.loads(resources["buffer"].configured_values["token_env_var"]) == "BUFFER_TOKEN"


def test_resource_repr_after_setup_hides_secret(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_OPENAI_API_KEY", PLANTED["OPENAI_API_KEY"])
    monkeypatch.setenv("SANDBOX_BUFFER_TOKEN", PLANTED["BUFFER_TOKEN"])
    openai = OpenAIResource(api_key_env_var="SANDBOX_OPENAI_API_KEY")
    buffer = BufferResource(
        token_env_var="SANDBOX_BUFFER_TOKEN", channel_id_env_var="SANDBOX_BUFFER_CHANNEL_ID"
    )

    for resource in (openai, buffer):
        with dg.build_init_resource_context() as init_context:
            resource.setup_for_execution(init_context)
        assert PLANTED["OPENAI_API_KEY"] not in repr(resource)
        assert PLANTED["BUFFER_TOKEN"] not in repr(resource)
        assert PLANTED["OPENAI_API_KEY"] not in str(resource.model_dump())


@pytest.mark.parametrize(
    "text",
    [
        "Incorrect API key provided: sk-proj-********************abcd.",
        "Incorrect API key provided: sk-abc***wxyz.",
    ],
)
def test_redact_removes_key_shaped_tokens(text: str) -> None:
    cleaned = redact(text, [])

    assert "sk-" not in cleaned
    assert REDACTED in cleaned


def test_redact_removes_exact_secret() -> None:
    assert redact("token planted-x-123 rejected", ["planted-x-123"]) == "token [redacted] rejected"


def test_redact_covers_secrets_read_by_other_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_SERVICE_KEY", "planted-cross-service-7d1e")
    read_secret("OTHER_SERVICE_KEY", purpose="test key")

    cleaned = redact("upstream said: planted-cross-service-7d1e is wrong", [])

    assert cleaned == "upstream said: [redacted] is wrong"
