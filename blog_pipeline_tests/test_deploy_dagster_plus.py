"""dagster_cloud.yaml, validated by the Dagster+ CLI's own model and dagster-k8s's container
context, and consistent with the rest of the deployment."""

from __future__ import annotations

import tomllib
from pathlib import Path

from dagster_cloud_cli.config.models import load_dagster_cloud_yaml
from dagster_k8s.container_context import K8sContainerContext

from blog_pipeline_tests import terraform_files

PROJECT = Path(__file__).resolve().parents[1]


def location():  # noqa: ANN201 - dagster_cloud_cli's Location model
    config = load_dagster_cloud_yaml((PROJECT / "dagster_cloud.yaml").read_text())
    [only] = config.locations
    return only


def test_location_loads_this_project() -> None:
    tool = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["dagster"]
    found = location()

    assert found.location_name == tool["code_location_name"]
    assert found.code_source is not None
    assert found.code_source.module_name == tool["module_name"]
    assert found.build is not None
    assert found.build.directory == "./"
    assert found.build.registry == terraform_files.tfvars("prod")["image_repository"]


def test_container_context_is_valid_for_kubernetes_agent() -> None:
    context = K8sContainerContext.create_from_config(location().container_context)
    [secret] = terraform_files.resource("kubernetes_secret", "pipeline")["metadata"]
    [config_map] = terraform_files.resource("kubernetes_config_map", "pipeline")["metadata"]

    for k8s_config in (context.server_k8s_config, context.run_k8s_config):
        assert k8s_config.container_config["env_from"] == [
            {"config_map_ref": {"name": config_map["name"]}},
            {"secret_ref": {"name": secret["name"]}},
        ]
        assert set(k8s_config.container_config["resources"]) == {"requests", "limits"}
    assert context.run_k8s_config.pod_spec_config["security_context"]["run_as_non_root"] is True


def test_no_environment_value_overrides_config_map() -> None:
    # Container `env` wins over `envFrom`, so a BLOG_PIPELINE_ENV here would override the
    # ConfigMap's (and Dagster+'s per-deployment) value in every deployment.
    context = K8sContainerContext.create_from_config(location().container_context)

    assert "env" not in context.server_k8s_config.container_config
    assert "env" not in context.run_k8s_config.container_config
