"""A local S3 and Secrets Manager: moto in server mode on 127.0.0.1, for the deployment tests.

boto3 reaches it through ``AWS_ENDPOINT_URL``, the variable botocore reads for every service, so
the code under test (dagster-aws's S3ComputeLogManager, S3PickleIOManager and
SecretsManagerSecretsResource) runs unchanged, with no endpoint in its configuration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer

REGION = "eu-central-1"


@contextmanager
def running_moto_server() -> Iterator[str]:
    """Start moto on a free loopback port and yield its endpoint URL; stop it afterwards."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """Environment variables that point boto3 at ``endpoint_url`` with throw-away credentials.

    The shared config and credentials files are replaced by /dev/null, so a developer's real AWS
    profile can neither be used nor leak into a test.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


# Variables of a developer's shell that would redirect or authenticate boto3 elsewhere.
AWS_VARIABLES_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
