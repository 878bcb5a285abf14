"""deploy/helm values against the keys the official dagster/dagster chart documents.

CHART_KEYS encodes the part of the chart's values schema these files rely on, for chart version
1.13.27. It follows the pydantic models the chart's values.schema.json is generated from, in the
dagster-io/dagster repository under helm/dagster/schema/schema/charts/ (dagster/values.py, the
subschema modules run_launcher.py, compute_log_manager.py, daemon.py, webserver.py,
postgresql.py, retention.py, global_.py, service_account.py, telemetry.py, and
dagster_user_deployments/subschema/user_deployments.py). A key outside it, a wrong type or an
unknown enum value fails here; CI's `helm template` step checks the real schema as well.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from blog_pipeline_tests import terraform_files

PROJECT = Path(__file__).resolve().parents[1]
HELM = PROJECT / "deploy" / "helm"
TERRAFORM = PROJECT / "deploy" / "terraform"
CHART_VERSION = "1.13.27"
ENVIRONMENTS = ("dev", "prod")


class Free:
    """A Kubernetes object (resources, securityContext, annotations): any mapping."""


class Open(dict):
    """A mapping schema that allows keys beyond the listed ones (no extra="forbid" upstream)."""


IMAGE = {"repository": str, "tag": str, "pullPolicy": ("Always", "IfNotPresent", "Never")}
ENV_SOURCE = {"name": str, "optional": bool}
RESOURCES = {
    "requests": {"cpu": (str, int), "memory": str},
    "limits": {"cpu": (str, int), "memory": str},
}
TICK_RETENTION = {
    "purgeAfterDays": (int, {"skipped": int, "success": int, "failure": int, "started": int})
}

USER_DEPLOYMENT = {
    "name": str,
    "image": IMAGE,
    "dagsterApiGrpcArgs": [str],
    "codeServerArgs": [str],
    "includeConfigInLaunchedRuns": {"enabled": bool},
    "deploymentNamespace": str,
    "port": int,
    "replicaCount": int,
    "env": (Free, [Free]),
    "envConfigMaps": [ENV_SOURCE],
    "envSecrets": [ENV_SOURCE],
    "annotations": Free,
    "nodeSelector": Free,
    "affinity": Free,
    "tolerations": [Free],
    "podSecurityContext": Free,
    "securityContext": Free,
    "resources": RESOURCES,
    "livenessProbe": Free,
    "readinessProbe": Free,
    "startupProbe": Free,
    "labels": Free,
    "volumeMounts": [Free],
    "volumes": [Free],
    "schedulerName": str,
    "initContainers": [Free],
    "sidecarContainers": [Free],
    "deploymentStrategy": Free,
}

WORKLOAD = {
    "enabled": bool,
    "replicaCount": int,
    "image": IMAGE,
    "env": (Free, [Free]),
    "envConfigMaps": [ENV_SOURCE],
    "envSecrets": [ENV_SOURCE],
    "deploymentLabels": Free,
    "labels": Free,
    "nodeSelector": Free,
    "affinity": Free,
    "tolerations": [Free],
    "podSecurityContext": Free,
    "securityContext": Free,
    "resources": RESOURCES,
    "livenessProbe": Free,
    "readinessProbe": Free,
    "startupProbe": Free,
    "annotations": Free,
    "schedulerName": str,
    "volumeMounts": [Free],
    "volumes": [Free],
}

CHART_KEYS: dict[str, Any] = {
    "global": {
        "postgresqlSecretName": str,
        "dagsterHome": str,
        "serviceAccountName": str,
        "celeryConfigSecretName": str,
        "dagsterInstanceConfigMap": str,
    },
    "generatePostgresqlPasswordSecret": bool,
    "serviceAccount": {"create": bool, "name": str, "annotations": Free},
    "imagePullSecrets": [Free],
    "dagsterWebserver": Open(
        {
            **WORKLOAD,
            "nameOverride": str,
            "service": Free,
            "workspace": Free,
            "enableReadOnly": bool,
            "pathPrefix": str,
            "logLevel": str,
            "dbStatementTimeout": int,
            "dbPoolRecycle": int,
        }
    ),
    "dagsterDaemon": {
        **WORKLOAD,
        "runCoordinator": {
            "enabled": bool,
            "type": ("QueuedRunCoordinator", "CustomRunCoordinator"),
            "config": {
                "queuedRunCoordinator": {
                    "maxConcurrentRuns": int,
                    "tagConcurrencyLimits": [
                        {
                            "key": str,
                            "value": (str, {"applyLimitPerUniqueValue": bool}),
                            "limit": int,
                        }
                    ],
                    "dequeueIntervalSeconds": int,
                    "dequeueNumWorkers": int,
                    "dequeueUseThreads": bool,
                    "blockOpConcurrencyLimitedRuns": {
                        "enabled": bool,
                        "opConcurrencySlotBuffer": int,
                    },
                },
                "customRunCoordinator": Free,
            },
        },
        "heartbeatTolerance": int,
        "checkDbReadyInitContainer": bool,
        "runMonitoring": Free,
        "runRetries": {"enabled": bool, "maxRetries": int, "retryOnAssetOrOpFailure": bool},
        "sensors": Free,
        "schedules": Free,
        "backfills": Free,
        "logFormat": str,
        "initContainerResources": RESOURCES,
    },
    "dagster-user-deployments": {
        "enabled": bool,
        "enableSubchart": bool,
        "imagePullSecrets": [Free],
        "deployments": [USER_DEPLOYMENT],
    },
    "runLauncher": {
        "type": ("K8sRunLauncher", "CeleryK8sRunLauncher", "CustomRunLauncher"),
        "config": {
            "k8sRunLauncher": {
                "image": IMAGE,
                "imagePullPolicy": ("Always", "IfNotPresent", "Never"),
                "jobNamespace": str,
                "loadInclusterConfig": bool,
                "kubeconfigFile": str,
                "envConfigMaps": [ENV_SOURCE],
                "envSecrets": [ENV_SOURCE],
                "envVars": [str],
                "volumeMounts": [Free],
                "volumes": [Free],
                "labels": Free,
                "failPodOnRunFailure": bool,
                "resources": RESOURCES,
                "schedulerName": str,
                "securityContext": Free,
                "runK8sConfig": {
                    "containerConfig": Free,
                    "podSpecConfig": Free,
                    "podTemplateSpecMetadata": Free,
                    "jobSpecConfig": Free,
                    "jobMetadata": Free,
                },
            },
            "celeryK8sRunLauncher": Free,
            "customRunLauncher": Free,
        },
    },
    # The chart's PostgreSQL model does not forbid extra keys: they reach the Bitnami subchart.
    "postgresql": Open(
        {
            "image": Free,
            "enabled": bool,
            "postgresqlHost": str,
            "postgresqlUsername": str,
            "postgresqlPassword": str,
            "postgresqlDatabase": str,
            "postgresqlParams": Free,
            "postgresqlScheme": str,
            "service": {"port": int},
            "pool": Free,
        }
    ),
    "computeLogManager": {
        "type": (
            "NoOpComputeLogManager",
            "AzureBlobComputeLogManager",
            "GCSComputeLogManager",
            "S3ComputeLogManager",
            "LocalComputeLogManager",
            "CustomComputeLogManager",
        ),
        "config": {
            "s3ComputeLogManager": {
                "bucket": str,
                "localDir": str,
                "prefix": str,
                "useSsl": bool,
                "verify": bool,
                "verifyCertPath": str,
                "endpointUrl": str,
                "skipEmptyFiles": bool,
                "uploadInterval": int,
                "uploadExtraArgs": Free,
                "showUrlOnly": bool,
                "region": str,
            },
            "azureBlobComputeLogManager": Free,
            "gcsComputeLogManager": Free,
            "localComputeLogManager": Free,
            "customComputeLogManager": Free,
        },
    },
    "retention": {
        "enabled": bool,
        "sensor": TICK_RETENTION,
        "schedule": TICK_RETENTION,
        "autoMaterialize": TICK_RETENTION,
    },
    "telemetry": {"enabled": bool},
}


def check_against(value: Any, schema: Any, path: str) -> list[str]:
    """Return the problems of ``value`` against ``schema``; the path names each one."""
    if schema is Free:
        return [] if isinstance(value, dict) else [f"{path}: expected a mapping"]
    if isinstance(schema, tuple) and all(isinstance(option, str) for option in schema):
        return [] if value in schema else [f"{path}: {value!r} is not one of {schema}"]
    if isinstance(schema, tuple):
        results = [check_against(value, option, path) for option in schema]
        return [] if any(not problems for problems in results) else results[0]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [
            p
            for i, item in enumerate(value)
            for p in check_against(item, schema[0], f"{path}[{i}]")
        ]
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping"]
        problems = []
        for key, item in value.items():
            if key in schema:
                problems += check_against(item, schema[key], f"{path}.{key}")
            elif not isinstance(schema, Open):
                problems.append(f"{path}.{key}: not a key of the chart")
        return problems
    if schema is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    return (
        [] if isinstance(value, schema) else [f"{path}: expected {schema.__name__}, got {value!r}"]
    )


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((HELM / name).read_text())


def merged(environment: str) -> dict[str, Any]:
    """values.yaml with the overlay on top, as Helm merges them: maps deep, lists replaced."""

    def merge(base: dict, overlay: dict) -> dict:
        result = copy.deepcopy(base)
        for key, value in overlay.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merge(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
        return result

    return merge(load("values.yaml"), load(f"values-{environment}.yaml"))


def cpu_millicores(quantity: str | int) -> float:
    text = str(quantity)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def memory_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity)
    assert match, f"memory {quantity!r} is not in Ki, Mi or Gi"
    return int(match[1]) * units[match[2]]


@pytest.mark.parametrize("name", ["values.yaml", "values-dev.yaml", "values-prod.yaml"])
def test_values_use_only_documented_keys(name: str) -> None:
    assert check_against(load(name), CHART_KEYS, "values") == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_merged_values_use_only_documented_keys(environment: str) -> None:
    assert check_against(merged(environment), CHART_KEYS, "values") == []


def test_key_check_rejects_unknown_and_mistyped_keys() -> None:
    broken = merged("prod")
    broken["runLauncher"]["config"]["k8sRunLauncher"]["envSecret"] = []
    broken["runLauncher"]["type"] = "K8sLauncher"
    broken["dagster-user-deployments"]["deployments"][0]["port"] = "4000"

    problems = check_against(broken, CHART_KEYS, "values")

    assert "values.runLauncher.config.k8sRunLauncher.envSecret: not a key of the chart" in problems
    assert any(p.startswith("values.runLauncher.type: 'K8sLauncher'") for p in problems)
    assert any(
        p.startswith("values.dagster-user-deployments.deployments[0].port") for p in problems
    )


def test_chart_version_matches_dagster_release() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    dagster_pin = next(d for d in project["dependencies"] if d.startswith("dagster=="))
    values = load("values.yaml")
    variables = (TERRAFORM / "variables.tf").read_text()

    assert dagster_pin == f"dagster=={CHART_VERSION}"
    assert f"`dagster/dagster`, version {CHART_VERSION}" in (HELM / "values.yaml").read_text()
    assert values["dagsterWebserver"]["image"]["tag"] == CHART_VERSION
    assert values["dagsterDaemon"]["image"]["tag"] == CHART_VERSION
    assert re.search(rf'default\s*=\s*"{re.escape(CHART_VERSION)}"', variables)


def test_user_deployment_serves_this_code_location() -> None:
    tool = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["dagster"]
    dockerfile = (PROJECT / "deploy" / "Dockerfile").read_text()
    subchart = load("values.yaml")["dagster-user-deployments"]
    [deployment] = subchart["deployments"]
    args = deployment["codeServerArgs"]

    assert subchart["enabled"] is True
    assert subchart["enableSubchart"] is True
    assert args[args.index("--module-name") + 1] == tool["module_name"]
    assert args[args.index("--location-name") + 1] == tool["code_location_name"]
    assert f"EXPOSE {deployment['port']}" in dockerfile
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}


def test_each_run_gets_its_own_pod() -> None:
    launcher = load("values.yaml")["runLauncher"]
    config = launcher["config"]["k8sRunLauncher"]

    assert launcher["type"] == "K8sRunLauncher"
    assert config["loadInclusterConfig"] is True
    assert config["runK8sConfig"]["jobSpecConfig"]["backoffLimit"] == 0


def test_secrets_come_from_kubernetes_secrets() -> None:
    values = load("values.yaml")
    [deployment] = values["dagster-user-deployments"]["deployments"]
    [secret] = terraform_files.resource("kubernetes_secret", "pipeline")["metadata"]
    [config_map] = terraform_files.resource("kubernetes_config_map", "pipeline")["metadata"]
    postgres_secret = terraform_files.resource("kubernetes_secret", "postgresql")
    [postgres_metadata] = postgres_secret["metadata"]

    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["postgresql"]["postgresqlPassword"] == ""
    assert values["global"]["postgresqlSecretName"] == postgres_metadata["name"]
    assert "postgresql-password" in postgres_secret["data"]
    assert deployment["envSecrets"] == [{"name": secret["name"]}]
    assert deployment["envConfigMaps"] == [{"name": config_map["name"]}]
    assert "env" not in deployment


@pytest.mark.parametrize("name", ["values.yaml", "values-dev.yaml", "values-prod.yaml"])
def test_no_secret_value_in_values(name: str) -> None:
    def walk(node: Any, path: str) -> list[str]:
        if isinstance(node, dict):
            return [p for key, value in node.items() for p in walk(value, f"{path}.{key}")]
        if isinstance(node, list):
            return [p for i, value in enumerate(node) for p in walk(value, f"{path}[{i}]")]
        secret_key = re.search(r"password|token|secretkey|apikey", path.rsplit(".", 1)[-1], re.I)
        return [path] if secret_key and isinstance(node, str) and node else []

    assert walk(load(name), "values") == []


@pytest.mark.parametrize(
    "path",
    [
        ("dagsterWebserver",),
        ("dagsterDaemon",),
        ("dagster-user-deployments", "deployments", 0),
        ("runLauncher", "config", "k8sRunLauncher"),
    ],
    ids=["webserver", "daemon", "code-server", "run-pods"],
)
def test_requests_within_limits(path: tuple) -> None:
    node: Any = load("values.yaml")
    for key in path:
        node = node[key]
    resources = node["resources"]

    assert cpu_millicores(resources["requests"]["cpu"]) <= cpu_millicores(
        resources["limits"]["cpu"]
    )
    assert memory_bytes(resources["requests"]["memory"]) <= memory_bytes(
        resources["limits"]["memory"]
    )


def test_compute_logs_in_s3_per_environment() -> None:
    buckets = set()
    for environment in ENVIRONMENTS:
        manager = merged(environment)["computeLogManager"]
        bucket = manager["config"]["s3ComputeLogManager"]["bucket"]
        assert manager["type"] == "S3ComputeLogManager"
        assert environment in bucket
        buckets.add(bucket)
    assert len(buckets) == 2


def test_prod_uses_external_postgres_and_dev_bundled() -> None:
    prod = merged("prod")["postgresql"]
    dev = merged("dev")["postgresql"]
    instance = yaml.safe_load((PROJECT / "deploy" / "dagster.yaml").read_text())
    scheme = instance["storage"]["postgres"]["postgres_db"]["scheme"]

    assert prod["enabled"] is False
    assert prod["postgresqlHost"].endswith(".rds.amazonaws.com")
    assert prod["postgresqlParams"]["sslmode"] in {"require", "verify-ca", "verify-full"}
    assert dev["enabled"] is True
    assert dev["existingSecret"] == load("values.yaml")["global"]["postgresqlSecretName"]
    assert prod["postgresqlScheme"] == dev["postgresqlScheme"] == scheme


def test_each_environment_has_its_own_role() -> None:
    roles = {
        environment: merged(environment)["serviceAccount"]["annotations"][
            "eks.amazonaws.com/role-arn"
        ]
        for environment in ENVIRONMENTS
    }

    assert roles["dev"] != roles["prod"]
    for environment, role in roles.items():
        assert re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/blog-pipeline-{environment}", role)
