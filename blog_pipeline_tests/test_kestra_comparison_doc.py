"""docs/kestra-comparison.md states line counts that its own command still produces."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
DOC = PROJECT_DIR / "docs" / "kestra-comparison.md"
# A row may drift this far before the table must be updated: a fraction of the documented
# count, but at least MIN_DRIFT_LINES, so one-line edits of small files pass.
MAX_DRIFT = 0.05
MIN_DRIFT_LINES = 3

_COMMAND = re.compile(r"<!-- line-count-command -->\n```bash\n(.*?)\n```", re.DOTALL)
_TABLE = re.compile(r"<!-- line-count-table -->\n(.*?)<!-- line-count-table-end -->", re.DOTALL)
_OUTPUT_LINE = re.compile(r"^\s*(\d+)  (.+)$")


def documented_counts(text: str) -> dict[str, int]:
    """Return the table's count per row label. A row has one number, on either side; the other
    cell is empty or contains "none"."""
    match = _TABLE.search(text)
    assert match, f"{DOC.name} has no line-count table between its markers"
    counts = {}
    for row in match.group(1).strip().splitlines()[2:]:
        label, *cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        numbers = [int(cell) for cell in cells if cell.isdigit()]
        assert len(numbers) == 1, f"row {row!r} must have exactly one count"
        counts[label] = numbers[0]
    return counts


def measured_counts(text: str) -> dict[str, int]:
    """Run the document's own command in the repository and return its count per label."""
    match = _COMMAND.search(text)
    assert match, f"{DOC.name} has no bash block after <!-- line-count-command -->"
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", match.group(1)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    counts = {}
    for line in completed.stdout.splitlines():
        parsed = _OUTPUT_LINE.match(line)
        assert parsed, f"unexpected output line {line!r}"
        counts[parsed.group(2).strip()] = int(parsed.group(1))
    return counts


@pytest.fixture(scope="module")
def doc_text() -> str:
    if not (PROJECT_DIR / ".git").exists() or shutil.which("git") is None:
        pytest.skip("the line-count command lists files with git: needs a git checkout")
    return DOC.read_text(encoding="utf-8")


def test_table_and_command_name_the_same_parts(doc_text: str) -> None:
    measured = measured_counts(doc_text)
    documented = documented_counts(doc_text)

    assert set(measured) == set(documented)


def test_documented_line_counts_match_the_command(doc_text: str) -> None:
    measured = measured_counts(doc_text)
    documented = documented_counts(doc_text)

    drifted = {
        label: (documented[label], measured[label])
        for label in documented
        if label in measured
        and abs(measured[label] - documented[label])
        > max(MIN_DRIFT_LINES, MAX_DRIFT * documented[label])
    }
    assert not drifted, (
        "line counts in docs/kestra-comparison.md drifted (documented, measured): "
        f"{drifted}. Run the command in the document and update the table and any sentence "
        "that depends on it."
    )


def test_every_counted_part_has_files(doc_text: str) -> None:
    empty = [label for label, count in measured_counts(doc_text).items() if count == 0]

    assert not empty, f"no files match these rows, so a path in the command is wrong: {empty}"


def test_documented_count_parser_reads_one_count_per_row() -> None:
    table = (
        "<!-- line-count-table -->\n| Part | A | B |\n|---|---:|---:|\n"
        "| One | 5 | |\n| Two | none | 7 |\n<!-- line-count-table-end -->"
    )

    assert documented_counts(table) == {"One": 5, "Two": 7}
