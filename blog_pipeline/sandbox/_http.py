"""A small threaded HTTP server with fault injection, shared by the OpenAI and Buffer fakes.

A test or the sandbox command queues faults; each request to the service's API takes the next
one. A fault can answer with any status, headers and body, wait first, accept the connection and
never answer, or drop the connection without a response. Requests under ``/_sandbox/`` control the
server and never take a fault.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

# A hung request waits at most this long, so a forgotten fault cannot keep a thread forever.
MAX_HANG_SECONDS = 600.0


@dataclass
class Fault:
    """One misbehaviour for the next request to the service."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    hang: bool = False
    drop: bool = False
    # Apply the fault after the service handled the request (a post is created, then the answer
    # is lost), the case that makes a blind retry publish twice.
    after_handling: bool = False
    # Only requests whose path or body contains this text take the fault, e.g. "createPost".
    match: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        return cls(
            status=data.get("status"),
            body=data.get("body"),
            headers=dict(data.get("headers") or {}),
            delay_seconds=float(data.get("delay_seconds") or 0.0),
            hang=bool(data.get("hang")),
            drop=bool(data.get("drop")),
            after_handling=bool(data.get("after_handling")),
            match=data.get("match"),
        )


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class SandboxHTTPServer:
    """Base of the fake services: lifecycle, fault queue, request log, control endpoints."""

    name = "sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._stopping = threading.Event()
        self.latency_seconds = 0.0
        # Applied to every request while no queued fault is left; None serves normally.
        self.sticky_fault: Fault | None = None
        self.requests: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxHTTPServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SandboxHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each request to the API takes the next one."""
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self.sticky_fault = None
            self.latency_seconds = 0.0
            self.reset_state()

    def reset_state(self) -> None:
        """Forget the service's own state; overridden by each fake."""

    def _next_fault(self, path: str, body: bytes) -> Fault | None:
        request_text = path + body.decode("utf-8", "replace")
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.match is None or fault.match in request_text:
                    return self._faults.pop(index)
            return self.sticky_fault

    def handle_api(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

    def control_state(self) -> dict[str, Any]:
        """State shown by ``GET /_sandbox/state``; overridden by each fake."""
        return {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("%s %s", server.name, format % args)

            def do_GET(self) -> None:  # noqa: N802
                self._dispatch("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._dispatch("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._dispatch("DELETE")

            def _dispatch(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path.startswith("/_sandbox/"):
                    self._send(server._control(method, self.path, body))
                    return

                with server._lock:
                    server.requests.append(
                        {"method": method, "path": self.path, "headers": headers, "body": body}
                    )
                fault = server._next_fault(self.path, body)
                if server.latency_seconds:
                    time.sleep(server.latency_seconds)
                if fault is not None and fault.after_handling:
                    server.handle_api(method, self.path, headers, body)
                if fault is not None:
                    if fault.delay_seconds:
                        time.sleep(fault.delay_seconds)
                    if fault.hang:
                        server._stopping.wait(MAX_HANG_SECONDS)
                        self.close_connection = True
                        return
                    if fault.drop:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if fault.status is not None:
                        self._send(Reply(fault.status, fault.body, fault.headers))
                        return
                try:
                    reply = server.handle_api(method, self.path, headers, body)
                except Exception as exc:  # a bug in the fake answers 500 and stays visible
                    log.exception("%s failed to handle %s %s", server.name, method, self.path)
                    reply = Reply(500, {"error": {"message": f"sandbox error: {exc}"}})
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if isinstance(reply.body, bytes):
                    payload = reply.body
                    content_type = "application/octet-stream"
                elif isinstance(reply.body, str):
                    payload = reply.body.encode("utf-8")
                    content_type = "text/html; charset=utf-8"
                else:
                    payload = json.dumps(reply.body).encode("utf-8")
                    content_type = "application/json"
                self.send_response(reply.status)
                headers = {"Content-Type": content_type, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        if method == "GET" and path == "/_sandbox/state":
            return Reply(200, self.control_state())
        if method == "POST" and path == "/_sandbox/faults":
            data = json.loads(body or b"[]")
            items = data if isinstance(data, list) else [data]
            self.inject(*(Fault.from_json(item) for item in items))
            return Reply(200, {"queued": len(items)})
        if method == "POST" and path == "/_sandbox/latency":
            self.latency_seconds = float(json.loads(body or b"{}").get("seconds", 0.0))
            return Reply(200, {"latency_seconds": self.latency_seconds})
        if method == "POST" and path == "/_sandbox/reset":
            self.reset()
            return Reply(200, {"reset": True})
        return Reply(404, {"error": f"unknown control request {method} {path}"})
