"""Container entry point: load secrets from AWS Secrets Manager into the environment, then exec.

    python entrypoint.py COMMAND [ARG ...]

The pipeline's resources read each secret from an environment variable when a run's resources
start (see blog_pipeline/secrets.py). To feed them from Secrets Manager without putting a value
into Dagster config, the value must be in the environment before the process starts. This
script puts it there once per process and then replaces itself with the command. As the image's
ENTRYPOINT it wraps the code server, which Helm and Dagster+ start with ``dagster code-server
start`` or ``dagster api grpc`` as container args, and every run pod of K8sRunLauncher
(``dagster api execute_run``).

Selection, by environment variable (neither set: the command runs unchanged, nothing is fetched):

- ``BLOG_PIPELINE_AWS_SECRETS_TAG``: every secret carrying this tag key is loaded.
- ``BLOG_PIPELINE_AWS_SECRET_ARNS``: comma-separated secret ARNs (or names) to load.

Each secret's name becomes the variable name and its SecretString the value, as dagster-aws's
SecretsManagerSecretsResource maps them, so a secret must be named like the variable it feeds
(``OPENAI_API_KEY``). A variable that is already set and non-empty keeps its value, so an operator
can override one key through the Kubernetes Secret. Region, credentials and endpoint come from
boto3's default chain (``AWS_REGION``, the pod's IAM role, ``AWS_ENDPOINT_URL``).

Any failure to load exits with status 1 before the command starts, naming the cause but no value:
a code server that cannot read its secrets must not start and fail every run later.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Mapping, MutableMapping, Sequence

TAG_ENV_VAR = "BLOG_PIPELINE_AWS_SECRETS_TAG"
ARNS_ENV_VAR = "BLOG_PIPELINE_AWS_SECRET_ARNS"

# POSIX shells and Kubernetes accept these names; lower case is allowed, though unusual.
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PREFIX = "blog-pipeline entrypoint:"


class SecretsLoadError(Exception):
    """Loading secrets from AWS Secrets Manager failed; the message names no secret value."""


def fetch_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """Fetch the secrets that ``environ`` selects and return them by variable name.

    Returns an empty dict, without importing boto3, when neither selection variable is set.
    Raises SecretsLoadError when Secrets Manager fails or a secret cannot become a variable.
    """
    tag = environ.get(TAG_ENV_VAR, "").strip()
    arns = [arn.strip() for arn in environ.get(ARNS_ENV_VAR, "").split(",") if arn.strip()]
    if not tag and not arns:
        return {}

    import botocore.exceptions
    from dagster_aws.secretsmanager import SecretsManagerSecretsResource

    resource = SecretsManagerSecretsResource(secrets=arns, secrets_tag=tag or None)
    try:
        # dagster-aws marks the tag and ARN look-ups as beta; the warning would only add noise
        # to every pod start.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*currently in beta.*")
            secrets = resource.fetch_secrets()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        selection = f"tag {tag!r}" if tag else ""
        if arns:
            selection += (" and " if selection else "") + f"{len(arns)} ARN(s) in {ARNS_ENV_VAR}"
        raise SecretsLoadError(
            f"Loading secrets by {selection} from AWS Secrets Manager failed: {exc}. Check "
            "AWS_REGION and that the pod's IAM role may call secretsmanager:ListSecrets, "
            "DescribeSecret and GetSecretValue."
        ) from None

    for name, value in secrets.items():
        if not _VARIABLE_NAME.match(name):
            raise SecretsLoadError(
                f"Secret {name!r} cannot become an environment variable: name it like the "
                "variable it feeds, for example OPENAI_API_KEY."
            )
        if value is None:
            raise SecretsLoadError(
                f"Secret {name!r} has no SecretString: store the value as text, not binary."
            )
    return secrets


def apply_secrets(secrets: Mapping[str, str], environ: MutableMapping[str, str]) -> list[str]:
    """Set each secret in ``environ`` unless already set there; return the names left unchanged."""
    preset_names = []
    for name, value in sorted(secrets.items()):
        if environ.get(name, "").strip():
            preset_names.append(name)
        else:
            environ[name] = value
    return preset_names


def main(argv: Sequence[str]) -> int:
    if not argv:
        _report("no command given. Usage: entrypoint.py COMMAND [ARG ...]")
        return 2

    try:
        secrets = fetch_secrets(os.environ)
    except SecretsLoadError as exc:
        _report(str(exc))
        return 1

    if secrets:
        preset_names = apply_secrets(secrets, os.environ)
        loaded = sorted(set(secrets) - set(preset_names))
        _report(
            f"loaded {len(loaded)} secret(s) from AWS Secrets Manager: "
            f"{', '.join(loaded) or 'none'}"
        )
        if preset_names:
            names = ", ".join(preset_names)
            _report(f"kept the value already set in the environment for: {names}")

    try:
        # The command comes from the container spec, as with any ENTRYPOINT that wraps CMD.
        os.execvp(argv[0], list(argv))  # noqa: S606
    except OSError as exc:
        _report(f"cannot start {argv[0]!r}: {exc.strerror}")
        return 127
    return 0  # not reached: execvp replaces the process


def _report(message: str) -> None:
    # stderr of the container, so `kubectl logs` shows it; a logging setup would be overkill for
    # the few lines before exec.
    sys.stderr.write(f"{_PREFIX} {message}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
