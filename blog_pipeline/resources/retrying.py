"""Retry settings shared by the resources that call HTTP APIs."""

import dagster as dg
from pydantic import Field

from blog_pipeline.retry import RetryPolicy

# Retries of connection errors, timeouts, 429 and 5xx. The openai SDK's own retries are off, so
# blog_pipeline.retry applies one policy to every service and logs each retry in the run.
DEFAULT_MAX_RETRIES = 3
# Maximum Retry-After wait a step honours before it fails instead. Buffer's API-limits guide
# shows a rate-limit error requesting 900 s; waiting that long would hold the 08:00 run.
DEFAULT_MAX_REQUESTED_WAIT_SECONDS = 120.0


class RetryingResource(dg.ConfigurableResource):
    """Base of a resource whose requests are retried under blog_pipeline.retry's policy.

    Subclasses declare ``total_timeout_seconds``, the time budget of one call with its retries.
    """

    max_retries: int = Field(
        default=DEFAULT_MAX_RETRIES,
        ge=0,
        le=10,
        description="Retries of a request that failed with a connection error, timeout, 429, 5xx.",
    )
    max_requested_wait_seconds: float = Field(
        default=DEFAULT_MAX_REQUESTED_WAIT_SECONDS,
        ge=0,
        description="Maximum Retry-After wait to honour; a longer one fails the step at once.",
    )
    total_timeout_seconds: float

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_retries + 1,
            max_requested_wait_seconds=self.max_requested_wait_seconds,
            total_timeout_seconds=self.total_timeout_seconds,
        )
