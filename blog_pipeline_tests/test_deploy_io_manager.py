"""The IO manager each environment selects for step outputs.

prod stores them in S3 by default, so a run pod on Kubernetes or a re-execution in a new pod can
load them. dev and the sandbox keep them on the local filesystem unless the deployment selects
S3.
"""

from __future__ import annotations

import pytest
from dagster_aws.s3 import S3PickleIOManager

from blog_pipeline.definitions import build_definitions
from blog_pipeline.environment import IOManagerKind, load_settings
from blog_pipeline.errors import ConfigurationError

SERVICES = {
    "SMTP_HOST": "smtp.example.com",
    "ALERT_EMAIL_FROM": "blog-pipeline@example.com",
    "ALERT_EMAIL_TO": "ops@example.com",
}


@pytest.mark.parametrize(
    "selection",
    [
        {"BLOG_PIPELINE_ENV": "prod"},
        {"BLOG_PIPELINE_ENV": "dev", "BLOG_PIPELINE_IO_MANAGER": "s3"},
    ],
    ids=["prod-default", "dev-selected"],
)
def test_deployments_store_outputs_in_s3(selection: dict[str, str]) -> None:
    environ = {**SERVICES, **selection, "BLOG_PIPELINE_IO_BUCKET": "acme-io"}
    environment = selection["BLOG_PIPELINE_ENV"]

    settings = load_settings(environ)
    io_manager = build_definitions(settings).resources["io_manager"]

    assert settings.io_manager == IOManagerKind.S3
    assert isinstance(io_manager, S3PickleIOManager)
    assert io_manager.s3_bucket == "acme-io"
    assert io_manager.s3_prefix == f"blog-pipeline/{environment}/io"
    # No key in the config: boto3's default chain (the pod's IAM role) supplies credentials.
    assert io_manager.s3_resource.aws_access_key_id is None
    assert io_manager.s3_resource.aws_secret_access_key is None


@pytest.mark.parametrize("environ", [{}, {**SERVICES, "BLOG_PIPELINE_ENV": "dev"}])
def test_sandbox_and_local_dev_keep_default_io_manager(environ: dict[str, str]) -> None:
    settings = load_settings(environ)

    assert settings.io_manager == IOManagerKind.FILESYSTEM
    assert "io_manager" not in build_definitions(settings).resources


def test_prod_without_bucket_names_variable() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**SERVICES, "BLOG_PIPELINE_ENV": "prod"})

    message = str(raised.value)
    assert "BLOG_PIPELINE_IO_BUCKET is not set" in message
    assert "BLOG_PIPELINE_IO_MANAGER=filesystem" in message


def test_single_machine_may_choose_filesystem() -> None:
    environ = {**SERVICES, "BLOG_PIPELINE_ENV": "prod", "BLOG_PIPELINE_IO_MANAGER": "filesystem"}

    settings = load_settings(environ)

    assert settings.io_manager == IOManagerKind.FILESYSTEM
    assert "io_manager" not in build_definitions(settings).resources


def test_sandbox_may_choose_s3_with_own_prefix() -> None:
    environ = {
        "BLOG_PIPELINE_IO_MANAGER": "S3",
        "BLOG_PIPELINE_IO_BUCKET": "local-io",
        "BLOG_PIPELINE_IO_PREFIX": "/team/outputs/",
    }

    settings = load_settings(environ)

    assert settings.io_manager == IOManagerKind.S3
    assert settings.io_manager_s3_prefix == "team/outputs"


def test_unknown_io_manager_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="BLOG_PIPELINE_IO_MANAGER='gcs' is invalid"):
        load_settings({"BLOG_PIPELINE_IO_MANAGER": "gcs"})
