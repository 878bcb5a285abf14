"""The shape that the Kestra flow and the Dagster code location must share, read from each side.

Kestra: kestra/flows/daily-blogpost.yml (Schedule trigger, tasks, `errors` branch, secrets, the
OpenAI request) and the `kestra_flow` resource in kestra/terraform/main.tf. Dagster: the job's
execution plan, the asset graph, the schedule and run-failure sensors that target the job, and
the environment variables that the prod resources read. `differences()` lists every fact on
which the two sides disagree, so a change on one side alone shows up as a difference.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import hcl2
import yaml
from dagster._core.execution.api import create_execution_plan
from dagster._core.storage.dagster_run import DagsterRunStatus

from blog_pipeline.prompts import ArticleConfig
from blog_pipeline.resources import SMTPResource

PROJECT_DIR = Path(__file__).resolve().parent.parent
KESTRA_FLOW = PROJECT_DIR / "kestra" / "flows" / "daily-blogpost.yml"
KESTRA_TERRAFORM = PROJECT_DIR / "kestra" / "terraform" / "main.tf"

# Kestra task id -> the Dagster asset, and step of daily_blogpost, that does the same work.
TASK_TO_ASSET = {
    "generate_post": "blog_article",
    "queue_to_buffer": "buffer_post",
    "log_success": "publication_log",
}
# Kestra secret -> the environment variable that the prod resources read for the same value.
# Buffer's current API calls a connected profile a channel.
SECRET_TO_ENV_VAR = {
    "OPENAI_API_KEY": "OPENAI_API_KEY",
    "BUFFER_TOKEN": "BUFFER_TOKEN",
    "BUFFER_PROFILE_ID": "BUFFER_CHANNEL_ID",
    "SMTP_USER": "SMTP_USER",
    "SMTP_PASS": "SMTP_PASS",
}
SCHEDULE_TRIGGER_TYPE = "io.kestra.plugin.core.trigger.Schedule"
MAIL_TASK_TYPE = "io.kestra.plugin.notifications.mail.MailSend"
# Kestra tasks of these packages run other tasks (Parallel, Subflow, ...), not work of their own.
FLOWABLE_TASK_PREFIX = "io.kestra.plugin.core.flow."

# The smallest environment that selects prod. The filesystem I/O manager keeps dagster_aws out of
# the import; the I/O manager reads no secret, so the shape is the same as with S3.
PROD_ENVIRON = {
    "BLOG_PIPELINE_ENV": "prod",
    "BLOG_PIPELINE_IO_MANAGER": "filesystem",
    "SMTP_HOST": "smtp.example.com",
    "ALERT_EMAIL_FROM": "blog-pipeline@example.com",
    "ALERT_EMAIL_TO": "ops@example.com",
}

_SECRET_CALL = re.compile(r"secret\(\s*'([A-Za-z0-9_]+)'\s*\)")
_TERRAFORM_FILE_CALL = re.compile(r'file\("\$\{path\.module\}/([^"]+)"\)')


@dataclass(frozen=True)
class PipelineShape:
    """What one side schedules, runs, alerts and reads, in Dagster's names."""

    steps: tuple[str, ...]
    # True when each step runs after the previous one and nothing runs in parallel.
    sequential: bool
    cron: str | None
    timezone: str | None
    # "email" when a failed run sends an e-mail, None when nothing alerts.
    failure_alert: str | None
    secrets: frozenset[str]
    model: str
    prompt: str


