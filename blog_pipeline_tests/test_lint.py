"""The lint and type checks of the CI workflow, so a local test run catches what it would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "blog_pipeline"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_lint_passes(command: list[str]) -> None:
    completed = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
