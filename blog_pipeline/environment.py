"""The one place that decides sandbox, dev or prod and derives every per-environment choice.

``BLOG_PIPELINE_ENV`` selects the environment (default ``sandbox``, so a machine without keys runs
against the local sandbox servers). Non-secret settings (URLs, host names, addresses) are read
from the environment when the definitions load, so the UI's resource view shows them. Secrets are
named here by their environment variable and read only when a run's resources start.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from blog_pipeline.errors import ConfigurationError
from blog_pipeline.types import BufferAPI, SMTPSecurity

ENV_VAR = "BLOG_PIPELINE_ENV"

# Ports of the sandbox servers when `blog-pipeline sandbox serve` runs with its defaults.
SANDBOX_OPENAI_PORT = 18401
SANDBOX_BUFFER_PORT = 18402
SANDBOX_SMTP_PORT = 18425


class Environment(StrEnum):
    SANDBOX = "sandbox"
    DEV = "dev"
    PROD = "prod"


class IOManagerKind(StrEnum):
    """Storage of step outputs, between the steps of a run and for later re-execution.

    ``filesystem`` is Dagster's default IO manager under DAGSTER_HOME, enough when every step runs
    on one machine. ``s3`` is dagster-aws's S3 pickle IO manager: on Kubernetes each run is its
    own pod, and a re-execution in a new pod can only load the outputs of an earlier pod from an
    object store.
    """

    FILESYSTEM = "filesystem"
    S3 = "s3"


IO_MANAGER_ENV_VAR = "BLOG_PIPELINE_IO_MANAGER"
IO_BUCKET_ENV_VAR = "BLOG_PIPELINE_IO_BUCKET"
IO_PREFIX_ENV_VAR = "BLOG_PIPELINE_IO_PREFIX"


@dataclass(frozen=True)
class Settings:
    """Every setting that differs between environments."""

    environment: Environment
    openai_base_url: str | None
    openai_model: str
    openai_api_key_env_var: str
    buffer_api: BufferAPI
    buffer_base_url: str | None
    buffer_token_env_var: str
    buffer_channel_env_var: str
    smtp_host: str
    smtp_port: int
    smtp_security: SMTPSecurity
    smtp_username_env_var: str | None
    smtp_password_env_var: str | None
    alert_sender: str
    alert_recipients: list[str]
    dagster_ui_url: str
    io_manager: IOManagerKind = IOManagerKind.FILESYSTEM
    io_manager_s3_bucket: str | None = None
    io_manager_s3_prefix: str = "blog-pipeline"


def get_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """Return the environment that ``BLOG_PIPELINE_ENV`` selects."""
    environ = os.environ if environ is None else environ
    raw = environ.get(ENV_VAR, "").strip().lower() or Environment.SANDBOX.value
    try:
        return Environment(raw)
    except ValueError:
        choices = ", ".join(e.value for e in Environment)
        raise ConfigurationError(
            f"{ENV_VAR}={environ.get(ENV_VAR)!r} is invalid: use one of {choices}."
        ) from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings of the selected environment from ``environ`` (default os.environ)."""
    environ = os.environ if environ is None else environ
    environment = get_environment(environ)
    if environment == Environment.SANDBOX:
        return _sandbox_settings(environ)
    return _service_settings(environment, environ)


def _sandbox_settings(environ: Mapping[str, str]) -> Settings:
    host = "127.0.0.1"
    openai_port = _port(environ, "SANDBOX_OPENAI_PORT", SANDBOX_OPENAI_PORT)
    buffer_port = _port(environ, "SANDBOX_BUFFER_PORT", SANDBOX_BUFFER_PORT)
    buffer_api = _buffer_api(environ)
    buffer_path = "/1" if buffer_api == "v1" else ""
    return Settings(
        environment=Environment.SANDBOX,
        openai_base_url=f"http://{host}:{openai_port}/v1",
        openai_model=environ.get("OPENAI_MODEL") or "gpt-4o-mini",
        openai_api_key_env_var="SANDBOX_OPENAI_API_KEY",
        buffer_api=buffer_api,
        buffer_base_url=f"http://{host}:{buffer_port}{buffer_path}",
        buffer_token_env_var="SANDBOX_BUFFER_TOKEN",
        buffer_channel_env_var="SANDBOX_BUFFER_CHANNEL_ID",
        smtp_host=host,
        smtp_port=_port(environ, "SANDBOX_SMTP_PORT", SANDBOX_SMTP_PORT),
        smtp_security="none",
        smtp_username_env_var=None,
        smtp_password_env_var=None,
        alert_sender="blog-pipeline@sandbox.invalid",
        alert_recipients=["alerts@sandbox.invalid"],
        dagster_ui_url=environ.get("DAGSTER_UI_URL") or "http://127.0.0.1:3000",
        **_io_manager_settings(Environment.SANDBOX, environ),
    )


