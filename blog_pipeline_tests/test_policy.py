"""Policy as code: checkov over deploy/ and the workflows, and the project's own rule that no
resource of the code location contains a secret value in its configuration.

checkov runs from its own virtual environment (.ci/run creates .venv-tools), because it pins
libraries that clash with dagster's. Without it the checkov tests skip, unless
BLOG_PIPELINE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import string
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from pydantic import BaseModel

from blog_pipeline.definitions import build_definitions
from blog_pipeline.environment import load_settings
from blog_pipeline_tests.conftest import skip_or_fail

PROJECT = Path(__file__).resolve().parents[1]
CHECKOV_CONFIG = "deploy/checkov.yaml"
FRAMEWORKS = {"dockerfile", "terraform", "github_actions", "secrets"}
# Every suppression, by check and file; each carries its reason in an inline comment.
EXPECTED_SKIPS = {("CKV_SECRET_6", "/helm/values-dev.yaml")}

SECRET_FIELD = re.compile(
    r"(^|_)(password|passwd|secret|token|api_key|apikey|access_key|access_key_id|"
    r"session_token|credentials?|private_key)($|_)"
)
ENV_VAR_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
KEY_SHAPED = re.compile(r"sk-[A-Za-z0-9_\-]{16,}|AKIA[0-9A-Z]{16}|xox[abp]-[0-9A-Za-z\-]{10,}")
SERVICE_SETTINGS = {
    "SMTP_HOST": "smtp.example.com",
    "ALERT_EMAIL_FROM": "blog-pipeline@example.com",
    "ALERT_EMAIL_TO": "ops@example.com",
    "BLOG_PIPELINE_IO_BUCKET": "acme-blog-pipeline",
}


def checkov_binary() -> str:
    for candidate in (
        os.environ.get("BLOG_PIPELINE_CHECKOV"),
        str(PROJECT / ".venv-tools" / "bin" / "checkov"),
        shutil.which("checkov"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    skip_or_fail("checkov is not installed; .ci/run installs it into .venv-tools")
    raise AssertionError("not reached")


def run_checkov(directory: Path) -> list[dict[str, Any]]:
    """Run checkov with the project's configuration from ``directory``; return its reports."""
    result = subprocess.run(  # noqa: S603 - checkov with fixed arguments
        [checkov_binary(), "--config-file", CHECKOV_CONFIG, "--output", "json"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]

    # One JSON document per scanned directory, each a report or a list of reports.
    decoder = json.JSONDecoder()
    reports: list[dict[str, Any]] = []
    position = 0
    text = result.stdout
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        document, position = decoder.raw_decode(text, position)
        reports.extend(document if isinstance(document, list) else [document])
    return reports


def results(reports: list[dict[str, Any]], kind: str) -> set[tuple[str, str, str]]:
    return {
        (check["check_id"], check["file_path"], check["check_result"].get("suppress_comment", ""))
        for report in reports
        for check in report["results"].get(kind, [])
    }


@pytest.fixture(scope="module")
def checkov_reports() -> list[dict[str, Any]]:
    return run_checkov(PROJECT)


def test_checkov_scans_every_framework(checkov_reports: list[dict[str, Any]]) -> None:
    passed = {
        report["check_type"]
        for report in checkov_reports
        if report["summary"]["passed"] or report["summary"]["skipped"]
    }

    assert passed == FRAMEWORKS


def test_checkov_finds_no_failure(checkov_reports: list[dict[str, Any]]) -> None:
    failed = results(checkov_reports, "failed_checks")

    assert failed == set()


def test_checkov_skips_listed_with_reasons(checkov_reports: list[dict[str, Any]]) -> None:
    skipped = results(checkov_reports, "skipped_checks")

    assert {(check, path) for check, path, _ in skipped} == EXPECTED_SKIPS
    for check, path, reason in skipped:
        assert len(reason.split()) >= 5, f"{check} in {path} is skipped without a reason"


def test_checkov_flags_planted_key(tmp_path: Path) -> None:
    shutil.copytree(PROJECT / "deploy", tmp_path / "deploy")
    shutil.copytree(PROJECT / ".github", tmp_path / ".github")
    alphabet = string.ascii_uppercase + string.digits
    key_id = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    values = tmp_path / "deploy" / "helm" / "values-prod.yaml"
    values.write_text(values.read_text() + f"\nextraEnv:\n  AWS_ACCESS_KEY_ID: {key_id}\n")

    failed = results(run_checkov(tmp_path), "failed_checks")

    assert ("CKV_SECRET_2", "/helm/values-prod.yaml", "") in failed


def secret_value_findings(resource: Any, path: str) -> list[str]:
    """Return every field of ``resource`` (nested resources included) that carries a secret
    value in configuration instead of naming where the value comes from."""
    if not isinstance(resource, BaseModel):
        return []
    findings = []
    for name in type(resource).model_fields:
        value = getattr(resource, name)
        where = f"{path}.{name}"
        if isinstance(value, BaseModel):
            findings += secret_value_findings(value, where)
            continue
        if name.endswith("_env_var"):
            # Names an environment variable; the value is read when a run's resources start.
            if value is not None and not ENV_VAR_NAME.fullmatch(str(value)):
                findings.append(f"{where}={value!r} is not an environment variable name")
        elif SECRET_FIELD.search(name):
            if value is not None and not isinstance(value, dg.EnvVar):
                findings.append(f"{where} holds a literal; bind it to dg.EnvVar or leave it unset")
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and KEY_SHAPED.search(text):
                findings.append(f"{where} contains a key-shaped value")
    return findings


@pytest.mark.parametrize("environment", ["sandbox", "dev", "prod"])
def test_resources_hold_no_secret_value(environment: str) -> None:
    settings = load_settings({**SERVICE_SETTINGS, "BLOG_PIPELINE_ENV": environment})
    resources = build_definitions(settings).resources
    env_var_fields = [
        name
        for resource in resources.values()
        if isinstance(resource, BaseModel)
        for name in type(resource).model_fields
        if name.endswith("_env_var")
    ]

    findings = [
        finding
        for key, resource in resources.items()
        for finding in secret_value_findings(resource, key)
    ]

    assert findings == []
    # The rule has something to check: OpenAI, Buffer and SMTP name their secrets' variables.
    assert len(env_var_fields) >= 5


def test_policy_rejects_literal_secrets() -> None:
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    class LeakyResource(dg.ConfigurableResource):
        api_token: str
        password_env_var: str

    leaky = {
        "leaky": LeakyResource(api_token="abc", password_env_var="sk-" + "a" * 20),
        "io_manager": S3PickleIOManager(
            s3_resource=S3Resource(aws_secret_access_key="literal"), s3_bucket="bucket"
        ),
        "bound": S3Resource(aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY")),
    }

    findings = [f for key, r in leaky.items() for f in secret_value_findings(r, key)]

    assert "leaky.api_token holds a literal; bind it to dg.EnvVar or leave it unset" in findings
    assert any(f.startswith("leaky.password_env_var='sk-") for f in findings)
    assert "leaky.password_env_var contains a key-shaped value" in findings
    assert (
        "io_manager.s3_resource.aws_secret_access_key holds a literal; bind it to dg.EnvVar or "
        "leave it unset"
    ) in findings
    assert not [f for f in findings if f.startswith("bound.")]
