"""The `blog-pipeline sandbox run` command a new user runs first."""

from __future__ import annotations

import os
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def _run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("blog-pipeline")
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return subprocess.run(
        [str(command), "sandbox", "run", "--dir", str(tmp_path / "sandbox"), *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sandbox_run_prints_article_and_post_id(tmp_path: Path) -> None:
    completed = _run_cli(tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert "SANDBOX" in completed.stdout
    assert "nothing is published" in completed.stdout
    assert "Everything-as-Code" in completed.stdout
    assert "Buffer post id: " in completed.stdout
    assert "SANDBOX: nothing was published" in completed.stderr


def test_sandbox_run_with_failure_delivers_alert(tmp_path: Path) -> None:
    completed = _run_cli(tmp_path, "--fail", "buffer")

    assert completed.returncode == 1
    assert "Alert e-mail delivered to the sandbox SMTP server: " in completed.stdout
    [mail_path] = (tmp_path / "sandbox" / "outbox").glob("*.eml")
    assert str(mail_path) in completed.stdout
    mail = message_from_bytes(mail_path.read_bytes(), policy=policy.default)
    assert mail["Subject"] == "[blog-pipeline sandbox] daily_blogpost failed at step buffer_post"
    assert "UNAUTHORIZED" in mail.get_body(("plain",)).get_content()
