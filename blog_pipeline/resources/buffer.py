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

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, PrivateAttr

from blog_pipeline.errors import BufferError, ConfigurationError
from blog_pipeline.resources.openai_chat import parse_retry_after
from blog_pipeline.resources.retrying import RetryingResource
from blog_pipeline.retry import call_with_retries
from blog_pipeline.secrets import read_secret, redact

if TYPE_CHECKING:
    import httpx
from blog_pipeline.types import BufferAPI

GRAPHQL_URL = "https://api.buffer.com"
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
V1_URL = "https://api.bufferapp.com/1"
# Seconds for one HTTP request.
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_TOTAL_TIMEOUT_SECONDS = 300.0
# Posts read per page when looking for a post that already exists.
POSTS_PAGE_SIZE = 50

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

# NOTE: Buffer documents the posts query as cursor-paginated and filterable by channel and status
# but does not publish its full input type; this selection is the part the sandbox models.
POSTS_QUERY = """
query ChannelPosts($input: PostsInput, $first: Int, $after: String) {
  posts(input: $input, first: $first, after: $after) {
    edges { node { id text dueAt status channelId } }
    pageInfo { hasNextPage endCursor }
  }
}
""".strip()


def text_sha256(text: str) -> str:
    """Return the SHA-256 hex digest of ``text`` in UTF-8, the key for recognising a post."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class QueuedPost:
    """A post that Buffer confirmed with an id."""

    post_id: str
    text: str
    due_at: str | None
    channel_id: str
    api: str


class BufferResource(RetryingResource):
    """Buffer client that queues one text on one channel (a connected LinkedIn profile)."""

    api: BufferAPI = Field(
        default="graphql",
        description="graphql: current API with an API key; v1: legacy REST with an OAuth token.",
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
    total_timeout_seconds: float = Field(
        default=DEFAULT_TOTAL_TIMEOUT_SECONDS,
        gt=0,
        description="Time budget of one operation with all its retries.",
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
                self.channel_id_env_var, purpose="Buffer channel (profile) id", confidential=False
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

    def queue_post(self, text: str, *, logger: logging.Logger | None = None) -> QueuedPost:
        """Add ``text`` to the channel's queue and return the confirmed post.

        A retry after a response that never arrived first looks for a post with the same text,
        because Buffer may have created it. A found post is returned instead of a second one.
        Raises BufferError with Buffer's own message unless Buffer returns a post id.
        """
        self._load_secrets()
        attempts = 0

        def attempt(seconds_left: float) -> QueuedPost:
            nonlocal attempts
            attempts += 1
            timeout = min(self.timeout_seconds, seconds_left)
            if attempts > 1:
                existing = self._find_post({text_sha256(text)}, timeout)
                if existing is not None:
                    if logger:
                        logger.warning(
                            "Buffer already has post %s with this text from an earlier attempt; "
                            "not creating another.",
                            existing.post_id,
                        )
                    return existing
            if self.api == "graphql":
                return self._queue_graphql(text, timeout)
            return self._queue_v1(text, timeout)

        return call_with_retries(
            attempt,
            policy=self.retry_policy,
            description=f"Buffer createPost on channel {self._channel_id}",
            logger=logger,
        )

    def find_post(
        self, text_hashes: Collection[str], *, logger: logging.Logger | None = None
    ) -> QueuedPost | None:
        """Return a post of the channel whose text has one of ``text_hashes`` (SHA-256), if any."""
        self._load_secrets()
        if not text_hashes:
            return None
        return call_with_retries(
            lambda seconds_left: self._find_post(
                text_hashes, min(self.timeout_seconds, seconds_left)
            ),
            policy=self.retry_policy,
            description=f"Buffer posts query on channel {self._channel_id}",
            logger=logger,
        )

    def _find_post(self, text_hashes: Collection[str], timeout: float) -> QueuedPost | None:
        for post in self._channel_posts(timeout):
            if text_sha256(post.text) in text_hashes:
                return post
        return None

    def _channel_posts(self, timeout: float) -> list[QueuedPost]:
        if self.api == "v1":
            url = f"{self.url}/profiles/{self._channel_id}/updates/pending.json"
            response = self._send("GET", url, timeout)
            body = self._json_body(response)
            if response.status_code != 200 or not isinstance(body, dict):
                raise self._fail(
                    f"Buffer v1 returned HTTP {response.status_code} for the pending updates of "
                    f"profile {self._channel_id}: {_body_excerpt(response)}",
                    response,
                )
            return [
                QueuedPost(str(u["id"]), u.get("text", ""), None, self.channel_id, "v1")
                for u in body.get("updates") or []
                if isinstance(u, dict) and u.get("id")
            ]

        posts: list[QueuedPost] = []
        after: str | None = None
        while True:
            variables = {
                "input": {"filter": {"channelIds": [self._channel_id]}},
                "first": POSTS_PAGE_SIZE,
                "after": after,
            }
            response = self._send(
                "POST", self.url, timeout, json={"query": POSTS_QUERY, "variables": variables}
            )
            data = self._graphql_data(response, "posts")
            result = data.get("posts") if isinstance(data, dict) else None
            if not isinstance(result, dict):
                raise self._fail(
                    f"Buffer returned no posts result: {_body_excerpt(response)}", response
                )
            for edge in result.get("edges") or []:
                node = edge.get("node") if isinstance(edge, dict) else None
                if isinstance(node, dict) and node.get("id"):
                    posts.append(
                        QueuedPost(
                            str(node["id"]),
                            node.get("text") or "",
                            node.get("dueAt"),
                            self.channel_id,
                            "graphql",
                        )
                    )
            page = result.get("pageInfo") or {}
            after = page.get("endCursor")
            if not page.get("hasNextPage") or not after:
                return posts

    def _client(self, timeout: float) -> httpx.Client:
        # Imported where used: httpx adds about 0.1 s to every load of the code location.
        import httpx

        return httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {self._token}", "User-Agent": "blog-pipeline"},
            trust_env=False,
        )

    def _send(self, method: str, url: str, timeout: float, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            with self._client(timeout) as client:
                return client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise BufferError(
                f"Buffer request to {url} timed out after {timeout:.0f} s.",
                retryable=True,
            ) from None
        except httpx.HTTPError as exc:
            detail = self._redact(str(exc) or type(exc).__name__).rstrip(".")
            # Connection and network errors can heal. A request the client cannot even build
            # (a bad URL, an illegal header value) fails the same way on every attempt.
            retryable = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
            raise BufferError(
                f"Buffer request to {url} failed: {detail}.", retryable=retryable
            ) from None

    def _redact(self, text: str) -> str:
        return redact(text, [self._token])

    def _fail(self, message: str, response: httpx.Response | None = None) -> BufferError:
        """Build the error for ``response``: HTTP 429 and 5xx are retryable, with the larger of
        the Retry-After header and the body's ``extensions.retryAfter`` as the requested wait."""
        status = response.status_code if response is not None else None
        retryable = status is not None and (status == 429 or status >= 500)
        retry_after = None
        if response is not None and retryable:
            waits = [parse_retry_after(response.headers), _body_retry_after(response)]
            known = [w for w in waits if w is not None]
            retry_after = max(known) if known else None
        return BufferError(
            self._redact(message), status=status, retryable=retryable, retry_after=retry_after
        )

    def _graphql_data(self, response: httpx.Response, operation: str) -> Any:
        """Return ``data`` of a GraphQL response, or raise for an HTTP error or ``errors``."""
        body = self._json_body(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            raise self._fail(
                f"Buffer rejected {operation} with HTTP {response.status_code}: "
                f"{_describe_graphql_errors(errors)}",
                response,
            )
        if response.status_code != 200:
            raise self._fail(
                f"Buffer returned HTTP {response.status_code} to {operation}: "
                f"{_body_excerpt(response)}",
                response,
            )
        return body.get("data") if isinstance(body, dict) else None

    def _queue_graphql(self, text: str, timeout: float) -> QueuedPost:
        variables = {
            "input": {
                "text": text,
                "channelId": self._channel_id,
                "schedulingType": "automatic",
                "mode": "addToQueue",
            }
        }
        response = self._send(
            "POST", self.url, timeout, json={"query": CREATE_POST_MUTATION, "variables": variables}
        )
        data = self._graphql_data(response, "createPost")
        result = data.get("createPost") if isinstance(data, dict) else None
        if not isinstance(result, dict):
            raise self._fail(
                f"Buffer returned no createPost result (HTTP 200): {_body_excerpt(response)}",
                response,
            )
        post = result.get("post")
        if not isinstance(post, dict) or not post.get("id"):
            typename = result.get("__typename", "unknown type")
            message = result.get("message") or "no message"
            raise self._fail(
                f"Buffer did not create the post: createPost returned {typename}: {message}",
                response,
            )
        return QueuedPost(
            post_id=str(post["id"]),
            text=post.get("text", text),
            due_at=post.get("dueAt"),
            channel_id=self.channel_id,
            api="graphql",
        )

    def _queue_v1(self, text: str, timeout: float) -> QueuedPost:
        url = f"{self.url}/updates/create.json"
        form = {"text": text, "profile_ids[]": self._channel_id}
        response = self._send("POST", url, timeout, data=form)
        body = self._json_body(response)

        if response.status_code != 200 or not isinstance(body, dict) or not body.get("success"):
            message = body.get("message") if isinstance(body, dict) else None
            code = body.get("code") if isinstance(body, dict) else None
            detail = f"{message} (code {code})" if message and code else message
            raise self._fail(
                f"Buffer v1 rejected the update with HTTP {response.status_code}: "
                f"{detail or _body_excerpt(response)}",
                response,
            )
        updates = body.get("updates") or []
        update = updates[0] if updates and isinstance(updates[0], dict) else {}
        if not update.get("id"):
            raise self._fail(
                f"Buffer v1 reported success but returned no update id: {_body_excerpt(response)}",
                response,
            )
        return QueuedPost(
            post_id=str(update["id"]),
            text=update.get("text", text),
            due_at=_v1_due_at(update.get("due_at")),
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
                    response,
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


def _v1_due_at(value: object) -> str | None:
    """Return v1's ``due_at`` (Unix seconds) as an ISO-8601 UTC timestamp like GraphQL's dueAt."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromtimestamp(float(str(value)), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return str(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _body_retry_after(response: httpx.Response) -> float | None:
    """Return ``errors[0].extensions.retryAfter`` of a rate-limited GraphQL body, in seconds."""
    try:
        body = response.json()
        value = body["errors"][0]["extensions"]["retryAfter"]
        return float(value)
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _body_excerpt(response: httpx.Response, limit: int = 300) -> str:
    """Return the start of the body on one line; for an HTML error page, its title."""
    if "html" in response.headers.get("content-type", ""):
        title = _HTML_TITLE.search(response.text)
        if title:
            return f"HTML page titled {' '.join(title.group(1).split())!r}"
    text = " ".join(response.text.split())
    if not text:
        return f"empty body ({response.reason_phrase})"
    return text[:limit] + ("..." if len(text) > limit else "")
