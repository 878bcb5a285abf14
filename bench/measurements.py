"""Figures 1 to 4: code-location load, per-run overhead, end to end, peak RSS.

Figure 5, failure to alert under `dagster dev`, is in alert_latency.py.
"""

from __future__ import annotations

import itertools
import re
import shutil
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alert_latency import Latency
from imports import ImportProfile, cumulative_ms, profile_imports
from processes import (
    Command,
    Sample,
    Summary,
    alternate,
    child_environment,
    cpu_seconds,
    rss_mib,
    run_measured,
    venv_tool,
    wall_seconds,
    warm_up,
)

from blog_pipeline.checks import LINKEDIN_CHARACTER_LIMIT
from blog_pipeline.sandbox import Sandbox, german_article
from blog_pipeline.sandbox.openai_server import DEFAULT_WORDS
from blog_pipeline.text import count_characters, count_words

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_ROOT / "bench"

LOAD_TARGET = 1.15
PER_RUN_TARGET = 1.15
END_TO_END_TARGET = 1.10
MEMORY_TARGET = 1.10

# Estimated latency of the real services: a 400-word completion, a Buffer API call, an SMTP relay.
REALISTIC_LATENCY = Latency(openai=8.0, buffer=0.5, smtp=0.2)

# The load a code server performs: import the module, which builds the Definitions, and resolve
# them into a repository.
LOAD_DEFINITIONS = "import blog_pipeline.definitions as m; m.defs.get_repository_def()"
# The same load with httpx replaced by a module that imports httpx on first attribute use: what
# the load would cost if blog_pipeline/resources/buffer.py imported httpx inside its methods.
# The child exits with an error if anything imported httpx during the load after all.
DEFERRED_HTTPX = f"""
import importlib, sys, types
class DeferredModule(types.ModuleType):
    def __getattr__(self, name):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)
sys.modules["httpx"] = DeferredModule("httpx")
{LOAD_DEFINITIONS}
if "httpx._client" in sys.modules:
    raise SystemExit("httpx was imported during the load")
"""
PLAIN_PIPELINE = str(BENCH_DIR / "plain_pipeline.py")
# Dagster plus the job's requests through the client libraries, without Dagster running them:
# the plain pipeline in an interpreter that has imported dagster first.
DAGSTER_AND_CLIENT_CALLS = (
    f"import dagster, runpy; runpy.run_path({PLAIN_PIPELINE!r}, run_name='__main__')"
)

JOB_SUCCESS = "RUN_SUCCESS"
PLAIN_SUCCESS = "Blog post scheduled"
# ENGINE_EVENT messages that contain the time the executor spent on all steps, for example
# "Finished steps in process (pid: 6607) in 785ms" and "Multiprocess executor: parent process
# exiting after 3.9s (pid: 6409)".
IN_PROCESS_STEPS = "Finished steps in process"
MULTIPROCESS_STEPS = "parent process exiting after"
_DURATION = re.compile(r"\d+m\d+s|\d+(?:\.\d+)?ms|\d+(?:\.\d+)?s")


@dataclass(frozen=True)
class Pair:
    """A figure: baseline A and measured command B, run in alternation.

    The figure is the median of the round ratios B_i / A_i, each taken from two runs made one
    right after the other, so that a change in the machine's load between rounds cancels out.
    """

    baseline: Summary
    measured: Summary
    round_ratios: Summary
    target: float | None = None

    @classmethod
    def of(cls, baseline: list[float], measured: list[float], target: float | None = None) -> Pair:
        ratios = [b / a for a, b in zip(baseline, measured, strict=True)]
        return cls(Summary.of(baseline), Summary.of(measured), Summary.of(ratios), target)

    @property
    def ratio(self) -> float:
        return self.round_ratios.median

    @property
    def ratio_of_medians(self) -> float:
        return self.measured.median / self.baseline.median

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


@dataclass(frozen=True)
class Requests:
    """Requests that one run sent to the sandbox servers."""

    openai: int
    buffer: int

    def describe(self) -> str:
        plural = "" if self.openai == 1 else "s"
        return f"{self.openai} request{plural} to OpenAI and {self.buffer} to Buffer"

    def wait_seconds(self, latency: Latency) -> float:
        return self.openai * latency.openai + self.buffer * latency.buffer


@dataclass(frozen=True)
class Article:
    """Size of the article that the sandbox OpenAI server returns in the benchmarks."""

    words: int
    characters: int
    default_characters: int


def single_request_article() -> str:
    """Return the sandbox's default article cut to whole paragraphs within LinkedIn's limit.

    An article over the limit makes the job ask the model for a shorter one in a second request,
    which the plain pipeline does not send.
    """
    paragraphs = german_article(DEFAULT_WORDS).split("\n\n")
    while count_characters("\n\n".join(paragraphs)) > LINKEDIN_CHARACTER_LIMIT:
        paragraphs.pop()
    return "\n\n".join(paragraphs)


