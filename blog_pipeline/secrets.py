"""Secrets read from environment variables when a run's resources start.

Resources keep the *name* of each secret's environment variable in their config, so the UI, the
run config and the event log only ever show the name. The value is read with ``dagster.EnvVar``
during resource setup, not when the definitions load. Dagster resolves a config field bound to
``EnvVar`` while it builds the execution plan, so an unset variable there rejects the launch (and
the 08:00 schedule tick) before any run exists, and no failure sensor can report it. Reading in
setup instead turns a missing secret into a failed run with an alert.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import dagster as dg

from blog_pipeline.errors import ConfigurationError

REDACTED = "[redacted]"

# OpenAI's 401 message echoes a masked key such as "sk-proj-****...abcd". Its tail is still a
# fragment of the secret, so anything shaped like a key is removed as well.
_KEY_SHAPED = re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-*]{6,}")


def read_secret(env_var: str, *, purpose: str) -> str:
    """Read a secret from the environment variable ``env_var``.

    Raises ConfigurationError naming the variable when it is unset, empty or only whitespace.
    """
    value = dg.EnvVar(env_var).get_value()
    if value is None or not value.strip():
        state = "not set" if value is None else "empty"
        raise ConfigurationError(
            f"Environment variable {env_var} ({purpose}) is {state}. Set it in .env next to "
            "pyproject.toml for `dagster dev` (see .env.example), export it in the shell, or add "
            "it to the deployment's secret store (Kubernetes Secret, Dagster+ environment "
            "variable). Without keys, run `blog-pipeline sandbox run` instead."
        )
    if value != value.strip():
        raise ConfigurationError(
            f"Environment variable {env_var} ({purpose}) has leading or trailing whitespace. "
            "Remove it where the variable is set, for example a stray newline in .env."
        )
    return value


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret and every key-shaped token in ``text`` with ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _KEY_SHAPED.sub(REDACTED, text)
