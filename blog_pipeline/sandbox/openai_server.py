"""A local server that speaks OpenAI's chat-completions wire format.

``POST /v1/chat/completions`` answers with a German article whose length follows the number of
words the prompt asks for. A test can set the exact article, or the whole first choice (for a
refusal or a finish reason other than ``stop``), and queue faults.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from blog_pipeline.prompts import DEFAULT_TOPIC
from blog_pipeline.sandbox._http import Reply, SandboxHTTPServer

_PARAGRAPHS = [
    "Everything-as-Code bedeutet, dass Infrastruktur, Konfiguration, Richtlinien und sogar "
    "Arbeitsabläufe als Text in einem Versionskontrollsystem liegen. Jede Änderung ist damit "
    "nachvollziehbar, überprüfbar und wiederholbar.",
    "Der größte Vorteil ist die Transparenz. Wer wissen möchte, warum ein Server so eingerichtet "
    "ist, wie er ist, liest die Historie im Repository statt in einem alten Ticket oder im "
    "Gedächtnis einer Kollegin zu suchen.",
    "Ebenso wichtig ist die Qualität. Code lässt sich testen, bevor er in Produktion geht. "
    "Automatische Prüfungen in der CI-Pipeline finden Fehler früh, und ein Review durch das Team "
    "sorgt dafür, dass Wissen geteilt wird.",
    "Auch die Sicherheit profitiert davon. Geheimnisse gehören nicht in den Code, sondern in "
    "einen Tresor, und Richtlinien als Code verhindern, dass unsichere Einstellungen überhaupt "
    "ausgerollt werden.",
    "Für Teams, die von grafischen Automatisierungswerkzeugen kommen, wirkt der Einstieg zunächst "
    "aufwendiger. Doch schon nach wenigen Wochen zeigt sich, dass Änderungen schneller, sicherer "
    "und mit weniger Überraschungen möglich sind.",
    "Nicht zuletzt wird die Zusammenarbeit einfacher. Entwicklung, Betrieb und Fachabteilungen "
    "sprechen über denselben Stand, der für alle sichtbar im Repository liegt, und jede "
    "Umgebung lässt sich aus demselben Code neu aufbauen.",
]

_SHORTEN = re.compile(r"(?:höchstens|at most) (\d+) (?:Zeichen|characters)", re.IGNORECASE)
# The topic as the pipeline's German prompt names it: "... Wörtern über <topic>. Gib ...".
_TOPIC = re.compile(r"Wörtern über (.+?)\. Gib nur", re.DOTALL)
_WORD_TARGET = re.compile(r"(\d{2,5})\s*(?:Wörter|Wörtern|words)", re.IGNORECASE)
DEFAULT_WORDS = 400
SANDBOX_MODEL_SUFFIX = "-sandbox"


def shorten(text: str, limit: int) -> str:
    """Drop whole sentences from the end of ``text`` until it has at most ``limit`` characters."""
    sentences = re.split(r"(?<=[.!?])(\s+)", text)
    while len("".join(sentences)) > limit and len(sentences) > 1:
        sentences = sentences[:-2] if len(sentences) > 2 else sentences[:-1]
    return "".join(sentences).rstrip()


def german_article(words: int) -> str:
    """Return a deterministic German article of about ``words`` words, paragraphs separated by
    blank lines."""
    paragraphs: list[str] = []
    count = 0
    index = 0
    while count < words:
        paragraph = _PARAGRAPHS[index % len(_PARAGRAPHS)]
        paragraphs.append(paragraph)
        count += len(paragraph.split())
        index += 1
    return "\n\n".join(paragraphs)


class FakeOpenAIServer(SandboxHTTPServer):
    """Chat-completions endpoint that accepts any non-empty key unless ``api_key`` is set."""

    name = "openai-sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None):
        super().__init__(host, port)
        self.api_key = api_key
        self.article: str | None = None
        self.choice: dict[str, Any] | None = None
        self.completions = 0

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reset_state(self) -> None:
        self.article = None
        self.choice = None
        self.completions = 0

    def control_state(self) -> dict[str, Any]:
        return {"completions": self.completions, "requests": len(self.requests)}

    def handle_api(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST" or path.rstrip("/") != "/v1/chat/completions":
            return _error(404, f"Unknown request URL: {method} {path}.", "invalid_request_error")

        key = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not key or (self.api_key is not None and key != self.api_key):
            shown = f"{key[:3]}***{key[-4:]}" if len(key) > 8 else "***"
            return _error(
                401,
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                code="invalid_api_key",
            )

        try:
            request = json.loads(body)
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid_json")
        messages = request.get("messages")
        if not request.get("model") or not isinstance(messages, list) or not messages:
            return _error(
                400, "model and a non-empty messages array are required.", "invalid_request_error"
            )

        prompt = " ".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        last = messages[-1] if isinstance(messages[-1], dict) else {}
        shorten_to = _SHORTEN.search(str(last.get("content", "")))
        previous = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
        if shorten_to and previous:
            text = shorten(str(previous[-1].get("content", "")), int(shorten_to.group(1)))
        elif self.article is not None:
            text = self.article
        else:
            match = _WORD_TARGET.search(prompt)
            text = german_article(int(match.group(1)) if match else DEFAULT_WORDS)
            topic = _TOPIC.search(prompt)
            if topic and topic.group(1) != DEFAULT_TOPIC:
                text = f"Heute geht es um {topic.group(1)}. {text}"
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
        if self.choice is not None:
            choice = {
                **choice,
                **self.choice,
                "message": {**choice["message"], **self.choice.get("message", {})},
            }

        content = choice["message"].get("content") or ""
        self.completions += 1
        return Reply(
            200,
            {
                "id": f"chatcmpl-sandbox-{secrets.token_hex(8)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": str(request["model"]) + SANDBOX_MODEL_SUFFIX,
                "choices": [choice],
                "usage": {
                    "prompt_tokens": _estimate_tokens(prompt),
                    "completion_tokens": _estimate_tokens(content),
                    "total_tokens": _estimate_tokens(prompt) + _estimate_tokens(content),
                },
                "system_fingerprint": "fp_sandbox",
            },
            {"x-request-id": f"req_sandbox_{secrets.token_hex(6)}"},
        )


def _estimate_tokens(text: str) -> int:
    # Roughly four characters per token, the rule of thumb OpenAI gives for English text.
    return max(1, len(text) // 4)


def _error(status: int, message: str, error_type: str, code: str | None = None) -> Reply:
    return Reply(
        status, {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    )
