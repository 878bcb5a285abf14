"""Benchmarks of blog-pipeline, each figure a ratio of two commands measured in alternation.

    .venv/bin/python bench/run.py                  # every measurement; writes docs/benchmarks.md
    .venv/bin/python bench/run.py --only load      # one measurement (load, per-run, e2e, alert)
    .venv/bin/python bench/run.py --smoke --output /tmp/benchmarks.md   # one run of the cheapest

The machine is shared, so no figure is an absolute time: the two commands of a figure run in
turn (A, B, A, B, ...) in the same minutes and the figure is the ratio of their medians. Nothing
here asserts a target; the report states which ones were met.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from alert_latency import AlertTiming, Latency, measure_failure_to_alert
from measurements import (
    PROJECT_ROOT,
    REALISTIC_LATENCY,
    Article,
    EndToEndResult,
    LoadResult,
    PerRunResult,
    benchmark_article,
    measure_end_to_end,
    measure_load,
    measure_per_run,
)
from processes import machine_info
from report import render_markdown, render_terminal

DEFAULT_OUTPUT = PROJECT_ROOT / "docs" / "benchmarks.md"
DEFAULT_RUNS = 7
DEFAULT_ALERT_RUNS = 4
MIN_RUNS = 5
# A code-location load takes about a second, so its figure gets more rounds than the others.
LOAD_RUNS_FACTOR = 3
MEASUREMENTS = ("load", "per-run", "e2e", "alert")

ALERT_TARGET_SECONDS = 15.0
# The alert measurement times the path from the failed step on, and the OpenAI request comes
# before that step, so the OpenAI server replies without delay there.
ALERT_LATENCY = Latency(openai=0.0, buffer=REALISTIC_LATENCY.buffer, smtp=REALISTIC_LATENCY.smtp)


@dataclass
class Results:
    """Everything one benchmark run measured, and how it ran."""

    runs: int
    load_runs: int
    warmup: bool
    machine: dict[str, str]
    command: str
    article: Article | None = None
    load: LoadResult | None = None
    per_run: PerRunResult | None = None
    end_to_end: EndToEndResult | None = None
    alerts: list[AlertTiming] | None = None
    alert_latency: Latency = ALERT_LATENCY
    alert_target_seconds: float = ALERT_TARGET_SECONDS
    load_average_after: str = ""
    duration_seconds: float = 0.0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        help=f"measured runs of each command per figure, at least {MIN_RUNS} "
        f"(default {DEFAULT_RUNS})",
    )
    parser.add_argument(
        "--alert-runs",
        type=int,
        default=DEFAULT_ALERT_RUNS,
        help=f"failed runs under dagster dev (default {DEFAULT_ALERT_RUNS})",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=MEASUREMENTS,
        help="run only this measurement; repeat for several (default: all)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one run without warm-up of the code-location load only, to check the script",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="Markdown report to write (default docs/benchmarks.md)",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep the temporary folder with every log"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.only = ["load"]
        args.runs = 1
    elif args.runs < MIN_RUNS:
        parser.error(f"--runs must be at least {MIN_RUNS}; use --smoke for a quick check")
    if args.alert_runs < 1:
        parser.error("--alert-runs must be at least 1")
    return args


def _command_line(args: argparse.Namespace) -> str:
    parts = [".venv/bin/python bench/run.py"]
    if args.smoke:
        return " ".join([*parts, "--smoke"])
    if args.runs != DEFAULT_RUNS:
        parts.append(f"--runs {args.runs}")
    if args.alert_runs != DEFAULT_ALERT_RUNS:
        parts.append(f"--alert-runs {args.alert_runs}")
    parts += [f"--only {name}" for name in args.only or []]
    return " ".join(parts)


def _measure(args: argparse.Namespace, results: Results, workdir: Path) -> None:
    selected = set(args.only or MEASUREMENTS)
    if selected & {"per-run", "e2e"}:
        results.article = benchmark_article()
    if "load" in selected:
        print("1. code-location load ...", flush=True)
        results.load = measure_load(results.load_runs, workdir / "load", warmup=results.warmup)
    if "per-run" in selected:
        print("2. per-run overhead and 4. peak RSS ...", flush=True)
        results.per_run = measure_per_run(args.runs, workdir / "per-run")
    if "e2e" in selected:
        print("3. end to end at realistic latency ...", flush=True)
        results.end_to_end = measure_end_to_end(args.runs, workdir / "e2e")
    if "alert" in selected:
        print("5. failure to alert under dagster dev ...", flush=True)
        results.alerts = measure_failure_to_alert(
            args.alert_runs, workdir / "alert", PROJECT_ROOT, ALERT_LATENCY
        )


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    results = Results(
        runs=args.runs,
        load_runs=args.runs if args.smoke else LOAD_RUNS_FACTOR * args.runs,
        warmup=not args.smoke,
        machine=machine_info(),
        command=_command_line(args),
    )
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="blog-pipeline-bench-"))
    for name in MEASUREMENTS:
        (workdir / name).mkdir()
    try:
        _measure(args, results, workdir)
    finally:
        if args.keep_workdir:
            print(f"Logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    results.duration_seconds = time.monotonic() - started
    results.load_average_after = machine_info()["load average"]
    print(render_terminal(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_markdown(results))
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
