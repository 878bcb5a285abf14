"""The whole daily_blogpost job in process against the sandbox servers."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from blog_pipeline.dates import PUBLISH_DATE_TAG
from blog_pipeline.definitions import build_definitions
from blog_pipeline.environment import load_settings
from blog_pipeline.sandbox import Sandbox, german_article
from blog_pipeline.sensors import error_message
from blog_pipeline_tests.conftest import run_daily_job

TRICKY_ARTICLE = (
    'Ein "Zitat" mit Backslash \\ und\tTab.\n\n'
    + german_article(330)
    + "\n\nZweiter Absatz: Größe, Übermaß, Äpfel, Öl und ß.\r\n"
    "Emoji am Ende 🚀👩‍💻\n"
)


def _step_failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        event.step_failure_data.error.message
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error
    ]


@pytest.mark.parametrize("api", ["graphql", "v1"])
def test_job_posts_article_byte_identical(
    sandbox: Sandbox, instance: dg.DagsterInstance, api: str
) -> None:
    sandbox.openai.article = TRICKY_ARTICLE

    result = run_daily_job(sandbox, instance, extra_env={"BUFFER_API": api})

    assert result.success
    assert result.output_for_node("blog_article") == TRICKY_ARTICLE
    posts = sandbox.buffer.posts
    assert len(posts) == 1
    assert posts[0]["text"].encode("utf-8") == TRICKY_ARTICLE.encode("utf-8")
    assert result.output_for_node("buffer_post")["post_id"] == posts[0]["id"]


def test_job_materializes_lineage_with_metadata(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    result = run_daily_job(sandbox, instance)

    assert result.success
    keys = [m.asset_key for m in result.asset_materializations_for_node("blog_article")]
    assert keys == [dg.AssetKey("blog_article")]
    article = result.asset_materializations_for_node("blog_article")[0].metadata
    assert article["model"].value == "gpt-4o-mini-sandbox"
    assert article["prompt_tokens"].value > 0
    assert article["completion_tokens"].value > 0
    assert 300 <= article["words"].value <= 500
    assert 2000 < article["characters"].value <= 3000
    post = result.asset_materializations_for_node("buffer_post")[0].metadata
    assert post["post_id"].value == sandbox.buffer.posts[0]["id"]
    assert post["due_at"].value == sandbox.buffer.posts[0]["dueAt"]
    assert result.asset_materializations_for_node("publication_log")

    graph = build_definitions(sandbox.settings()).resolve_asset_graph()
    assert graph.get(dg.AssetKey("buffer_post")).parent_keys == {dg.AssetKey("blog_article")}
    assert graph.get(dg.AssetKey("publication_log")).parent_keys == {dg.AssetKey("buffer_post")}


def test_job_runs_three_steps_in_order(sandbox: Sandbox, instance: dg.DagsterInstance) -> None:
    result = run_daily_job(sandbox, instance)

    started = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert started == ["blog_article", "buffer_post", "publication_log"]


def test_success_log_names_post_and_berlin_date(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    result = run_daily_job(sandbox, instance, tags={PUBLISH_DATE_TAG: "2026-03-29"})

    post_id = sandbox.buffer.posts[0]["id"]
    messages = [
        record.user_message
        for record in instance.all_logs(result.run_id)
        if record.step_key == "publication_log"
    ]
    assert any(
        f"Buffer post {post_id} for 2026-03-29 (Europe/Berlin)" in message for message in messages
    )
    assert any("SANDBOX: nothing was published" in message for message in messages)


def test_run_config_sets_topic_language_and_length(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    config = {"topic": "Observability mit OpenTelemetry", "target_words": 150}

    result = run_daily_job(
        sandbox, instance, run_config={"ops": {"blog_article": {"config": config}}}
    )

    assert result.success
    prompt = json.loads(sandbox.openai.requests[-1]["body"])["messages"][0]["content"]
    assert "Observability mit OpenTelemetry" in prompt
    assert "etwa 150 Wörtern" in prompt
    assert "Deutsch" in prompt


def test_invalid_language_fails_with_choices(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    config = {"ops": {"blog_article": {"config": {"language": "klingon"}}}}

    result = run_daily_job(sandbox, instance, run_config=config)

    assert not result.success
    [message] = _step_failure_messages(result)
    assert "language 'klingon' is not supported" in message
    assert "de, en" in message
    assert sandbox.openai.requests == []
    assert sandbox.buffer.posts == []


def test_missing_secret_fails_run_naming_variable(
    sandbox: Sandbox, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDBOX_BUFFER_TOKEN")

    result = run_daily_job(sandbox, instance)

    assert not result.success
    failure = result.get_run_failure_event()
    assert failure is not None
    text = error_message(failure.event_specific_data.error)
    assert text.startswith("ConfigurationError: ")
    assert "SANDBOX_BUFFER_TOKEN" in text
    assert "is not set" in text
    assert ".env" in text
    assert sandbox.buffer.posts == []


def test_openai_failure_publishes_nothing(sandbox: Sandbox, instance: dg.DagsterInstance) -> None:
    sandbox.openai.api_key = "sk-another-key"

    result = run_daily_job(sandbox, instance)

    assert not result.success
    [message] = _step_failure_messages(result)
    assert "HTTP 401" in message
    assert sandbox.buffer.posts == []


def test_same_text_on_next_day_is_posted_again(
    sandbox: Sandbox, instance: dg.DagsterInstance
) -> None:
    first = run_daily_job(sandbox, instance, tags={PUBLISH_DATE_TAG: "2026-12-04"})
    second = run_daily_job(sandbox, instance, tags={PUBLISH_DATE_TAG: "2026-12-05"})

    assert first.success
    assert second.success
    assert len(sandbox.buffer.posts) == 2
    assert second.output_for_node("buffer_post")["outcome"] == "queued"


def _dev_environment(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    environ = {
        "BLOG_PIPELINE_ENV": "dev",
        "OPENAI_BASE_URL": sandbox.openai.base_url,
        "BUFFER_BASE_URL": sandbox.buffer.url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sandbox.smtp.port),
        "SMTP_SECURITY": "none",
        "ALERT_EMAIL_FROM": "pipeline@example.com",
        "ALERT_EMAIL_TO": "ops@example.com",
    }
    for name, value in {
        "OPENAI_API_KEY": "sk-dev-test-key",
        "BUFFER_TOKEN": "sandbox-buffer-token",
        "BUFFER_CHANNEL_ID_DEV": "sandbox-linkedin-channel",
    }.items():
        monkeypatch.setenv(name, value)
    return environ


def test_dev_refuses_temporary_instance(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = _dev_environment(sandbox, monkeypatch)
    job = build_definitions(load_settings(environ)).resolve_job_def("daily_blogpost")

    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    assert not result.success
    [message] = _step_failure_messages(result)
    assert "DAGSTER_HOME is not set" in message
    assert sandbox.buffer.posts == []


def test_dev_publishes_with_persistent_instance(
    sandbox: Sandbox, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = _dev_environment(sandbox, monkeypatch)
    job = build_definitions(load_settings(environ)).resolve_job_def("daily_blogpost")

    result = job.execute_in_process(instance=instance, raise_on_error=False)

    assert result.success
    assert len(sandbox.buffer.posts) == 1
