"""Exceptions raised by the pipeline's resources and assets.

    BlogPipelineError
    +-- ConfigurationError      a setting or secret is missing or invalid; fix the environment
    +-- ServiceError            an external service failed or rejected a request
        +-- OpenAIError
        +-- BufferError
        +-- SMTPDeliveryError

Every message names the service, the HTTP status or protocol reply where there is one, and the
service's own words, with secrets replaced by ``[redacted]``.
"""

from __future__ import annotations


class BlogPipelineError(Exception):
    """Base class of the pipeline's own errors."""


class ConfigurationError(BlogPipelineError):
    """A setting or secret is missing or invalid."""


class ServiceError(BlogPipelineError):
    """An external service failed, timed out or rejected a request."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        # Seconds the service asked the client to wait before the next attempt (Retry-After).
        self.retry_after = retry_after


class OpenAIError(ServiceError):
    """The OpenAI chat-completions request failed."""


class BufferError(ServiceError):  # noqa: A001 - the service is called Buffer
    """Buffer did not confirm the post with a post id."""


class SMTPDeliveryError(ServiceError):
    """The SMTP server did not accept the alert e-mail."""
