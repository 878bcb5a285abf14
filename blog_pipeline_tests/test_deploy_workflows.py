"""The GitHub Actions workflows: valid against GitHub's workflow schema, and doing what the
deployment relies on (prod only from main, secrets only from the CI secret store)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from blog_pipeline_tests import terraform_files

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOWS = PROJECT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))


def workflow(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as the boolean True (YAML 1.1); BaseLoader keeps every scalar a
    # string, which is all these checks need.
    return yaml.load((WORKFLOWS / name).read_text(), Loader=yaml.BaseLoader)  # noqa: S506


def all_steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def test_expected_workflows_exist() -> None:
    assert {path.name for path in WORKFLOW_FILES} == {"ci.yml", "deploy.yml", "dagster-plus.yml"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_workflow_matches_github_schema(path: Path) -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")

    result = subprocess.run(  # noqa: S603 - the venv's check-jsonschema with fixed arguments
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps:\n      - run: true\n")
    checker = Path(sys.executable).with_name("check-jsonschema")

    result = subprocess.run(  # noqa: S603 - the venv's check-jsonschema with fixed arguments
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # A job without runs-on is not a valid job.
    assert result.returncode == 1


def test_ci_runs_lint_types_tests_validation_and_policy() -> None:
    document = workflow("ci.yml")
    commands = "\n".join(step.get("run", "") for step in all_steps(document))

    assert "ruff check ." in commands
    assert "ruff format --check ." in commands
    assert "mypy blog_pipeline" in commands
    assert "bash .ci/run" in commands
    assert "BLOG_PIPELINE_ENV=prod dagster definitions validate" in commands
    assert "check-jsonschema --builtin-schema vendor.github-workflows" in commands
    assert "terraform fmt -check" in commands
    assert "helm template" in commands
    assert "checkov --config-file deploy/checkov.yaml" in commands
    assert document["permissions"] == {"contents": "read"}


def test_deploy_sends_prod_only_from_main() -> None:
    document = workflow("deploy.yml")
    job = document["jobs"]["deploy"]
    matrix = job["strategy"]["matrix"]["environment"]
    [guard] = [step for step in job["steps"] if step.get("name") == "Stop unless main deploys prod"]

    assert "github.ref == 'refs/heads/main' && '[\"prod\"]' || '[\"dev\"]'" in matrix
    assert "matrix.environment == 'prod'" in guard["if"]
    assert "github.ref != 'refs/heads/main'" in guard["if"]
    assert "exit 1" in guard["run"]
    assert job["concurrency"]["cancel-in-progress"] == "false"


def test_deploy_diffs_before_applying() -> None:
    steps = workflow("deploy.yml")["jobs"]["deploy"]["steps"]
    names = [step.get("name", step.get("uses", "")) for step in steps]
    apply = steps[names.index("Terraform apply")]

    assert names.index("Terraform plan") < names.index("Helm diff") < names.index("Terraform apply")
    assert "helm diff upgrade dagster dagster/dagster" in steps[names.index("Helm diff")]["run"]
    assert apply["if"] == "github.event_name != 'pull_request'"
    assert "deploy.tfplan" in apply["run"]


def test_deploy_builds_image_tagged_with_commit() -> None:
    document = workflow("deploy.yml")
    [build] = [
        step
        for step in document["jobs"]["image"]["steps"]
        if step.get("uses", "").startswith("docker/build-push-action@")
    ]

    assert build["with"]["file"] == "deploy/Dockerfile"
    assert build["with"]["tags"] == "${{ env.IMAGE_REPOSITORY }}:${{ github.sha }}"
    assert build["with"]["push"] == "true"
    assert document["env"]["IMAGE_REPOSITORY"] == terraform_files.tfvars("prod")["image_repository"]


def test_deploy_secrets_come_from_secret_store() -> None:
    env = workflow("deploy.yml")["jobs"]["deploy"]["env"]
    sensitive = {
        name for name, body in terraform_files.variables().items() if body.get("sensitive") is True
    }

    for name in sensitive:
        assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", env[f"TF_VAR_{name}"]), name


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_no_literal_secret_in_workflow(path: Path) -> None:
    def walk(node: Any, key: str = "") -> list[str]:
        if isinstance(node, dict):
            return [p for k, v in node.items() for p in walk(v, k)]
        if isinstance(node, list):
            return [p for item in node for p in walk(item, key)]
        secret_key = re.search(r"password|token|secret|api_key", key, re.IGNORECASE)
        from_store = re.fullmatch(r"\$\{\{ secrets\.\w+ \}\}", node)
        return [f"{key}={node}"] if secret_key and node and not from_store else []

    assert walk(yaml.load(path.read_text(), Loader=yaml.BaseLoader)) == []  # noqa: S506


def test_dagster_plus_branch_deployments_on_pull_requests() -> None:
    document = workflow("dagster-plus.yml")
    steps = document["jobs"]["deploy"]["steps"]
    by_name = {step.get("name", ""): step for step in steps}
    cloud = yaml.safe_load((PROJECT / "dagster_cloud.yaml").read_text())
    [location] = cloud["locations"]

    assert "closed" in document["on"]["pull_request"]["types"]
    assert document["on"]["push"]["branches"] == ["main"]
    assert by_name["Initialize the build session"]["with"]["deployment"] == "prod"
    assert (
        f"--location-name={location['location_name']}"
        in by_name["Record the image of the code location"]["with"]["command"]
    )
    assert document["env"]["IMAGE_REGISTRY"] == location["build"]["registry"]
    assert by_name["Build and push the image"]["with"]["file"] == "deploy/Dockerfile"
    assert document["env"]["DAGSTER_CLOUD_API_TOKEN"] == "${{ secrets.DAGSTER_CLOUD_API_TOKEN }}"


def test_targets_exclude_each_other() -> None:
    deploy_jobs = workflow("deploy.yml")["jobs"]
    plus_jobs = workflow("dagster-plus.yml")["jobs"]

    for job in deploy_jobs.values():
        assert "vars.DEPLOY_TARGET == 'kubernetes'" in job["if"]
    for job in plus_jobs.values():
        assert job["if"] == "vars.DEPLOY_TARGET == 'dagster-plus'"
