"""A local server that speaks Buffer's GraphQL API and its legacy v1 REST API.

GraphQL requests are parsed, validated and executed by graphql-core against a schema that models
the part of Buffer's API the pipeline uses, so a malformed document or a selection of an unknown
field fails here the way it fails at Buffer. Errors come back as Buffer sends them: HTTP 200 with
a top-level ``errors`` array, or the ``MutationError`` member of the ``createPost`` result.

NOTE: The schema is written from Buffer's public guides (createPost, PostActionSuccess,
MutationError, posts); type names of ids and the exact shape of the posts query are not
published in full, so the client must not rely on more than it selects here.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import graphql

from blog_pipeline.sandbox._http import Reply, SandboxHTTPServer

DEFAULT_TOKEN = "sandbox-buffer-token"  # noqa: S105 - the sandbox's own fake credential
DEFAULT_CHANNEL_ID = "sandbox-linkedin-channel"
# Hour (UTC) of the one posting slot per day in each sandbox channel's schedule.
QUEUE_SLOT_HOUR_UTC = 9

SCHEMA_SDL = """
scalar DateTime

enum SchedulingType { automatic notification }
enum ShareMode { addToQueue shareNow shareNext customScheduled }
enum PostStatus { draft scheduled sending sent error }

input CreatePostInput {
  text: String!
  channelId: String!
  schedulingType: SchedulingType!
  mode: ShareMode!
  dueAt: DateTime
}

type Post {
  id: ID!
  text: String!
  channelId: String!
  dueAt: DateTime
  status: PostStatus!
  createdAt: DateTime!
}

type PostActionSuccess { post: Post! }
type MutationError { message: String! }
union PostActionPayload = PostActionSuccess | MutationError

input PostsFilterInput { channelIds: [String!], status: [PostStatus!] }
input PostsInput { organizationId: String, filter: PostsFilterInput }
type PostEdge { node: Post!, cursor: String! }
type PageInfo { hasNextPage: Boolean!, endCursor: String }
type PostsResults { edges: [PostEdge!]!, pageInfo: PageInfo! }

type Query {
  posts(input: PostsInput, first: Int, after: String): PostsResults!
}

