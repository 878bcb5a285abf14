"""Retries with exponential backoff and jitter, for failures that can heal.

Only connection errors, timeouts, HTTP 429 and 5xx are retried: the resources mark those errors
``retryable``. A wait the service requests (``Retry-After``) is honoured up to a cap. A longer
requested wait fails at once, because sleeping through it would hold the 08:00 run for that long.
Every call has a total time budget, so a stuck service cannot hold a step for hours.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from blog_pipeline.errors import ServiceError

T = TypeVar("T")

log = logging.getLogger(__name__)

# Looked up at call time, so tests can record the waits instead of sleeping through them.
_sleep = time.sleep


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one call to an external service."""

    max_attempts: int = 4
    base_delay_seconds: float = 2.0
    max_delay_seconds: float = 30.0
    # The maximum wait a service may request through Retry-After before the call fails instead.
    max_requested_wait_seconds: float = 120.0
    # Budget for all attempts and waits of one call together.
    total_timeout_seconds: float = 300.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Return the wait before retry number ``attempt`` (1-based): doubled each time, capped,
        with full jitter between half and one and a half of it."""
        base = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempt - 1))
        return base * (rng or random).uniform(0.5, 1.5)


def call_with_retries(
    operation: Callable[[float], T],
    *,
    policy: RetryPolicy,
    description: str,
    logger: logging.Logger | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``operation(seconds_left)`` until it succeeds, fails for good, or the budget ends.

    ``operation`` receives the seconds left in the budget, to cap its own request timeout.
    A ServiceError that is not retryable propagates unchanged. A retryable one that runs out of
    attempts, budget or allowed wait is raised again with the reason appended.
    """
    logger = logger or log
    deadline = clock() + policy.total_timeout_seconds
    attempt = 0
    while True:
        attempt += 1
        seconds_left = deadline - clock()
        try:
            return operation(seconds_left)
        except ServiceError as exc:
            if not exc.retryable:
                raise
            wait = _wait_before_retry(exc, attempt, policy)
            reason = _give_up_reason(exc, attempt, wait, deadline - clock(), policy)
            if reason:
                raise type(exc)(f"{exc} {reason}", status=exc.status, retryable=False) from exc
            logger.warning(
                "%s failed (attempt %d of %d): %s Retrying in %.1f s%s.",
                description,
                attempt,
                policy.max_attempts,
                exc,
                wait,
                " as the service requested" if exc.retry_after is not None else "",
            )
            (sleep or _sleep)(wait)


def _wait_before_retry(exc: ServiceError, attempt: int, policy: RetryPolicy) -> float:
    if exc.retry_after is not None:
        return max(0.0, exc.retry_after)
    return policy.backoff(attempt)


def _give_up_reason(
    exc: ServiceError, attempt: int, wait: float, seconds_left: float, policy: RetryPolicy
) -> str | None:
    if exc.retry_after is not None and exc.retry_after > policy.max_requested_wait_seconds:
        return (
            f"The service asked to wait {exc.retry_after:g} s before retrying, more than the "
            f"{policy.max_requested_wait_seconds:g} s this step may wait; not retrying."
        )
    if attempt >= policy.max_attempts:
        return f"Gave up after {attempt} attempts."
    if wait >= seconds_left:
        return (
            f"Gave up after {attempt} attempts: the next wait of {wait:.1f} s would pass the "
            f"step's time budget of {policy.total_timeout_seconds:g} s."
        )
    return None
