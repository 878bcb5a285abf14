"""The Kestra flow in kestra/ and the Dagster code location describe the same pipeline.

Each side is also edited in a copy, never in place, to show that a change on one side alone
fails the comparison.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from blog_pipeline.jobs import JOB_NAME
from blog_pipeline_tests.kestra_parity import (
    KESTRA_FLOW,
    KESTRA_TERRAFORM,
    PROJECT_DIR,
    dagster_shape,
    differences,
    kestra_shape,
    load_flow,
    prod_definitions,
    terraform_differences,
)


def test_kestra_flow_and_dagster_job_agree() -> None:
    kestra = kestra_shape(load_flow())
    dagster = dagster_shape(prod_definitions(), JOB_NAME)

    assert differences(kestra, dagster) == []
    assert dagster.steps == ("blog_article", "buffer_post", "publication_log")
    assert dagster.cron == "0 8 * * *"
    assert dagster.timezone == "Europe/Berlin"
    assert dagster.failure_alert == "email"


def test_terraform_deploys_this_flow() -> None:
    assert terraform_differences(load_flow(), KESTRA_TERRAFORM) == []


# (what the edit does, text in the flow, replacement, a word the difference must name)
KESTRA_EDITS = [
    (
        "log before queueing",
        "  - id: queue_to_buffer\n",
        "  - id: log_first\n    type: io.kestra.plugin.core.log.Log\n    message: early\n\n"
        "  - id: queue_to_buffer\n",
        "steps",
    ),
    ("cron at nine", 'cron: "0 8 * * *"', 'cron: "0 9 * * *"', "cron"),
    ("timezone London", "timezone: Europe/Berlin", "timezone: Europe/London", "timezone"),
    (
        "no error branch",
        "errors:\n  - id: notify_failure",
        "unused:\n  - id: notify_failure",
        "failure_alert",
    ),
    ("other model", '"model": "gpt-4o-mini"', '"model": "gpt-4o"', "model"),
    ("renamed secret", "secret('BUFFER_TOKEN')", "secret('BUFFER_API_KEY')", "secrets"),
    ("other topic", "Everything-as-Code.", "Infrastructure-as-Code.", "prompt"),
    ("task renamed", "- id: log_success", "- id: log_done", "steps"),
]


@pytest.mark.parametrize(
    ("old", "new", "word"),
    [edit[1:] for edit in KESTRA_EDITS],
    ids=[edit[0] for edit in KESTRA_EDITS],
)
def test_kestra_edit_alone_is_a_difference(tmp_path: Path, old: str, new: str, word: str) -> None:
    flow = _edited_copy(KESTRA_FLOW, tmp_path / KESTRA_FLOW.name, old, new)

    found = differences(kestra_shape(load_flow(flow)), dagster_shape(prod_definitions(), JOB_NAME))

    assert found, f"editing {old!r} to {new!r} went unnoticed"
    assert any(line.startswith(word) for line in found), found


@pytest.mark.parametrize(
    ("path", "old", "new", "word"),
    [
        (
            "terraform/main.tf",
            'flow_id   = "daily-blogpost"',
            'flow_id   = "daily-post"',
            "flow_id",
        ),
        (
            "flows/daily-blogpost.yml",
            "namespace: demo.projects",
            "namespace: demo.other",
            "namespace",
        ),
        ("terraform/main.tf", "../flows/daily-blogpost.yml", "../flows/missing.yml", "content"),
    ],
    ids=["flow_id", "namespace", "content file"],
)
def test_terraform_edit_alone_is_a_difference(
    tmp_path: Path, path: str, old: str, new: str, word: str
) -> None:
    copy = tmp_path / "kestra"
    shutil.copytree(PROJECT_DIR / "kestra", copy)
    _edited_copy(copy / path, copy / path, old, new)

    found = terraform_differences(
        load_flow(copy / "flows" / KESTRA_FLOW.name), copy / "terraform" / KESTRA_TERRAFORM.name
    )

    assert any(line.startswith(word) for line in found), found


# (what the edit does, file in blog_pipeline/, text, replacement, a word the difference names)
DAGSTER_EDITS = [
    ("cron at nine", "schedules.py", 'CRON = "0 8 * * *"', 'CRON = "0 9 * * *"', "cron"),
    (
        "timezone London",
        "schedules.py",
        'TIMEZONE = "Europe/Berlin"',
        'TIMEZONE = "Europe/London"',
        "timezone",
    ),
    (
        "no failure sensor",
        "definitions.py",
        "sensors=[failure_alert_sensor, ",
        "sensors=[",
        "failure_alert",
    ),
    (
        "job without log step",
        "jobs.py",
        "assets(blog_article, buffer_post, publication_log)",
        "assets(blog_article, buffer_post)",
        "steps",
    ),
]


@pytest.mark.parametrize(
    ("module", "old", "new", "word"),
    [edit[1:] for edit in DAGSTER_EDITS],
    ids=[edit[0] for edit in DAGSTER_EDITS],
)
def test_dagster_edit_alone_is_a_difference(
    tmp_path: Path, module: str, old: str, new: str, word: str
) -> None:
    package = tmp_path / "blog_pipeline"
    shutil.copytree(
        PROJECT_DIR / "blog_pipeline", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    _edited_copy(package / module, package / module, old, new)

    result = _differences_in_subprocess(tmp_path)

    assert result["package"] == str(package / "__init__.py")
    assert any(line.startswith(word) for line in result["differences"]), result


def test_unedited_package_copy_has_no_difference(tmp_path: Path) -> None:
    package = tmp_path / "blog_pipeline"
    shutil.copytree(
        PROJECT_DIR / "blog_pipeline", package, ignore=shutil.ignore_patterns("__pycache__")
    )

    result = _differences_in_subprocess(tmp_path)

    assert result["package"] == str(package / "__init__.py")
    assert result["differences"] == []


def _edited_copy(source: Path, target: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{source.name} no longer contains {old!r} once; update the edit"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return target


def _differences_in_subprocess(source_dir: Path) -> dict:
    """Compare the Kestra flow with the blog_pipeline package in ``source_dir``, imported in a
    fresh interpreter where that folder comes first on the module search path."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(source_dir), str(PROJECT_DIR)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "blog_pipeline_tests.kestra_parity"],
        cwd=source_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


def test_kestra_flow_has_three_tasks() -> None:
    flow = yaml.safe_load(KESTRA_FLOW.read_text(encoding="utf-8"))

    assert flow["id"] == "daily-blogpost"
    assert flow["namespace"] == "demo.projects"
    assert [task["id"] for task in flow["tasks"]] == [
        "generate_post",
        "queue_to_buffer",
        "log_success",
    ]
    assert [task["id"] for task in flow["errors"]] == ["notify_failure"]
