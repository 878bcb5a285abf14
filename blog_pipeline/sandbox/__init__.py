"""Local stand-ins for OpenAI, Buffer and SMTP, for a machine without keys and for the tests.

Nothing sent to the sandbox leaves the machine: the servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from blog_pipeline.environment import ENV_VAR, Environment, Settings, load_settings
from blog_pipeline.sandbox._http import Fault
from blog_pipeline.sandbox.buffer_server import DEFAULT_CHANNEL_ID, DEFAULT_TOKEN, FakeBufferServer
from blog_pipeline.sandbox.openai_server import FakeOpenAIServer, german_article
from blog_pipeline.sandbox.smtp_server import SandboxSMTPServer

# The sandbox's own fake OpenAI key; the fake server accepts any non-empty key.
SANDBOX_OPENAI_KEY = "sk-sandbox-not-a-real-key"  # noqa: S105

__all__ = [
    "Fault",
    "FakeBufferServer",
    "FakeOpenAIServer",
    "Sandbox",
    "SandboxSMTPServer",
    "german_article",
]


class Sandbox:
    """The three sandbox servers, started together, and the environment that points at them."""

    def __init__(
        self,
        outbox: Path,
        openai_port: int = 0,
        buffer_port: int = 0,
        smtp_port: int = 0,
    ) -> None:
        self.openai = FakeOpenAIServer(port=openai_port)
        self.buffer = FakeBufferServer(port=buffer_port)
        self.smtp = SandboxSMTPServer(outbox, port=smtp_port)

    def start(self) -> Sandbox:
        self.openai.start()
        self.buffer.start()
        self.smtp.start()
        return self

    def stop(self) -> None:
        self.smtp.stop()
        self.buffer.stop()
        self.openai.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def environ(self, buffer_api: str = "graphql") -> dict[str, str]:
        """Environment variables that select the sandbox and point every resource at it."""
        return {
            ENV_VAR: Environment.SANDBOX.value,
            "SANDBOX_OPENAI_PORT": str(self.openai.port),
            "SANDBOX_BUFFER_PORT": str(self.buffer.port),
            "SANDBOX_SMTP_PORT": str(self.smtp.port),
            "SANDBOX_OPENAI_API_KEY": SANDBOX_OPENAI_KEY,
            "SANDBOX_BUFFER_TOKEN": DEFAULT_TOKEN,
            "SANDBOX_BUFFER_CHANNEL_ID": DEFAULT_CHANNEL_ID,
            "BUFFER_API": buffer_api,
        }

    def settings(self, extra: Mapping[str, str] | None = None) -> Settings:
        return load_settings({**self.environ(), **(extra or {})})
