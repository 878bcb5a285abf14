"""OpenAI chat completions through the official ``openai`` SDK."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, PrivateAttr

from blog_pipeline.errors import ConfigurationError, OpenAIError
from blog_pipeline.resources.retrying import RetryingResource
from blog_pipeline.retry import call_with_retries
from blog_pipeline.secrets import read_secret, redact

if TYPE_CHECKING:
    import openai

DEFAULT_MODEL = "gpt-4o-mini"
# Seconds for one HTTP request, connect included. A 400-word completion from gpt-4o-mini usually
# takes 5-15 s, so 60 s leaves room without letting a stuck server hold the 08:00 run for long.
DEFAULT_TIMEOUT_SECONDS = 60.0
# Budget of all attempts together, so a stuck API cannot hold the 08:00 run for hours.
DEFAULT_TOTAL_TIMEOUT_SECONDS = 600.0
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


class OpenAIResource(RetryingResource):
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
    total_timeout_seconds: float = Field(
        default=DEFAULT_TOTAL_TIMEOUT_SECONDS,
        gt=0,
        description="Time budget of the request with all its retries.",
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

    def complete(
        self,
        messages: str | list[dict[str, str]],
        *,
        max_tokens: int | None = None,
        logger: logging.Logger | None = None,
    ) -> ChatCompletion:
        """Send ``messages`` (or one user prompt) and return the first choice, retrying what can
        heal under the resource's retry policy.

        Raises OpenAIError with the HTTP status and OpenAI's own message on any failure.
        """
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        if max_tokens is not None:
            request["max_tokens"] = max_tokens

        started = time.monotonic()
        response = call_with_retries(
            lambda seconds_left: self._create(request, min(self.timeout_seconds, seconds_left)),
            policy=self.retry_policy,
            description=f"OpenAI chat completion with {self.model}",
            logger=logger,
        )
        return self._parse(response, seconds=time.monotonic() - started)

    def _create(self, request: dict[str, Any], timeout: float) -> Any:
        # The SDK costs about 0.4 s to import, so only the processes that call it pay for it.
        import openai

        if self._api_key is None:
            self._api_key = read_secret(self.api_key_env_var, purpose="OpenAI API key")
        client = openai.OpenAI(
            api_key=self._api_key, base_url=self.base_url, timeout=timeout, max_retries=0
        )
        try:
            with client:
                return client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.APITimeoutError:
            raise OpenAIError(
                f"OpenAI request to {self._endpoint()} timed out after {timeout:.0f} s.",
                retryable=True,
            ) from None
        except openai.APIConnectionError as exc:
            cause = redact(str(exc.__cause__ or exc), [self._api_key])
            raise OpenAIError(
                f"OpenAI request to {self._endpoint()} failed: cannot connect ({cause}).",
                retryable=True,
            ) from None

    def _status_error(self, exc: openai.APIStatusError) -> OpenAIError:
        status = exc.status_code
        code = _error_field(exc.body, "code")
        if status == 429 and code == "insufficient_quota":
            return OpenAIError(
                "OpenAI quota exhausted (HTTP 429, insufficient_quota): the account has no "
                "credit or reached its monthly budget. Check billing and usage limits at "
                "https://platform.openai.com/settings/organization/billing. This is not a rate "
                "limit, so the step does not retry.",
                status=status,
            )
        return OpenAIError(
            self._describe_status_error(exc),
            status=status,
            retryable=status in (408, 429) or status >= 500,
            retry_after=parse_retry_after(exc.response.headers),
        )

    def _endpoint(self) -> str:
        return (self.base_url or "https://api.openai.com/v1").rstrip("/") + "/chat/completions"

    def _describe_status_error(self, exc: openai.APIStatusError) -> str:
        message = _error_field(exc.body, "message")
        code = _error_field(exc.body, "code")
        if not message:
            message = exc.response.text[:500] or exc.response.reason_phrase
        detail = f"HTTP {exc.status_code}"
        if code:
            detail += f" ({code})"
        text = f"OpenAI request to {self._endpoint()} failed with {detail}: {message}"
        return redact(text, [self._api_key])

    def _parse(self, response: Any, seconds: float) -> ChatCompletion:
        if not hasattr(response, "choices"):
            raise OpenAIError(
                f"OpenAI returned a body that is not a chat completion: {str(response)[:300]}"
            )
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


def _error_field(body: object, name: str) -> str | None:
    """Return ``error.<name>`` from an OpenAI error body, which the SDK passes as ``body``."""
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    value = error.get(name) if isinstance(error, dict) else None
    return str(value) if value else None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Return the wait in seconds that ``retry-after-ms`` or ``retry-after`` requests, if any.

    ``retry-after`` contains seconds or an HTTP date (RFC 9110, section 10.2.3).
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds())