def benchmark_article() -> Article:
    article = single_request_article()
    return Article(
        words=count_words(article),
        characters=count_characters(article),
        default_characters=count_characters(german_article(DEFAULT_WORDS)),
    )


def _sandbox(workdir: Path) -> Sandbox:
    sandbox = Sandbox(workdir / "outbox")
    sandbox.openai.article = single_request_article()
    return sandbox


@dataclass
class LoadResult:
    command: str
    load: Pair
    # Baseline A against the load with httpx imported on first use (C).
    deferred_httpx: Pair
    # The same runs' CPU time (user + system).
    load_cpu: Pair
    deferred_httpx_cpu: Pair
    profile: ImportProfile


@dataclass
class PerRunResult:
    seconds: Pair
    cpu_seconds: Pair
    memory: Pair
    requests: Requests
    trivial_steps_ms: Summary
    daily_steps_ms: Summary
    multiprocess: Sample
    multiprocess_steps_ms: float
    # `import dagster` (A) against DAGSTER_AND_CLIENT_CALLS (B), in alternation.
    client_calls_seconds: Pair
    client_calls_rss: Pair
    # Cumulative milliseconds of each client library in one `-X importtime` run.
    client_import_ms: dict[str, float]


@dataclass
class EndToEndResult:
    seconds: Pair
    cpu_seconds: Pair
    latency: Latency
    plain_requests: Requests
    job_requests: Requests


class SandboxRuns:
    """Run hooks that start every run on a fresh DAGSTER_HOME and an empty sandbox Buffer queue.

    The job queues at most one post per publish date and channel and records its attempts in
    the Dagster instance. After an unconfirmed attempt it looks on Buffer for the post first. With
    a fresh instance and an empty queue, every run takes the path of the day's first run.
    The hooks also count the requests each command sent, so the report can show that both
    commands of a figure sent the same ones.
    """

    def __init__(self, sandbox: Sandbox, workdir: Path) -> None:
        self.sandbox = sandbox
        self.homes = workdir / "dagster_homes"
        self.requests: dict[str, Counter[Requests]] = {}
        self._run_numbers = itertools.count()
        self._counts_before = (0, 0)

    def before(self, name: str) -> Mapping[str, str]:
        self.sandbox.buffer.reset_state()
        self._counts_before = self._counts()
        home = self.homes / f"{next(self._run_numbers):03d}-{name}"
        home.mkdir(parents=True)
        # The project's instance settings, telemetry off included.
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
        return {"DAGSTER_HOME": str(home)}

    def after(self, name: str) -> None:
        openai, buffer = self._counts()
        sent = Requests(openai - self._counts_before[0], buffer - self._counts_before[1])
        self.requests.setdefault(name, Counter())[sent] += 1

    def requests_of(self, name: str) -> Requests:
        """Return the requests that each run of ``name`` sent.

        Raises RuntimeError if the runs sent different requests.
        """
        counts = self.requests[name]
        if len(counts) != 1:
            raise RuntimeError(f"Runs of {name} sent different requests: {dict(counts)}")
        return next(iter(counts))

    def _counts(self) -> tuple[int, int]:
        return len(self.sandbox.openai.requests), len(self.sandbox.buffer.requests)


def measure_load(runs: int, workdir: Path, warmup: bool) -> LoadResult:
    python = sys.executable
    commands = {
        "import-dagster": Command((python, "-c", "import dagster")),
        "load-definitions": Command((python, "-c", LOAD_DEFINITIONS)),
        "load-deferred-httpx": Command((python, "-c", DEFERRED_HTTPX)),
    }
    env = child_environment({"BLOG_PIPELINE_ENV": "sandbox"})
    samples = alternate(
        commands, runs=runs, env=env, cwd=workdir, logs=workdir / "logs", warmup=warmup
    )
    baseline = wall_seconds(samples["import-dagster"])
    pair = Pair.of(baseline, wall_seconds(samples["load-definitions"]), LOAD_TARGET)
    deferred = Pair.of(baseline, wall_seconds(samples["load-deferred-httpx"]))
    baseline_cpu = cpu_seconds(samples["import-dagster"])
    load_cpu = Pair.of(baseline_cpu, cpu_seconds(samples["load-definitions"]))
    deferred_cpu = Pair.of(baseline_cpu, cpu_seconds(samples["load-deferred-httpx"]))
    profile = profile_imports(python, LOAD_DEFINITIONS, env=env, cwd=workdir)
    return LoadResult(LOAD_DEFINITIONS, pair, deferred, load_cpu, deferred_cpu, profile)


def _job_command(*target: str) -> Command:
    return Command((venv_tool("dagster"), "job", "execute", *target), expect=JOB_SUCCESS)


DAILY_JOB = _job_command("-m", "blog_pipeline.definitions", "-j", "daily_blogpost")
TRIVIAL_FILE = str(BENCH_DIR / "trivial_job.py")


