"""Each resource against the sandbox servers over real HTTP and SMTP on loopback."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from blog_pipeline.errors import BufferError, ConfigurationError, OpenAIError
from blog_pipeline.resources import BufferResource, OpenAIResource, SMTPResource
from blog_pipeline.sandbox import Fault, Sandbox
from blog_pipeline.sandbox.buffer_server import DEFAULT_CHANNEL_ID

FAKE_OPENAI_KEY = "sk-test-planted-openai-key-4242"
FAKE_BUFFER_TOKEN = "buffer-test-planted-token-4242"


def _openai(sandbox: Sandbox, **overrides) -> OpenAIResource:
    resource = OpenAIResource(
        api_key_env_var="SANDBOX_OPENAI_API_KEY", base_url=sandbox.openai.base_url, **overrides
    )
    with dg.build_init_resource_context() as init_context:
        resource.setup_for_execution(init_context)
    return resource


def _buffer(sandbox: Sandbox, api: str = "graphql", **overrides) -> BufferResource:
    base = sandbox.buffer.url + ("/1" if api == "v1" else "")
    resource = BufferResource(
        api=api,
        base_url=base,
        token_env_var="SANDBOX_BUFFER_TOKEN",
        channel_id_env_var="SANDBOX_BUFFER_CHANNEL_ID",
        **overrides,
    )
    with dg.build_init_resource_context() as init_context:
        resource.setup_for_execution(init_context)
    return resource


def test_openai_completion_returns_text_and_usage(sandbox: Sandbox) -> None:
    completion = _openai(sandbox).complete("Schreibe etwa 120 Wörter über Everything-as-Code.")

    assert completion.finish_reason == "stop"
    assert "Everything-as-Code" in completion.text
    assert 120 <= len(completion.text.split()) < 200
    assert completion.prompt_tokens > 0
    assert completion.completion_tokens > 0
    request = sandbox.openai.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-sandbox-not-a-real-key"
    assert json.loads(request["body"])["model"] == "gpt-4o-mini"


def test_openai_http_error_names_status_and_hides_key(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_OPENAI_API_KEY", FAKE_OPENAI_KEY)
    sandbox.openai.api_key = "sk-the-server-expects-another-key"

    with pytest.raises(OpenAIError) as caught:
        _openai(sandbox, max_retries=0).complete("Hallo")

    message = str(caught.value)
    assert "HTTP 401" in message
    assert "invalid_api_key" in message
    assert "Incorrect API key provided" in message
    assert FAKE_OPENAI_KEY not in message
    assert FAKE_OPENAI_KEY[-4:] not in message
    assert caught.value.status == 401


def test_openai_server_error_is_reported_with_body(sandbox: Sandbox) -> None:
    sandbox.openai.inject(
        Fault(status=503, body={"error": {"message": "The engine is currently overloaded"}})
    )

    with pytest.raises(OpenAIError, match="HTTP 503: The engine is currently overloaded"):
        _openai(sandbox, max_retries=0).complete("Hallo")


def test_openai_missing_key_names_variable(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDBOX_OPENAI_API_KEY")

    with pytest.raises(ConfigurationError, match="SANDBOX_OPENAI_API_KEY .* is not set"):
        _openai(sandbox)


def test_openai_empty_key_names_variable(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_OPENAI_API_KEY", "  ")

    with pytest.raises(ConfigurationError, match="SANDBOX_OPENAI_API_KEY .* is empty"):
        _openai(sandbox)


@pytest.mark.parametrize("api", ["graphql", "v1"])
def test_buffer_queues_post_with_id(sandbox: Sandbox, api: str) -> None:
    post = _buffer(sandbox, api).queue_post("Erster Beitrag")

    assert post.post_id
    assert post.api == api
    assert post.due_at
    stored = sandbox.buffer.posts
    assert [p["id"] for p in stored] == [post.post_id]
    assert stored[0]["text"] == "Erster Beitrag"
    assert stored[0]["channelId"] == DEFAULT_CHANNEL_ID


def test_buffer_graphql_sends_text_as_variable(sandbox: Sandbox) -> None:
    text = 'Zitat: "a\\b"\tTab\nZeile'
    _buffer(sandbox).queue_post(text)

    body = json.loads(sandbox.buffer.requests[-1]["body"])
    assert body["variables"]["input"]["text"] == text
    assert text not in body["query"]
    assert body["variables"]["input"]["mode"] == "addToQueue"


def test_buffer_v1_sends_form_and_token_in_header(sandbox: Sandbox) -> None:
    _buffer(sandbox, "v1").queue_post("Hallo")

    request = sandbox.buffer.requests[-1]
    assert request["path"] == "/1/updates/create.json"
    assert request["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    assert "access_token" not in request["path"]
    assert request["headers"]["authorization"] == "Bearer sandbox-buffer-token"


def test_buffer_graphql_unauthorized_error(sandbox: Sandbox, monkeypatch) -> None:
    monkeypatch.setenv("SANDBOX_BUFFER_TOKEN", FAKE_BUFFER_TOKEN)

    with pytest.raises(BufferError) as caught:
        _buffer(sandbox).queue_post("Hallo")

    message = str(caught.value)
    assert "UNAUTHORIZED" in message
    assert "HTTP 200" in message
    assert FAKE_BUFFER_TOKEN not in message
    assert sandbox.buffer.posts == []


def test_buffer_mutation_error_carries_message(sandbox: Sandbox, monkeypatch) -> None:
    monkeypatch.setenv("SANDBOX_BUFFER_CHANNEL_ID", "no-such-channel")

    with pytest.raises(BufferError, match="MutationError: Channel no-such-channel not found"):
        _buffer(sandbox).queue_post("Hallo")


def test_buffer_error_type_without_post_is_failure(sandbox: Sandbox) -> None:
    body = {
        "data": {
            "createPost": {"__typename": "LimitReachedError", "message": "Daily limit reached"}
        }
    }
    sandbox.buffer.inject(Fault(status=200, body=body))

    with pytest.raises(BufferError, match="LimitReachedError: Daily limit reached"):
        _buffer(sandbox).queue_post("Hallo")


def test_buffer_html_502_is_reported(sandbox: Sandbox) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    sandbox.buffer.inject(Fault(status=502, body=page))

    with pytest.raises(BufferError, match="HTTP 502") as caught:
        _buffer(sandbox, max_retries=0).queue_post("Hallo")

    assert "HTML page titled '502 Bad Gateway'" in str(caught.value)
    assert "<html>" not in str(caught.value)
    assert caught.value.status == 502


def test_buffer_v1_error_carries_message(sandbox: Sandbox, monkeypatch) -> None:
    monkeypatch.setenv("SANDBOX_BUFFER_CHANNEL_ID", "unknown-profile")

    with pytest.raises(BufferError, match="HTTP 400: Profile unknown-profile not found"):
        _buffer(sandbox, "v1").queue_post("Hallo")


def test_buffer_v1_unauthorized_hides_token(sandbox: Sandbox, monkeypatch) -> None:
    monkeypatch.setenv("SANDBOX_BUFFER_TOKEN", FAKE_BUFFER_TOKEN)

    with pytest.raises(BufferError, match="HTTP 401") as caught:
        _buffer(sandbox, "v1").queue_post("Hallo")

    assert FAKE_BUFFER_TOKEN not in str(caught.value)


def test_buffer_dropped_connection_fails_without_retries(sandbox: Sandbox) -> None:
    sandbox.buffer.inject(Fault(drop=True))

    with pytest.raises(BufferError, match="Server disconnected") as caught:
        _buffer(sandbox, max_retries=0).queue_post("Hallo")

    assert "Gave up after 1 attempts" in str(caught.value)
    assert sandbox.buffer.posts == []


@pytest.mark.parametrize("api", ["graphql", "v1"])
def test_buffer_lost_answer_is_not_posted_twice(sandbox: Sandbox, api: str) -> None:
    sandbox.buffer.inject(Fault(drop=True, after_handling=True))

    post = _buffer(sandbox, api).queue_post("Nur einmal, bitte")

    assert len(sandbox.buffer.posts) == 1
    assert post.post_id == sandbox.buffer.posts[0]["id"]


def _smtp(sandbox: Sandbox, **overrides) -> SMTPResource:
    settings = {
        "host": "127.0.0.1",
        "port": sandbox.smtp.port,
        "security": "none",
        "username_env_var": None,
        "password_env_var": None,
        "sender": "pipeline@example.com",
        "recipients": ["ops@example.com", "team@example.com"],
        "timeout_seconds": 5,
        **overrides,
    }
    return SMTPResource(**settings)


def test_smtp_delivers_to_every_recipient(sandbox: Sandbox) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Prüfung ✓"
    message.set_content("Grüße 🚀")

    _smtp(sandbox).send(message)

    [received] = sandbox.smtp.messages()
    assert received["Subject"] == "Prüfung ✓"
    assert received["From"] == "pipeline@example.com"
    assert received["To"] == "ops@example.com, team@example.com"
    assert received.get_content().strip() == "Grüße 🚀"


def test_smtp_rejection_carries_server_reply(sandbox: Sandbox) -> None:
    from email.message import EmailMessage

    from blog_pipeline.errors import SMTPDeliveryError

    sandbox.smtp.reject_with = "554 Transaction failed: spam suspected"
    message = EmailMessage()
    message.set_content("x")

    with pytest.raises(
        SMTPDeliveryError, match="rejected the message with 554: Transaction failed: spam suspected"
    ):
        _smtp(sandbox).send(message)


def test_smtp_rejects_bad_recipient_list() -> None:
    with pytest.raises(Exception, match="not a single e-mail address"):
        SMTPResource(host="h", sender="a@example.com", recipients=["a@example.com, b@example.com"])


@pytest.mark.parametrize(
    ("value", "kind"),
    [("LEAK-first\nLEAK-second", "a line break"), ("LEAK-first LEAK-second", "a space")],
)
def test_token_with_inner_break_is_rejected(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, value: str, kind: str
) -> None:
    monkeypatch.setenv("SANDBOX_BUFFER_TOKEN", value)

    with pytest.raises(ConfigurationError) as caught:
        _buffer(sandbox)

    message = str(caught.value)
    assert f"SANDBOX_BUFFER_TOKEN (Buffer API key or token) contains {kind}" in message
    assert "LEAK" not in message
    assert sandbox.buffer.requests == []
