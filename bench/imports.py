"""Import cost of the code-location load on top of `import dagster`, from `python -X importtime`.

One profile is one run of each interpreter, so its milliseconds are as noisy as the machine. They
attribute the load's cost to packages, while the alternating runs measure it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFINITIONS_MODULE = "blog_pipeline.definitions"


@dataclass(frozen=True)
class ImportProfile:
    """Import times in milliseconds, cumulative unless named ``self``."""

    dagster_ms: float
    definitions_ms: float
    openai_modules: list[str]
    # (top-level package, summed self time) of every module that the load imports and
    # `import dagster` does not, largest first.
    extra_self_ms: list[tuple[str, float]]
    httpx_ms: float
    httpx_cli_ms: float

    @property
    def extra_total_ms(self) -> float:
        return sum(milliseconds for _, milliseconds in self.extra_self_ms)


def _importtime(python: str, code: str, env: Mapping[str, str], cwd: Path) -> dict[str, tuple]:
    """Return {module: (self µs, cumulative µs)} from one ``python -X importtime -c code``."""
    completed = subprocess.run(  # noqa: S603 - the benchmark's own fixed command
        [python, "-X", "importtime", "-c", code],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    modules: dict[str, tuple[int, int]] = {}
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        modules[name.strip()] = (int(self_us), int(cumulative_us))
    return modules


def profile_imports(
    python: str, load_code: str, *, env: Mapping[str, str], cwd: Path
) -> ImportProfile:
    """Profile ``import dagster`` and ``load_code`` once each and compare them."""
    baseline = _importtime(python, "import dagster", env, cwd)
    load = _importtime(python, load_code, env, cwd)

    per_package: dict[str, float] = {}
    for name, (self_us, _) in load.items():
        if name not in baseline:
            package = name.split(".", 1)[0]
            per_package[package] = per_package.get(package, 0.0) + self_us / 1000
    return ImportProfile(
        dagster_ms=baseline["dagster"][1] / 1000,
        definitions_ms=load[DEFINITIONS_MODULE][1] / 1000,
        openai_modules=sorted(n for n in load if n == "openai" or n.startswith("openai.")),
        extra_self_ms=sorted(per_package.items(), key=lambda item: -item[1]),
        httpx_ms=load.get("httpx", (0, 0))[1] / 1000,
        httpx_cli_ms=load.get("httpx._main", (0, 0))[1] / 1000,
    )


def cumulative_ms(
    python: str, code: str, modules: tuple[str, ...], *, env: Mapping[str, str], cwd: Path
) -> dict[str, float]:
    """Return the cumulative import time of each of ``modules`` in one run of ``code``."""
    profile = _importtime(python, code, env, cwd)
    return {name: profile.get(name, (0, 0))[1] / 1000 for name in modules}