def load_flow(path: Path = KESTRA_FLOW) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def kestra_shape(flow: Mapping[str, Any]) -> PipelineShape:
    """Read the shape of a Kestra flow, with task ids translated through TASK_TO_ASSET.

    A task id without a counterpart is kept as ``kestra:<id>`` so that it shows up as a
    difference.
    """
    tasks = flow.get("tasks") or []
    steps = tuple(TASK_TO_ASSET.get(task["id"], f"kestra:{task['id']}") for task in tasks)
    sequential = not any(task["type"].startswith(FLOWABLE_TASK_PREFIX) for task in tasks)

    schedules = [t for t in flow.get("triggers") or [] if t["type"] == SCHEDULE_TRIGGER_TYPE]
    schedule = schedules[0] if len(schedules) == 1 else {}

    error_types = [task["type"] for task in flow.get("errors") or []]
    failure_alert: str | None
    if MAIL_TASK_TYPE in error_types:
        failure_alert = "email"
    else:
        failure_alert = f"kestra:{error_types[0]}" if error_types else None

    secrets = {
        SECRET_TO_ENV_VAR.get(name, f"kestra:{name}")
        for text in _strings(flow)
        for name in _SECRET_CALL.findall(text)
    }
    request = _openai_request(tasks)
    return PipelineShape(
        steps=steps,
        sequential=sequential,
        cron=schedule.get("cron"),
        timezone=schedule.get("timezone"),
        failure_alert=failure_alert,
        secrets=frozenset(secrets),
        model=request.get("model", ""),
        prompt=request["messages"][0]["content"] if request.get("messages") else "",
    )


