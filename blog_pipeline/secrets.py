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
import unicodedata
from collections.abc import Iterable

import dagster as dg

from blog_pipeline.errors import ConfigurationError

REDACTED = "[redacted]"

# Every secret this process has read, so an error from one service that quotes another service's
# secret is redacted too.
_READ_SECRETS: set[str] = set()

# OpenAI's 401 message echoes a masked key such as "sk-proj-****...abcd". Its tail is still a
# fragment of the secret, so anything shaped like a key is removed as well.
_KEY_SHAPED = re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-*]{6,}")


def read_secret(
    env_var: str, *, purpose: str, spaces_allowed: bool = False, confidential: bool = True
) -> str:
    """Read a secret from the environment variable ``env_var``.

    Raises ConfigurationError naming the variable when it is unset, empty, padded with
    whitespace, or contains a control character such as a line break (or any space, unless
    ``spaces_allowed``, because keys and tokens have none). A line break would otherwise end up
    in an HTTP header, and the HTTP library's error quotes the whole header value. A
    ``confidential`` value is redacted from every later error message of this process.
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
    if not spaces_allowed and not value.isascii():
        raise ConfigurationError(
            f"Environment variable {env_var} ({purpose}) contains non-ASCII characters, which "
            "keys and tokens never have. Copy the value again from the provider's settings page."
        )
    inner = [
        c for c in value if unicodedata.category(c) == "Cc" or (c.isspace() and not spaces_allowed)
    ]
    if inner:
        kind = (
            "a line break or control character"
            if any(unicodedata.category(c) == "Cc" for c in inner)
            else "a space"
        )
        raise ConfigurationError(
            f"Environment variable {env_var} ({purpose}) contains {kind} inside the value. "
            "Copy the value again as one line without spaces, for example from the provider's "
            "settings page into .env."
        )
    if confidential:
        _READ_SECRETS.add(value)
    return value


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace ``secrets``, every secret read in this process and every key-shaped token in
    ``text`` with ``[redacted]``."""
    for secret in {*secrets, *_READ_SECRETS}:
        if secret:
            # Also the escaped form that reprs of bytes and strings show.
            for form in {secret, repr(secret)[1:-1], secret.encode("unicode_escape").decode()}:
                text = text.replace(form, REDACTED)
    return _KEY_SHAPED.sub(REDACTED, text)
