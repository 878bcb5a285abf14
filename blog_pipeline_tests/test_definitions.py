"""The code location loads through every entry point a user has: pyproject, workspace.yaml, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import PyProjectFileTarget, WorkspaceFileTarget

from blog_pipeline.definitions import defs

PROJECT = Path(__file__).resolve().parents[1]
JOB = "daily_blogpost"
SCHEDULE = "daily_blogpost_schedule"
SENSOR = "daily_blogpost_failure_alert"


def test_definitions_contain_job_schedule_and_sensor() -> None:
    assert defs.resolve_job_def(JOB).name == JOB
    assert defs.resolve_schedule_def(SCHEDULE).cron_schedule == "0 8 * * *"
    assert defs.resolve_sensor_def(SENSOR).name == SENSOR
    assert set(defs.resolve_all_asset_keys()) == {
        dg.AssetKey("blog_article"),
        dg.AssetKey("buffer_post"),
        dg.AssetKey("publication_log"),
    }


def test_pyproject_and_workspace_name_same_location() -> None:
    tool = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["dagster"]
    workspace = yaml.safe_load((PROJECT / "workspace.yaml").read_text())
    [entry] = workspace["load_from"]

    assert entry["python_module"]["module_name"] == tool["module_name"]
    assert entry["python_module"]["location_name"] == tool["code_location_name"]


@pytest.mark.parametrize(
    "target",
    [
        WorkspaceFileTarget(paths=[str(PROJECT / "workspace.yaml")]),
        PyProjectFileTarget(str(PROJECT / "pyproject.toml")),
    ],
    ids=["workspace.yaml", "pyproject.toml"],
)
def test_location_loads_job_schedule_and_sensor(target: object) -> None:
    with dg.instance_for_test() as instance:
        with WorkspaceProcessContext(instance, target) as process_context:
            context = process_context.create_request_context()
            assert list(context.code_location_errors()) == []
            assert list(context.code_location_names) == ["blog_pipeline"]
            location = context.get_code_location("blog_pipeline")
            [repository] = location.get_repositories().values()
            assert repository.has_job(JOB)
            assert repository.get_schedule(SCHEDULE).cron_schedule == "0 8 * * *"
            assert SCHEDULE in [s.name for s in repository.get_schedules()]
            assert SENSOR in [s.name for s in repository.get_sensors()]


def test_dagster_definitions_validate_passes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    dagster = Path(sys.executable).with_name("dagster")

    completed = subprocess.run(
        [str(dagster), "definitions", "validate"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "Validation successful for code location blog_pipeline" in output
