"""deploy/terraform, checked statically: no provider can be downloaded here, so no plan runs.

python-hcl2 parses the files. The tests check the provider pins, the state backend and that no
secret is in a tfvars file. They also feed the ConfigMap and Secret that Terraform writes to
blog_pipeline/environment.py for dev and prod. Where a terraform binary is on PATH,
`terraform fmt -check` runs as well, because it needs no provider and no network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from blog_pipeline.environment import Environment, IOManagerKind, load_settings
from blog_pipeline_tests import terraform_files
from blog_pipeline_tests.terraform_files import TERRAFORM

ENVIRONMENTS = ("dev", "prod")
SECRET_VARIABLES = {
    "openai_api_key",
    "buffer_token",
    "buffer_channel_id",
    "smtp_user",
    "smtp_password",
    "postgres_password",
}


def test_providers_pinned_exactly() -> None:
    [terraform] = terraform_files.load("versions.tf")["terraform"]
    [providers] = terraform["required_providers"]

    assert set(providers) == {"helm", "kubernetes"}
    for name, requirement in providers.items():
        assert requirement["source"] == f"hashicorp/{name}"
        assert re.fullmatch(r"= \d+\.\d+\.\d+", requirement["version"]), requirement
    assert re.fullmatch(r">= 1\.\d+\.\d+, < 2\.0\.0", terraform["required_version"])


def test_state_in_s3_with_lock_table() -> None:
    [terraform] = terraform_files.load("versions.tf")["terraform"]
    [backend] = terraform["backend"]
    s3 = backend["s3"]

    assert s3["bucket"]
    assert s3["region"]
    assert s3["dynamodb_table"]
    assert s3["encrypt"] is True
    assert s3["kms_key_id"]
    # The state object differs per environment, so it comes from the -backend-config file.
    assert "key" not in s3
    keys = {terraform_files.load(f"env/{e}.s3.tfbackend")["key"] for e in ENVIRONMENTS}
    assert len(keys) == len(ENVIRONMENTS)


def test_release_of_official_chart_with_both_values_files() -> None:
    release = terraform_files.resource("helm_release", "dagster")
    variables = terraform_files.variables()
    tags = {item["name"]: item["value"] for item in release["set"]}

    assert release["repository"] == "https://dagster-io.github.io/helm"
    assert release["chart"] == "dagster"
    assert release["version"] == "${var.chart_version}"
    assert variables["chart_version"]["default"] == "1.13.27"
    assert release["values"] == [
        '${file("${local.helm_dir}/values.yaml")}',
        '${file("${local.helm_dir}/values-${var.environment}.yaml")}',
    ]
    assert tags["dagster-user-deployments.deployments[0].image.tag"] == "${var.image_tag}"
    assert release["atomic"] is True
    for environment in ENVIRONMENTS:
        assert (TERRAFORM.parent / "helm" / f"values-{environment}.yaml").exists()


def test_image_tag_must_be_commit_sha() -> None:
    [validation] = terraform_files.variables()["image_tag"]["validation"]
    pattern = re.search(r'regex\("(.+?)", var\.image_tag\)', validation["condition"])
    assert pattern, validation["condition"]
    regex = pattern[1].replace("\\\\", "\\")

    assert re.search(regex, "3f2c9a1")
    assert re.search(regex, "3f2c9a1e0b6d4c8f9a7b5e3d1c2b4a6f8e0d2c4b")
    assert not re.search(regex, "latest")
    assert not re.search(regex, "main")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_tfvars_hold_no_secret(environment: str) -> None:
    values = terraform_files.tfvars(environment)

    assert not SECRET_VARIABLES & set(values)
    for name, value in values.items():
        assert not re.search(r"password|token|secret|api_key", name), name
        assert not re.match(r"(sk-|AKIA)", str(value)), name


def test_secret_variables_are_sensitive() -> None:
    variables = terraform_files.variables()

    for name in SECRET_VARIABLES:
        assert variables[name]["sensitive"] is True, name
        assert variables[name].get("default", "") == "", name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_config_map_configures_environment(environment: str) -> None:
    settings_map = terraform_files.local_map("pipeline_settings", environment)
    values = terraform_files.variable_values(environment)

    settings = load_settings(settings_map)

    assert settings.environment == Environment(environment)
    assert settings.io_manager == IOManagerKind.S3
    assert settings.io_manager_s3_bucket == values["io_bucket"]
    assert settings.smtp_host == values["smtp_host"]
    assert settings.dagster_ui_url == values["dagster_ui_url"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_secret_keys_match_resource_variables(environment: str) -> None:
    settings = load_settings(terraform_files.local_map("pipeline_settings", environment))
    secret_keys = set(terraform_files.local_map("pipeline_secrets", environment))

    assert secret_keys == {
        settings.openai_api_key_env_var,
        settings.buffer_token_env_var,
        settings.buffer_channel_env_var,
        settings.smtp_username_env_var,
        settings.smtp_password_env_var,
    }


def test_terraform_fmt() -> None:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH; CI's deploy-files job runs terraform fmt")
    environment = {
        **os.environ,
        # No update check against HashiCorp's servers, and no user CLI configuration.
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": os.devnull,
    }

    result = subprocess.run(  # noqa: S603 - terraform from PATH with fixed arguments
        [binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_file_parses() -> None:
    files = sorted(Path(TERRAFORM).rglob("*.tf")) + sorted(Path(TERRAFORM).rglob("*.tfvars"))

    assert len(files) >= 6
    for path in files:
        assert terraform_files.load(str(path.relative_to(TERRAFORM))), path
