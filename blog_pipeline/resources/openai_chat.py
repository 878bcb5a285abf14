"""OpenAI chat completions through the official ``openai`` SDK."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, PrivateAttr

from blog_pipeline.errors import ConfigurationError, OpenAIError
from blog_pipeline.secrets import read_secret, redact

if TYPE_CHECKING:
    import openai

DEFAULT_MODEL = "gpt-4o-mini"
# Seconds for one HTTP request, connect included. A 400-word completion from gpt-4o-mini usually
# takes 5-15 s, so 60 s leaves room without letting a stuck server hold the 08:00 run for long.
DEFAULT_TIMEOUT_SECONDS = 60.0
# The SDK retries connection errors, 408, 409, 429 and 5xx with exponential backoff and honours
# the server's retry-after header.
DEFAULT_MAX_RETRIES = 2
# US dollars per million tokens for gpt-4o-mini on OpenAI's pricing page (standard tier, late
# 2026). Set the fields for another model; the cost metadata is an estimate from these prices.
DEFAULT_INPUT_PRICE_PER_MILLION = 0.15
DEFAULT_OUTPUT_PRICE_PER_MILLION = 0.60

# The SDK logs every request URL at DEBUG/INFO; keep those loggers quiet in run logs.
for _logger_name in ("openai", "httpx", "httpx2", "httpcore"):
    logging.getLogger(_logger_name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class ChatCompletion:
    """The parts of a chat completion the pipeline uses."""

    text: str
    model: str
    finish_reason: str | None
    refusal: str | None
    prompt_tokens: int
    completion_tokens: int
    completion_id: str
    seconds: float


class OpenAIResource(dg.ConfigurableResource):
    """Client for OpenAI's chat-completions API or any server that speaks its wire format."""

    api_key_env_var: str = Field(
        default="OPENAI_API_KEY",
        description="Name of the environment variable that contains the API key.",
    )
    model: str = Field(default=DEFAULT_MODEL, description="Chat model name.")
    base_url: str | None = Field(
        default=None,
        description="API base URL ending in /v1; unset means https://api.openai.com/v1.",
    )
    timeout_seconds: float = Field(
        default=DEFAULT_TIMEOUT_SECONDS, gt=0, description="Timeout of one HTTP request."
    )
    max_retries: int = Field(
        default=DEFAULT_MAX_RETRIES, ge=0, le=10, description="Retries of a failed request."
    )

    input_price_per_million: float = Field(
        default=DEFAULT_INPUT_PRICE_PER_MILLION,
        ge=0,
        description="US dollars per million prompt tokens, for the cost estimate.",
    )
    output_price_per_million: float = Field(
        default=DEFAULT_OUTPUT_PRICE_PER_MILLION,
        ge=0,
        description="US dollars per million completion tokens, for the cost estimate.",
    )

    _api_key: str | None = PrivateAttr(default=None)

    def estimate_cost_usd(self, completion: ChatCompletion) -> float:
        """Estimate the cost of ``completion`` from the configured prices."""
        return (
            completion.prompt_tokens * self.input_price_per_million
            + completion.completion_tokens * self.output_price_per_million
        ) / 1_000_000

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._api_key = read_secret(self.api_key_env_var, purpose="OpenAI API key")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"OpenAI base URL {self.base_url!r} is invalid: it must start with http:// or "
                "https://, for example https://api.openai.com/v1."
            )

    def _client(self) -> openai.OpenAI:
        # The SDK costs about 0.4 s to import, so only the processes that call it pay for it.
        import openai

        if self._api_key is None:
            self._api_key = read_secret(self.api_key_env_var, purpose="OpenAI API key")
        return openai.OpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout_seconds,
            max_retries=self.max_retries,
        )

    def complete(self, prompt: str, *, max_tokens: int | None = None) -> ChatCompletion:
        """Send ``prompt`` as one user message and return the first choice.

        Raises OpenAIError with the HTTP status and OpenAI's own message on any failure.
        """
        import openai

        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
        }
        if max_tokens is not None:
            request["max_tokens"] = max_tokens

        started = time.monotonic()
        try:
            with self._client() as client:
                response = client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            raise OpenAIError(
                self._describe_status_error(exc),
                status=exc.status_code,
                retryable=exc.status_code == 429 or exc.status_code >= 500,
            ) from None
        except openai.APITimeoutError:
            raise OpenAIError(
                f"OpenAI request to {self._endpoint()} timed out after {self.timeout_seconds:g} s "
                f"(and {self.max_retries} retries).",
                retryable=True,
            ) from None
        except openai.APIConnectionError as exc:
            cause = redact(str(exc.__cause__ or exc), [self._api_key])
            raise OpenAIError(
                f"OpenAI request to {self._endpoint()} failed: cannot connect ({cause}).",
                retryable=True,
            ) from None

        return self._parse(response, seconds=time.monotonic() - started)

    def _endpoint(self) -> str:
        return (self.base_url or "https://api.openai.com/v1").rstrip("/") + "/chat/completions"

    def _describe_status_error(self, exc: openai.APIStatusError) -> str:
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        message = error.get("message") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        if not message:
            message = exc.response.text[:500] or exc.response.reason_phrase
        detail = f"HTTP {exc.status_code}"
        if code:
            detail += f" ({code})"
        text = f"OpenAI request to {self._endpoint()} failed with {detail}: {message}"
        return redact(text, [self._api_key])

    def _parse(self, response: Any, seconds: float) -> ChatCompletion:
        if not response.choices:
            raise OpenAIError(f"OpenAI returned no choices for model {self.model}.")
        choice = response.choices[0]
        usage = response.usage
        return ChatCompletion(
            text=choice.message.content or "",
            model=response.model or self.model,
            finish_reason=choice.finish_reason,
            refusal=getattr(choice.message, "refusal", None),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            completion_id=response.id or "",
            seconds=seconds,
        )
