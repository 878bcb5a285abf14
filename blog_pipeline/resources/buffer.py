"""Buffer: queue a post on a channel through the GraphQL API or the legacy v1 REST API.

GraphQL (default): one endpoint, ``POST https://api.buffer.com``, JSON ``{"query", "variables"}``
and ``Authorization: Bearer <API key>``. Errors arrive with HTTP 200 as a top-level ``errors``
array or as the error member of the ``createPost`` result union, so a post counts as created only
when a post id comes back.

v1 (legacy OAuth tokens): ``POST https://api.bufferapp.com/1/updates/create.json``, form-encoded,
errors as HTTP 4xx with ``{"success": false, "code", "message"}``. The token travels in the
Authorization header, never in the URL, where it would end up in access logs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import dagster as dg
import httpx
from pydantic import Field, PrivateAttr

from blog_pipeline.errors import BufferError, ConfigurationError
from blog_pipeline.secrets import read_secret, redact

GRAPHQL_URL = "https://api.buffer.com"
V1_URL = "https://api.bufferapp.com/1"
# (connect, read) seconds; Buffer answers createPost in well under a second.
DEFAULT_TIMEOUT_SECONDS = 30.0

logging.getLogger("httpx").setLevel(logging.WARNING)

# The text travels as the $input variable, never spliced into the document: quotes, backslashes
# and newlines in generated text would break the query.
CREATE_POST_MUTATION = """
mutation CreatePost($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on PostActionSuccess {
      post { id text dueAt }
    }
    ... on MutationError {
      message
    }
  }
}
""".strip()


@dataclass(frozen=True)
class QueuedPost:
    """A post that Buffer confirmed with an id."""

    post_id: str
    text: str
    due_at: str | None
    channel_id: str
    api: str


class BufferResource(dg.ConfigurableResource):
    """Buffer client that queues one text on one channel (a connected LinkedIn profile)."""

    api: Literal["graphql", "v1"] = Field(
        default="graphql",
        description="graphql: the current API with an API key; v1: legacy REST with an OAuth token.",
    )
    token_env_var: str = Field(
        default="BUFFER_TOKEN",
        description="Name of the environment variable that contains the API key or v1 token.",
    )
    channel_id_env_var: str = Field(
        default="BUFFER_CHANNEL_ID",
        description="Name of the environment variable that contains the channel (profile) id.",
    )
    base_url: str | None = Field(
        default=None,
        description="API URL override; unset means https://api.buffer.com or "
        "https://api.bufferapp.com/1 for v1.",
    )
    timeout_seconds: float = Field(
        default=DEFAULT_TIMEOUT_SECONDS, gt=0, description="Timeout of one HTTP request."
    )

    _token: str | None = PrivateAttr(default=None)
    _channel_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._load_secrets()
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"Buffer base URL {self.base_url!r} is invalid: it must start with http:// or "
                f"https://, for example {GRAPHQL_URL}."
            )

    def _load_secrets(self) -> None:
        if self._token is None:
            self._token = read_secret(self.token_env_var, purpose="Buffer API key or token")
        if self._channel_id is None:
            self._channel_id = read_secret(
                self.channel_id_env_var, purpose="Buffer channel (profile) id"
            )

    @property
    def channel_id(self) -> str:
        self._load_secrets()
        assert self._channel_id is not None
        return self._channel_id

    @property
    def url(self) -> str:
        default = GRAPHQL_URL if self.api == "graphql" else V1_URL
        return (self.base_url or default).rstrip("/")

    def queue_post(self, text: str) -> QueuedPost:
        """Add ``text`` to the channel's queue and return the confirmed post.

        Raises BufferError with Buffer's own message unless Buffer returns a post id.
        """
        self._load_secrets()
        if self.api == "graphql":
            return self._queue_graphql(text)
        return self._queue_v1(text)

    def _client(self) -> httpx.Client:
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout_seconds),
            headers={"Authorization": f"Bearer {self._token}", "User-Agent": "blog-pipeline"},
            trust_env=False,
        )

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            with self._client() as client:
                return client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise BufferError(
                f"Buffer request to {url} timed out after {self.timeout_seconds:g} s.",
                retryable=True,
            ) from None
        except httpx.HTTPError as exc:
            raise BufferError(
                f"Buffer request to {url} failed: {self._redact(str(exc) or type(exc).__name__)}.",
                retryable=True,
            ) from None

    def _redact(self, text: str) -> str:
        return redact(text, [self._token])

    def _fail(self, message: str, *, status: int | None = None) -> BufferError:
        retryable = status is not None and (status == 429 or status >= 500)
        return BufferError(self._redact(message), status=status, retryable=retryable)

    def _queue_graphql(self, text: str) -> QueuedPost:
        variables = {
            "input": {
                "text": text,
                "channelId": self._channel_id,
                "schedulingType": "automatic",
                "mode": "addToQueue",
            }
        }
        response = self._send(
            "POST", self.url, json={"query": CREATE_POST_MUTATION, "variables": variables}
        )
        body = self._json_body(response)

        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            raise self._fail(
                f"Buffer rejected createPost with HTTP {response.status_code}: "
                f"{_describe_graphql_errors(errors)}",
                status=response.status_code,
            )
        if response.status_code != 200:
            raise self._fail(
                f"Buffer returned HTTP {response.status_code} to createPost: "
                f"{_body_excerpt(response)}",
                status=response.status_code,
            )

        data = body.get("data") if isinstance(body, dict) else None
        result = data.get("createPost") if isinstance(data, dict) else None
        if not isinstance(result, dict):
            raise self._fail(
                f"Buffer returned no createPost result (HTTP 200): {_body_excerpt(response)}",
                status=response.status_code,
            )
        post = result.get("post")
        if not isinstance(post, dict) or not post.get("id"):
            typename = result.get("__typename", "unknown type")
            message = result.get("message") or "no message"
            raise self._fail(
                f"Buffer did not create the post: createPost returned {typename}: {message}",
                status=response.status_code,
            )
        return QueuedPost(
            post_id=str(post["id"]),
            text=post.get("text", text),
            due_at=post.get("dueAt"),
            channel_id=self.channel_id,
            api="graphql",
        )

    def _queue_v1(self, text: str) -> QueuedPost:
        url = f"{self.url}/updates/create.json"
        form = {"text": text, "profile_ids[]": self._channel_id}
        response = self._send("POST", url, data=form)
        body = self._json_body(response)

        if response.status_code != 200 or not isinstance(body, dict) or not body.get("success"):
            message = body.get("message") if isinstance(body, dict) else None
            code = body.get("code") if isinstance(body, dict) else None
            detail = f"{message} (code {code})" if message and code else message
            raise self._fail(
                f"Buffer v1 rejected the update with HTTP {response.status_code}: "
                f"{detail or _body_excerpt(response)}",
                status=response.status_code,
            )
        updates = body.get("updates") or []
        update = updates[0] if updates and isinstance(updates[0], dict) else {}
        if not update.get("id"):
            raise self._fail(
                f"Buffer v1 reported success but returned no update id: {_body_excerpt(response)}",
                status=response.status_code,
            )
        due_at = update.get("due_at")
        return QueuedPost(
            post_id=str(update["id"]),
            text=update.get("text", text),
            due_at=str(due_at) if due_at is not None else None,
            channel_id=self.channel_id,
            api="v1",
        )

    def _json_body(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            if response.status_code == 200:
                raise self._fail(
                    f"Buffer returned HTTP 200 with a body that is not JSON: "
                    f"{_body_excerpt(response)}",
                    status=200,
                ) from None
            return None


def _describe_graphql_errors(errors: Any) -> str:
    if not isinstance(errors, list):
        return str(errors)[:500]
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            parts.append(str(error))
            continue
        message = error.get("message", "no message")
        extensions = error.get("extensions") or {}
        code = extensions.get("code") if isinstance(extensions, dict) else None
        parts.append(f"{code}: {message}" if code else str(message))
    return "; ".join(parts)


def _body_excerpt(response: httpx.Response, limit: int = 300) -> str:
    text = " ".join(response.text.split())
    if not text:
        return f"empty body ({response.reason_phrase})"
    return text[:limit] + ("..." if len(text) > limit else "")