type Mutation {
  createPost(input: CreatePostInput!): PostActionPayload!
}
"""

_SCHEMA = graphql.build_schema(SCHEMA_SDL)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeBufferServer(SandboxHTTPServer):
    """Buffer sandbox that accepts one token and has a fixed set of channels."""

    name = "buffer-sandbox"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        channel_ids: tuple[str, ...] = (DEFAULT_CHANNEL_ID,),
    ) -> None:
        super().__init__(host, port)
        self.token = token
        self.channel_ids = set(channel_ids)
        self.posts: list[dict[str, Any]] = []
        self._posts_lock = threading.Lock()
        # Called with each new post after it is stored and before the answer is sent, so a test
        # can kill the client at the moment Buffer has the post but the client does not know.
        self.after_create: Callable[[dict[str, Any]], None] | None = None

    def reset_state(self) -> None:
        with self._posts_lock:
            self.posts.clear()

    def control_state(self) -> dict[str, Any]:
        with self._posts_lock:
            return {"posts": list(self.posts)}

    def handle_api(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        route = path.split("?", 1)[0].rstrip("/")
        if route == "" and method == "POST":
            return self._graphql(headers, body)
        if route == "/1/updates/create.json" and method == "POST":
            return self._v1_create(headers, body)
        if route.startswith("/1/profiles/") and route.endswith("/updates/pending.json"):
            profile_id = route.removeprefix("/1/profiles/").removesuffix("/updates/pending.json")
            return self._v1_pending(headers, path, profile_id)
        return Reply(404, {"success": False, "code": 404, "message": f"Not found: {method} {path}"})

    # -- state -------------------------------------------------------------------------------

    def _create(self, text: str, channel_id: str, due_at: str | None) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        with self._posts_lock:
            if due_at is None:
                taken = {p["dueAt"] for p in self.posts if p["channelId"] == channel_id}
                slot = (now + dt.timedelta(days=1)).replace(
                    hour=QUEUE_SLOT_HOUR_UTC, minute=0, second=0, microsecond=0
                )
                while _iso(slot) in taken:
                    slot += dt.timedelta(days=1)
                due_at = _iso(slot)
            post = {
                "id": secrets.token_hex(12),
                "text": text,
                "channelId": channel_id,
                "dueAt": due_at,
                "status": "scheduled",
                "createdAt": _iso(now),
            }
            self.posts.append(post)
        if self.after_create is not None:
            self.after_create(post)
        return post

    def _posts_for(self, channel_ids: list[str] | None) -> list[dict[str, Any]]:
        with self._posts_lock:
            return [p for p in self.posts if not channel_ids or p["channelId"] in channel_ids]

    # -- GraphQL -----------------------------------------------------------------------------

    def _graphql(self, headers: dict[str, str], body: bytes) -> Reply:
        try:
            request = json.loads(body)
        except ValueError as exc:
            return Reply(400, {"errors": [{"message": f"Body is not valid JSON: {exc}"}]})
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return Reply(400, {"errors": [{"message": "Body must be a JSON object with a query."}]})

        if headers.get("authorization", "") != f"Bearer {self.token}":
            return Reply(
                200,
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "Unauthorized: invalid or missing API key.",
                            "extensions": {"code": "UNAUTHORIZED"},
                        }
                    ],
                },
            )

        root = {"createPost": self._resolve_create_post, "posts": self._resolve_posts}
        result = graphql.graphql_sync(
            _SCHEMA,
            request["query"],
            root_value=root,
            variable_values=request.get("variables"),
            operation_name=request.get("operationName"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [
                {**error.formatted, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                for error in result.errors
            ]
        return Reply(200, payload)

    def _resolve_create_post(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        text = input["text"]
        channel_id = input["channelId"]
        if channel_id not in self.channel_ids:
            return {"__typename": "MutationError", "message": f"Channel {channel_id} not found."}
        if not text.strip():
            return {"__typename": "MutationError", "message": "Text cannot be empty."}
        if input["mode"] == "customScheduled" and not input.get("dueAt"):
            return {
                "__typename": "MutationError",
                "message": "dueAt is required for customScheduled.",
            }
        post = self._create(text, channel_id, input.get("dueAt"))
        return {"__typename": "PostActionSuccess", "post": post}

    def _resolve_posts(
        self,
        info: Any,
        input: dict[str, Any] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        filters = (input or {}).get("filter") or {}
        posts = self._posts_for(filters.get("channelIds"))
        statuses = filters.get("status")
        if statuses:
            posts = [p for p in posts if p["status"] in statuses]
        start = int(after) + 1 if after is not None and after.isdigit() else 0
        limit = first if first is not None else 20
        page = posts[start : start + limit]
        edges = [{"node": p, "cursor": str(start + i)} for i, p in enumerate(page)]
        has_next = start + limit < len(posts)
        return {
            "edges": edges,
            "pageInfo": {
                "hasNextPage": has_next,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
        }

    # -- v1 REST -----------------------------------------------------------------------------

    def _v1_token(self, headers: dict[str, str], form: dict[str, list[str]]) -> str:
        bearer = headers.get("authorization", "")
        if bearer.startswith("Bearer "):
            return bearer.removeprefix("Bearer ")
        return (form.get("access_token") or [""])[0]

    def _v1_create(self, headers: dict[str, str], body: bytes) -> Reply:
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return Reply(
                400, {"success": False, "code": 1000, "message": "Expected a form-encoded body."}
            )
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        if self._v1_token(headers, form) != self.token:
            return Reply(
                401,
                {"success": False, "code": 401, "message": "Unauthorized: OAuth token is invalid."},
            )
        profile_ids = form.get("profile_ids[]") or []
        text = (form.get("text") or [""])[0]
        if not profile_ids:
            return Reply(
                400, {"success": False, "code": 1004, "message": "profile_ids[] is required."}
            )
        unknown = [p for p in profile_ids if p not in self.channel_ids]
        if unknown:
            return Reply(
                400, {"success": False, "code": 1010, "message": f"Profile {unknown[0]} not found."}
            )
        if not text.strip():
            return Reply(400, {"success": False, "code": 1004, "message": "Text cannot be empty."})
        updates = []
        for profile_id in profile_ids:
            post = self._create(text, profile_id, None)
            due = dt.datetime.fromisoformat(post["dueAt"].replace("Z", "+00:00"))
            updates.append(
                {
                    "id": post["id"],
                    "text": text,
                    "profile_id": profile_id,
                    "due_at": int(due.timestamp()),
                    "status": "buffer",
                }
            )
        return Reply(200, {"success": True, "buffer_count": len(updates), "updates": updates})

    def _v1_pending(self, headers: dict[str, str], path: str, profile_id: str) -> Reply:
        query = parse_qs(path.split("?", 1)[1]) if "?" in path else {}
        if self._v1_token(headers, query) != self.token:
            return Reply(
                401,
                {"success": False, "code": 401, "message": "Unauthorized: OAuth token is invalid."},
            )
        if profile_id not in self.channel_ids:
            return Reply(
                404, {"success": False, "code": 1010, "message": f"Profile {profile_id} not found."}
            )
        posts = self._posts_for([profile_id])
        updates = [{"id": p["id"], "text": p["text"], "profile_id": profile_id} for p in posts]
        return Reply(200, {"total": len(updates), "updates": updates})