def measure_per_run(runs: int, workdir: Path) -> PerRunResult:
    commands = {
        "trivial": _job_command("-f", TRIVIAL_FILE, "-j", "trivial"),
        "daily": DAILY_JOB,
    }
    logs = workdir / "logs"
    python = sys.executable
    with _sandbox(workdir) as sandbox:
        env = child_environment(sandbox.environ())
        hooks = SandboxRuns(sandbox, workdir)
        samples = alternate(commands, runs=runs, env=env, cwd=workdir, logs=logs, hooks=hooks)

        multiprocess_log = logs / "trivial-multiprocess.log"
        multiprocess = run_measured(
            _job_command("-f", TRIVIAL_FILE, "-j", "trivial_multiprocess").argv,
            env={**env, **hooks.before("trivial-multiprocess")},
            cwd=workdir,
            log=multiprocess_log,
            expect=JOB_SUCCESS,
        )
        hooks.after("trivial-multiprocess")

        clients = alternate(
            {
                "import-dagster": Command((python, "-c", "import dagster")),
                "dagster-and-client-calls": Command(
                    (python, "-c", DAGSTER_AND_CLIENT_CALLS), expect=PLAIN_SUCCESS
                ),
            },
            runs=runs,
            env=env,
            cwd=workdir,
            logs=logs,
            hooks=hooks,
        )
    client_import_ms = cumulative_ms(
        python,
        "import dagster, httpx, openai",
        ("openai", "httpx2", "httpx"),
        env=env,
        cwd=workdir,
    )

    def steps_ms(name: str) -> Summary:
        return Summary.of(
            [_logged_duration_ms(logs / f"{name}-{i}.log", IN_PROCESS_STEPS) for i in range(runs)]
        )

    return PerRunResult(
        seconds=Pair.of(
            wall_seconds(samples["trivial"]), wall_seconds(samples["daily"]), PER_RUN_TARGET
        ),
        cpu_seconds=Pair.of(cpu_seconds(samples["trivial"]), cpu_seconds(samples["daily"])),
        memory=Pair.of(rss_mib(samples["trivial"]), rss_mib(samples["daily"]), MEMORY_TARGET),
        requests=hooks.requests_of("daily"),
        trivial_steps_ms=steps_ms("trivial"),
        daily_steps_ms=steps_ms("daily"),
        multiprocess=multiprocess,
        multiprocess_steps_ms=_logged_duration_ms(multiprocess_log, MULTIPROCESS_STEPS),
        client_calls_seconds=Pair.of(
            wall_seconds(clients["import-dagster"]),
            wall_seconds(clients["dagster-and-client-calls"]),
        ),
        client_calls_rss=Pair.of(
            rss_mib(clients["import-dagster"]), rss_mib(clients["dagster-and-client-calls"])
        ),
        client_import_ms=client_import_ms,
    )


def measure_end_to_end(runs: int, workdir: Path) -> EndToEndResult:
    commands = {
        "plain": Command((sys.executable, PLAIN_PIPELINE), expect=PLAIN_SUCCESS),
        "job": DAILY_JOB,
    }
    logs = workdir / "logs"
    with _sandbox(workdir) as sandbox:
        env = child_environment(sandbox.environ())
        # Warm the page cache and bytecode while the servers still reply without delay.
        warm_up(commands, env=env, cwd=workdir, logs=logs, hooks=SandboxRuns(sandbox, workdir))

        sandbox.openai.latency_seconds = REALISTIC_LATENCY.openai
        sandbox.buffer.latency_seconds = REALISTIC_LATENCY.buffer
        sandbox.smtp.delay_seconds = REALISTIC_LATENCY.smtp
        hooks = SandboxRuns(sandbox, workdir / "measured")
        samples = alternate(
            commands, runs=runs, env=env, cwd=workdir, logs=logs, warmup=False, hooks=hooks
        )
    return EndToEndResult(
        Pair.of(wall_seconds(samples["plain"]), wall_seconds(samples["job"]), END_TO_END_TARGET),
        Pair.of(cpu_seconds(samples["plain"]), cpu_seconds(samples["job"])),
        REALISTIC_LATENCY,
        plain_requests=hooks.requests_of("plain"),
        job_requests=hooks.requests_of("job"),
    )


def _duration_ms(text: str) -> float:
    """Parse a duration as Dagster formats it in event messages: 8.3ms, 533ms, 2.1s, 4m52s."""
    minutes = re.fullmatch(r"(\d+)m(\d+)s", text)
    if minutes:
        return (int(minutes[1]) * 60 + int(minutes[2])) * 1000.0
    if text.endswith("ms"):
        return float(text.removesuffix("ms"))
    if text.endswith("s"):
        return float(text.removesuffix("s")) * 1000
    raise ValueError(f"Unknown duration format {text!r}")


def _logged_duration_ms(log: Path, marker: str) -> float:
    """Return the last duration after ``marker`` on the first line of ``log`` that contains it."""
    for line in log.read_text(errors="replace").splitlines():
        if marker in line:
            durations = _DURATION.findall(line.split(marker, 1)[1])
            if durations:
                return _duration_ms(durations[-1])
    raise ValueError(f"{log} has no line with {marker!r} and a duration")
