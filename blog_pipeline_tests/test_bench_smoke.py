"""bench/run.py still runs: one unwarmed run of its cheapest measurement, no target asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# One run of three interpreters plus two import profiles takes a few seconds; this bound only
# stops a hung child from blocking the suite.
TIMEOUT_SECONDS = 300


def test_bench_smoke_writes_report(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"

    completed = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--output", str(report)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "code-location load" in completed.stdout
    text = report.read_text()
    assert "## 1. Code-location load" in text
    assert "Ratio B/A" in text
    assert "## Machine" in text