def _service_settings(environment: Environment, environ: Mapping[str, str]) -> Settings:
    # dev posts to a test channel and mails the team inbox; prod posts to the company channel.
    suffix = "_DEV" if environment == Environment.DEV else ""
    recipients = environ.get(f"ALERT_EMAIL_TO{suffix}") or environ.get("ALERT_EMAIL_TO") or ""
    return Settings(
        environment=environment,
        openai_base_url=_url(environ, "OPENAI_BASE_URL", "https://api.openai.com/v1"),
        openai_model=environ.get("OPENAI_MODEL") or "gpt-4o-mini",
        openai_api_key_env_var="OPENAI_API_KEY",
        buffer_api=_buffer_api(environ),
        buffer_base_url=_url(environ, "BUFFER_BASE_URL", "https://api.buffer.com"),
        buffer_token_env_var="BUFFER_TOKEN",
        buffer_channel_env_var=f"BUFFER_CHANNEL_ID{suffix}",
        smtp_host=_required(environ, "SMTP_HOST", "smtp.example.com"),
        smtp_port=_port(environ, "SMTP_PORT", 465),
        smtp_security=_smtp_security(environ),
        smtp_username_env_var="SMTP_USER",
        smtp_password_env_var="SMTP_PASS",
        alert_sender=_required(environ, "ALERT_EMAIL_FROM", "blog-pipeline@example.com"),
        alert_recipients=[a.strip() for a in recipients.split(",") if a.strip()]
        or _missing(
            f"ALERT_EMAIL_TO{suffix} or ALERT_EMAIL_TO" if suffix else "ALERT_EMAIL_TO",
            "ops@example.com,team@example.com",
        ),
        dagster_ui_url=environ.get("DAGSTER_UI_URL") or "http://localhost:3000",
        **_io_manager_settings(environment, environ),
    )


def _io_manager_settings(environment: Environment, environ: Mapping[str, str]) -> dict[str, Any]:
    # prod runs on Kubernetes, one pod per run, so it defaults to the object store. dev also runs
    # on a laptop with `dagster dev` and .env, so it keeps the filesystem unless the deployment
    # selects S3 (the Kubernetes ConfigMap of every cluster does).
    default = IOManagerKind.S3 if environment == Environment.PROD else IOManagerKind.FILESYSTEM
    choices = tuple(kind.value for kind in IOManagerKind)
    kind = IOManagerKind(_choice(environ, IO_MANAGER_ENV_VAR, choices, default.value))
    if kind == IOManagerKind.FILESYSTEM:
        return {"io_manager": kind}

    bucket = environ.get(IO_BUCKET_ENV_VAR, "").strip()
    if not bucket:
        raise ConfigurationError(
            f"Environment variable {IO_BUCKET_ENV_VAR} is not set, and step outputs of the "
            f"{environment.value} environment go to S3. Set it to the bucket name, for example "
            f"{IO_BUCKET_ENV_VAR}=acme-blog-pipeline-{environment.value}, or set "
            f"{IO_MANAGER_ENV_VAR}=filesystem when every run executes on one machine."
        )
    prefix = environ.get(IO_PREFIX_ENV_VAR, "").strip().strip("/")
    return {
        "io_manager": kind,
        "io_manager_s3_bucket": bucket,
        "io_manager_s3_prefix": prefix or f"blog-pipeline/{environment.value}/io",
    }


def _required(environ: Mapping[str, str], name: str, example: str) -> str:
    value = environ.get(name, "").strip()
    return value or _missing(name, example)


def _missing(name: str, example: str):  # noqa: ANN202 - never returns
    raise ConfigurationError(
        f"Environment variable {name} is not set, and {ENV_VAR} selects a real environment. "
        f"Set it in .env (see .env.example), for example {name}={example}, or unset {ENV_VAR} "
        "to use the local sandbox."
    )


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigurationError(f"{name}={raw!r} is invalid: use a port number from 1 to 65535.")
    return int(raw)


def _url(environ: Mapping[str, str], name: str, example: str) -> str | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        parsed = urllib.parse.urlsplit(raw)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigurationError(
            f"{name}={raw!r} is invalid: use a full http:// or https:// URL such as {example}, "
            "or leave it empty for the service's own address."
        )
    return raw


def _smtp_security(environ: Mapping[str, str]) -> SMTPSecurity:
    security = cast(
        SMTPSecurity, _choice(environ, "SMTP_SECURITY", ("ssl", "starttls", "none"), "ssl")
    )
    host = environ.get("SMTP_HOST", "").strip()
    # A login over a plain connection to another machine would send the password in clear text.
    if security == "none" and host not in ("localhost", "127.0.0.1", "::1"):
        raise ConfigurationError(
            f"SMTP_SECURITY=none is only allowed for a server on this machine, not SMTP_HOST="
            f"{host!r}: use ssl (port 465) or starttls (port 587)."
        )
    return security


def _buffer_api(environ: Mapping[str, str]) -> BufferAPI:
    return cast(BufferAPI, _choice(environ, "BUFFER_API", ("graphql", "v1"), "graphql"))


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        raise ConfigurationError(f"{name}={raw!r} is invalid: use one of {', '.join(choices)}.")
    return raw
