"""Child processes timed in alternation, their summaries, and the machine they ran on."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

# Variables of the developer's shell that could point a child at real services or another
# Dagster instance. Every child starts without them.
_SCRUBBED_PREFIXES = ("OPENAI_", "BUFFER_", "SMTP_", "ALERT_EMAIL_", "SANDBOX_", "DAGSTER_")
_SCRUBBED_NAMES = {
    "BLOG_PIPELINE_ENV",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
}

PACKAGES = (
    "dagster",
    "dagster-webserver",
    "dagster-graphql",
    "openai",
    "httpx",
    "httpx2",
    "pydantic",
    "grpcio",
    "aiosmtpd",
)


@dataclass(frozen=True)
class Sample:
    """One finished child process: wall-clock seconds, CPU seconds and peak RSS in KiB."""

    seconds: float
    cpu_seconds: float
    max_rss_kib: int


@dataclass(frozen=True)
class Summary:
    """Median, minimum and maximum of one series, and how many values it has."""

    median: float
    minimum: float
    maximum: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(statistics.median(values), min(values), max(values), len(values))


class ChildFailedError(RuntimeError):
    """A measured command exited with an error or did not print what success prints."""


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return this process's environment without service settings, plus ``extra``."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_SCRUBBED_PREFIXES) and name not in _SCRUBBED_NAMES
    }
    environ.update(extra or {})
    return environ


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    expect: str | None = None,
) -> Sample:
    """Run ``command`` to its end and return its wall time, CPU time and peak RSS.

    CPU time (user + system) and peak RSS come from ``wait4`` on this child, so they cover the
    child and the processes it waited for, and no other child of the benchmark. Raises
    ChildFailedError when the exit status is not 0 or when ``expect`` is missing from the output.
    """
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - the benchmark's own fixed commands
            list(command), env=dict(env), cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)

    text = log.read_text(errors="replace")
    if process.returncode != 0 or (expect is not None and expect not in text):
        tail = "\n".join(text.splitlines()[-30:])
        raise ChildFailedError(
            f"{' '.join(command)} failed with exit status {process.returncode}"
            + (f" or printed no {expect!r}" if expect else "")
            + f"; last lines of {log}:\n{tail}"
        )
    # Linux reports ru_maxrss in KiB.
    return Sample(
        seconds=seconds, cpu_seconds=usage.ru_utime + usage.ru_stime, max_rss_kib=usage.ru_maxrss
    )


@dataclass(frozen=True)
class Command:
    """A measured command, with the text it prints on success."""

    argv: tuple[str, ...]
    expect: str | None = None


class RunHooks(Protocol):
    """Work done around each run of a command, warm-up runs included."""

    def before(self, name: str) -> Mapping[str, str]:
        """Prepare the next run of command ``name`` and return variables to add to its env."""
        ...

    def after(self, name: str) -> None:
        """Record what the run of command ``name`` that just ended did."""
        ...


def _run_with_hooks(
    name: str,
    command: Command,
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    hooks: RunHooks | None,
) -> Sample:
    run_env = {**env, **(hooks.before(name) if hooks else {})}
    sample = run_measured(command.argv, env=run_env, cwd=cwd, log=log, expect=command.expect)
    if hooks:
        hooks.after(name)
    return sample


def warm_up(
    commands: Mapping[str, Command],
    *,
    env: Mapping[str, str],
    cwd: Path,
    logs: Path,
    hooks: RunHooks | None = None,
) -> None:
    """Run each command once unmeasured, so that no measured run pays for a cold page cache."""
    logs.mkdir(parents=True, exist_ok=True)
    for name, command in commands.items():
        _run_with_hooks(
            name, command, env=env, cwd=cwd, log=logs / f"{name}-warmup.log", hooks=hooks
        )


def alternate(
    commands: Mapping[str, Command],
    *,
    runs: int,
    env: Mapping[str, str],
    cwd: Path,
    logs: Path,
    warmup: bool = True,
    hooks: RunHooks | None = None,
) -> dict[str, list[Sample]]:
    """Run the commands in turn (A, B, A, B, ...) ``runs`` times each and return the samples."""
    if warmup:
        warm_up(commands, env=env, cwd=cwd, logs=logs, hooks=hooks)
    logs.mkdir(parents=True, exist_ok=True)

    samples: dict[str, list[Sample]] = {name: [] for name in commands}
    for index in range(runs):
        for name, command in commands.items():
            log = logs / f"{name}-{index}.log"
            samples[name].append(
                _run_with_hooks(name, command, env=env, cwd=cwd, log=log, hooks=hooks)
            )
    return samples


def wall_seconds(samples: Sequence[Sample]) -> list[float]:
    return [sample.seconds for sample in samples]


def cpu_seconds(samples: Sequence[Sample]) -> list[float]:
    return [sample.cpu_seconds for sample in samples]


def rss_mib(samples: Sequence[Sample]) -> list[float]:
    return [sample.max_rss_kib / 1024 for sample in samples]


def machine_info() -> dict[str, str]:
    """Describe the machine, the interpreter and the package versions of this run."""
    memory = "unknown"
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return {
        "cores": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable by this process)",
        "cpu": cpu_model,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(versions),
        "load average": ", ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def venv_tool(name: str) -> str:
    """Return the path of a console script installed next to this interpreter."""
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        raise SystemExit(
            f"{path} not found: run the benchmark with the project's virtual environment, "
            "for example .venv/bin/python bench/run.py"
        )
    return str(path)