def _strings(value: Any) -> Iterable[str]:
    """Yield every string in a parsed YAML document, keys and values."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _openai_request(tasks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    for task in tasks:
        if task["id"] == "generate_post" and task.get("body"):
            return json.loads(task["body"])
    return {}


def prod_definitions() -> dg.Definitions:
    from blog_pipeline.definitions import build_definitions
    from blog_pipeline.environment import load_settings

    return build_definitions(load_settings(PROD_ENVIRON))


def dagster_shape(defs: dg.Definitions, job_name: str) -> PipelineShape:
    """Read the shape of ``job_name`` in ``defs``: plan order, schedule, alerts and secrets."""
    repository = defs.get_repository_def()
    job = defs.resolve_job_def(job_name)
    plan = create_execution_plan(job)
    steps = plan.get_steps_to_execute_in_topo_order()
    keys = tuple(step.key for step in steps)
    # One chain: every step depends on exactly the step before it, in the plan and in the asset
    # graph, so the order is the only one possible.
    asset_graph = defs.resolve_asset_graph()
    sequential = all(
        step.get_execution_dependency_keys() == set(keys[index - 1 : index])
        and _asset_parents(asset_graph, step.key) == set(keys[index - 1 : index])
        for index, step in enumerate(steps)
    )

    schedules = [s for s in repository.schedule_defs if s.job_name == job_name]
    schedule = schedules[0] if len(schedules) == 1 else None
    cron = schedule.cron_schedule if schedule else None
    resources = defs.resources or {}
    config = ArticleConfig()
    return PipelineShape(
        steps=keys,
        sequential=sequential,
        # A schedule may list several crons, which are compared as one string.
        cron=cron if cron is None or isinstance(cron, str) else " | ".join(cron),
        timezone=schedule.execution_timezone if schedule else None,
        failure_alert=_failure_alert(resources, repository.sensor_defs, job_name),
        secrets=frozenset(_secret_env_vars(resources)),
        model=resources["openai"].model,
        prompt=config.build_prompt(),
    )


def _asset_parents(asset_graph: Any, name: str) -> set[str]:
    key = dg.AssetKey(name)
    if not asset_graph.has(key):
        return {f"not an asset: {name}"}
    return {parent.to_user_string() for parent in asset_graph.get(key).parent_keys}


def _failure_alert(
    resources: Mapping[str, Any], sensors: Iterable[dg.SensorDefinition], job_name: str
) -> str | None:
    for sensor in sensors:
        if not isinstance(sensor, dg.RunStatusSensorDefinition):
            continue
        # NOTE: Dagster 1.13 keeps a run-status sensor's status and monitored jobs in private
        # attributes only. The end-to-end test checks the same sensor by making a run fail.
        if sensor._run_status != DagsterRunStatus.FAILURE:  # noqa: SLF001
            continue
        monitored = {getattr(job, "name", None) for job in sensor._monitored_jobs}  # noqa: SLF001
        if job_name not in monitored:
            continue
        required = [resources.get(key) for key in sensor.required_resource_keys]
        if any(isinstance(resource, SMTPResource) for resource in required):
            return "email"
        return "dagster:run_failure_sensor_without_smtp"
    return None


def _secret_env_vars(resources: Mapping[str, Any]) -> set[str]:
    """Return the environment variables that the resources name in their ``*_env_var`` fields."""
    names = set()
    for resource in resources.values():
        if not isinstance(resource, dg.ConfigurableResource):
            continue
        for field, value in resource.model_dump().items():
            if field.endswith("_env_var") and value:
                names.add(value)
    return names


def differences(kestra: PipelineShape, dagster: PipelineShape) -> list[str]:
    """Return one sentence per fact on which the Kestra and the Dagster shape disagree."""
    found = []
    if kestra.steps != dagster.steps:
        found.append(f"steps differ: Kestra {list(kestra.steps)}, Dagster {list(dagster.steps)}")
    if not kestra.sequential:
        found.append("Kestra runs some tasks in parallel; the Dagster job is one chain")
    if not dagster.sequential:
        found.append("Dagster steps are not one chain in which each step needs the previous one")
    for fact in ("cron", "timezone", "failure_alert", "model"):
        ours, theirs = getattr(kestra, fact), getattr(dagster, fact)
        if ours is None or theirs is None or ours != theirs:
            found.append(f"{fact} differs: Kestra {ours!r}, Dagster {theirs!r}")
    if kestra.secrets != dagster.secrets:
        found.append(
            f"secrets differ: only Kestra {sorted(kestra.secrets - dagster.secrets)}, "
            f"only Dagster {sorted(dagster.secrets - kestra.secrets)}"
        )
    # Dagster's prompt adds format instructions (plain paragraphs, no Markdown) after the
    # request that both sides send.
    if not kestra.prompt or not dagster.prompt.startswith(kestra.prompt):
        found.append(f"prompt differs: Kestra {kestra.prompt!r}, Dagster {dagster.prompt!r}")
    return found


def terraform_differences(flow: Mapping[str, Any], terraform_path: Path) -> list[str]:
    """Return what keeps the `kestra_flow` resource in ``terraform_path`` from deploying
    ``flow`` under its own id and namespace."""
    document = hcl2.load(terraform_path.open(encoding="utf-8"))
    resources = [
        body
        for block in document.get("resource", [])
        for kind, named in block.items()
        if _unquote(kind) == "kestra_flow"
        for body in named.values()
    ]
    if len(resources) != 1:
        return [f"{terraform_path.name} has {len(resources)} kestra_flow resources, expected 1"]
    [resource] = resources

    found = []
    if _unquote(resource.get("flow_id", "")) != flow.get("id"):
        found.append(f"flow_id {resource.get('flow_id')} is not the flow id {flow.get('id')!r}")
    if _unquote(resource.get("namespace", "")) != flow.get("namespace"):
        found.append(
            f"namespace {resource.get('namespace')} is not the flow's {flow.get('namespace')!r}"
        )
    match = _TERRAFORM_FILE_CALL.search(resource.get("content", ""))
    content_path = (terraform_path.parent / match.group(1)).resolve() if match else None
    if content_path is None or not content_path.exists():
        found.append(f"content {resource.get('content')} does not read an existing flow file")
    elif yaml.safe_load(content_path.read_text(encoding="utf-8")) != flow:
        found.append(f"content reads {content_path}, which is not this flow")
    return found


def _unquote(value: str) -> str:
    # python-hcl2 8 keeps the quotes of HCL string literals and block labels.
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def main() -> None:
    """Write the differences between the Kestra flow and the importable blog_pipeline package to
    stdout as JSON, with the package's path, for tests that edit a copy of the package."""
    import blog_pipeline
    from blog_pipeline.jobs import JOB_NAME

    found = differences(kestra_shape(load_flow()), dagster_shape(prod_definitions(), JOB_NAME))
    sys.stdout.write(json.dumps({"package": blog_pipeline.__file__, "differences": found}))


if __name__ == "__main__":
    main()
