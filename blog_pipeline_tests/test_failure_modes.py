"""Every row of docs/failure-modes.md as one case: inject the fault, run, check the columns."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import pytest
from dagster_shared.serdes import serialize_value

from blog_pipeline import retry
from blog_pipeline.definitions import build_definitions
from blog_pipeline.resources import BufferResource, OpenAIResource
from blog_pipeline.sandbox import Fault, Sandbox, german_article
from blog_pipeline.sandbox.buffer_server import DEFAULT_CHANNEL_ID
from blog_pipeline.schedules import daily_blogpost_schedule
from blog_pipeline.sensors import alert_outbox_sensor, failure_alert_sensor
from blog_pipeline_tests.conftest import run_daily_job
from blog_pipeline_tests.reconstructable_job import reexecute_from_failure

PROJECT = Path(__file__).resolve().parents[1]
TABLE = PROJECT / "docs" / "failure-modes.md"
COLUMNS = ["id", "service", "fault", "retried", "posts", "alert", "what the user gets"]


def read_table() -> list[dict[str, str]]:
    """Return the rows of the failure-mode table as dicts keyed by column name."""
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith("| id ") or line.startswith("|---"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        assert len(cells) == len(COLUMNS), f"malformed row in {TABLE.name}: {line}"
        rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


@dataclass
class Case:
    sandbox: Sandbox
    instance: dg.DagsterInstance
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path
    waits: list[float] = field(default_factory=list)

    def run(
        self,
        run_config: dict | None = None,
        resources: dict | None = None,
        tags: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> dg.ExecuteInProcessResult:
        result = run_daily_job(
            self.sandbox,
            self.instance,
            run_config=run_config,
            tags=tags,
            extra_env=extra_env,
            resources=resources,
        )
        if not result.success:
            self.evaluate_sensor(result.dagster_run, result.get_run_failure_event())
        return result

    def alert_resources(self) -> dict[str, object]:
        # Only what the sensors use: the run's own resources may be what failed.
        resources = build_definitions(self.sandbox.settings()).resources
        return {key: resources[key] for key in ("smtp", "settings")}

    def evaluate_sensor(self, run: dg.DagsterRun, event: dg.DagsterEvent) -> None:
        context = dg.build_run_status_sensor_context(
            sensor_name=failure_alert_sensor.name,
            dagster_event=event,
            dagster_instance=self.instance,
            dagster_run=run,
            resources=self.alert_resources(),
        ).for_run_failure()
        failure_alert_sensor(context)

    def evaluate_outbox(self) -> None:
        context = dg.build_sensor_context(instance=self.instance, resources=self.alert_resources())
        alert_outbox_sensor(context)

    def fast_openai(self, **fields: object) -> dict[str, OpenAIResource]:
        settings = {
            "api_key_env_var": "SANDBOX_OPENAI_API_KEY",
            "base_url": self.sandbox.openai.base_url,
            **fields,
        }
        return {"openai": OpenAIResource(**settings)}

    def fast_buffer(self, **fields: object) -> dict[str, BufferResource]:
        settings = {
            "base_url": self.sandbox.buffer.url,
            "token_env_var": "SANDBOX_BUFFER_TOKEN",
            "channel_id_env_var": "SANDBOX_BUFFER_CHANNEL_ID",
            **fields,
        }
        return {"buffer": BufferResource(**settings)}


def _article_config(**fields: object) -> dict:
    return {"ops": {"blog_article": {"config": fields}}}


def _mutation_error(message: str, typename: str = "MutationError") -> Fault:
    body = {"data": {"createPost": {"__typename": typename, "message": message}}}
    return Fault(status=200, body=body, match="createPost")


def _choice(**choice: object) -> dict:
    return choice


# -- scenarios, one per table row -------------------------------------------------------------


def openai_429_retry_after_90(case: Case) -> None:
    case.sandbox.openai.inject(
        Fault(
            status=429,
            body={"error": {"message": "Rate limit reached"}},
            headers={"retry-after": "90"},
        )
    )
    case.run()
    assert 90.0 in case.waits


def openai_429_retry_after_3600(case: Case) -> None:
    case.sandbox.openai.inject(
        Fault(
            status=429,
            body={"error": {"message": "Rate limit reached"}},
            headers={"retry-after": "3600"},
        )
    )
    case.run()
    assert case.waits == []


def openai_429_insufficient_quota(case: Case) -> None:
    body = {
        "error": {
            "message": "You exceeded your current quota.",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    }
    case.sandbox.openai.inject(Fault(status=429, body=body, headers={"retry-after": "1"}))
    case.run()


def openai_500_then_success(case: Case) -> None:
    case.sandbox.openai.inject(Fault(status=500, body={"error": {"message": "Server error"}}))
    case.run()


def openai_503_always(case: Case) -> None:
    case.sandbox.openai.sticky_fault = Fault(
        status=503, body={"error": {"message": "The engine is currently overloaded"}}
    )
    case.run()


def openai_401_bad_key(case: Case) -> None:
    case.sandbox.openai.api_key = "sk-the-server-expects-another-key"
    case.run()


def openai_400_bad_request(case: Case) -> None:
    body = {"error": {"message": "Invalid value for 'model'", "code": "invalid_value"}}
    case.sandbox.openai.inject(Fault(status=400, body=body))
    case.run()


def openai_403_forbidden(case: Case) -> None:
    body = {
        "error": {
            "message": "Country, region, or territory not supported",
            "code": "unsupported_country_region_territory",
        }
    }
    case.sandbox.openai.inject(Fault(status=403, body=body))
    case.run()


def openai_accepts_never_answers(case: Case) -> None:
    case.sandbox.openai.sticky_fault = Fault(hang=True)
    case.run(resources=case.fast_openai(timeout_seconds=0.5, max_retries=1))


def openai_connection_dropped(case: Case) -> None:
    case.sandbox.openai.inject(Fault(drop=True))
    case.run()


def openai_refusal(case: Case) -> None:
    case.sandbox.openai.choice = _choice(
        message={"content": None, "refusal": "Dazu kann ich keinen Artikel schreiben."}
    )
    case.run()


def openai_finish_length(case: Case) -> None:
    case.sandbox.openai.choice = _choice(finish_reason="length")
    case.run()


def openai_content_filter(case: Case) -> None:
    case.sandbox.openai.choice = _choice(finish_reason="content_filter")
    case.run()


def openai_empty_content(case: Case) -> None:
    case.sandbox.openai.article = ""
    case.run()


def openai_not_a_completion(case: Case) -> None:
    case.sandbox.openai.inject(Fault(status=200, body="<html><body>Gateway</body></html>"))
    case.run()


def _article_of(characters: int) -> str:
    article = german_article(500)
    while len(article) < characters:
        article += " " + german_article(50)
    cut = article[:characters]
    return cut[:-1] + "."


def article_3050_characters_shortened(case: Case) -> None:
    case.sandbox.openai.article = _article_of(3050)
    result = case.run()
    assert len(result.output_for_node("blog_article")) <= 3000
    assert case.sandbox.openai.completions == 2


def article_3050_characters_fail_policy(case: Case) -> None:
    case.sandbox.openai.article = _article_of(3050)
    case.run(run_config=_article_config(too_long_policy="fail"))
    assert case.sandbox.openai.completions == 1


def article_in_english(case: Case) -> None:
    sentence = "Everything as code means that the whole system is described in files. "
    case.sandbox.openai.article = sentence * 35
    case.run()


def article_too_short(case: Case) -> None:
    case.sandbox.openai.article = " ".join(german_article(60).split()[:60])
    case.run()


SPECIAL = 'Ein "Zitat", ein Backslash \\ und ein\tTab.\n\nÄpfel, Öl, Übermaß, ß 🚀\n'


def article_special_characters(case: Case) -> None:
    case.sandbox.openai.article = SPECIAL + german_article(330)
    case.run()
    posted = case.sandbox.buffer.posts[0]["text"]
    assert posted.encode("utf-8") == case.sandbox.openai.article.encode("utf-8")


def buffer_graphql_unauthorized(case: Case) -> None:
    case.sandbox.buffer.token = "the-server-expects-another-token"
    case.run()


def buffer_mutation_error(case: Case) -> None:
    case.sandbox.buffer.inject(_mutation_error("Invalid channel settings"))
    case.run()


def buffer_limit_error_type(case: Case) -> None:
    case.sandbox.buffer.inject(_mutation_error("Daily limit reached", "LimitReachedError"))
    case.run()


BAD_GATEWAY = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def buffer_html_502_then_success(case: Case) -> None:
    case.sandbox.buffer.inject(Fault(status=502, body=BAD_GATEWAY, match="createPost"))
    case.run()


def buffer_html_502_always(case: Case) -> None:
    case.sandbox.buffer.sticky_fault = Fault(status=502, body=BAD_GATEWAY)
    case.run()


def _rate_limited(retry_after: int, header: bool) -> Fault:
    body = {
        "errors": [
            {
                "message": "Too many requests",
                "extensions": {"code": "RATE_LIMIT_EXCEEDED", "retryAfter": retry_after},
            }
        ]
    }
    headers = {"Retry-After": str(retry_after)} if header else {}
    return Fault(
        status=429, body=body if not header else {"errors": []}, headers=headers, match="createPost"
    )


def buffer_429_retry_after_900(case: Case) -> None:
    case.sandbox.buffer.inject(_rate_limited(900, header=False))
    case.run()
    assert case.waits == []


def buffer_429_retry_after_30(case: Case) -> None:
    case.sandbox.buffer.inject(_rate_limited(30, header=True))
    case.run()
    assert 30.0 in case.waits


def buffer_answer_lost(case: Case) -> None:
    case.sandbox.buffer.inject(Fault(drop=True, after_handling=True, match="createPost"))
    case.run()


def buffer_accepts_never_answers(case: Case) -> None:
    case.sandbox.buffer.sticky_fault = Fault(hang=True)
    case.run(resources=case.fast_buffer(timeout_seconds=0.5, max_retries=1))


def buffer_v1_profile_not_found(case: Case) -> None:
    case.sandbox.buffer.channel_ids = {"another-channel"}
    case.run(extra_env={"BUFFER_API": "v1"})


def secret_missing(case: Case) -> None:
    case.monkeypatch.delenv("SANDBOX_BUFFER_TOKEN")
    case.run()


def secret_empty(case: Case) -> None:
    case.monkeypatch.setenv("SANDBOX_OPENAI_API_KEY", "")
    case.run()


def run_config_invalid(case: Case) -> None:
    case.run(run_config=_article_config(language="klingon"))
    assert case.sandbox.openai.requests == []


def second_run_same_day(case: Case) -> None:
    tags = {"blog_pipeline/publish_date": "2026-12-04"}
    first = case.run(tags=tags)
    case.sandbox.openai.article = "Eine neue Fassung.\n\n" + german_article(300)
    second = case.run(tags=tags)
    assert second.success
    assert (
        second.output_for_node("buffer_post")["post_id"]
        == first.output_for_node("buffer_post")["post_id"]
    )
    assert second.output_for_node("buffer_post")["outcome"] == "already_queued"


def second_run_allowed(case: Case) -> None:
    tags = {"blog_pipeline/publish_date": "2026-12-04"}
    case.run(tags=tags)
    case.sandbox.openai.article = "Eine zweite Fassung.\n\n" + german_article(300)
    allow = {"ops": {"buffer_post": {"config": {"allow_second_post": True}}}}
    assert case.run(tags=tags, run_config=allow).success


def reexecute_from_failure_case(case: Case) -> None:
    case.sandbox.buffer.sticky_fault = Fault(status=503, body={"errors": []}, match="createPost")
    first = case.run(resources=case.fast_buffer(max_retries=1))
    assert not first.success
    case.sandbox.buffer.sticky_fault = None
    run = reexecute_from_failure(case.instance, first.run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    article = first.output_for_node("blog_article")
    assert case.sandbox.buffer.posts[0]["text"] == article


def reexecute_after_later_run(case: Case) -> None:
    fault = Fault(status=503, body={"errors": []}, match="createPost")
    case.sandbox.buffer.sticky_fault = fault
    first = case.run(
        run_config=_article_config(topic="Alpha-Thema"),
        resources=case.fast_buffer(max_retries=1),
        tags={"blog_pipeline/publish_date": "2033-01-01"},
    )
    assert not first.success
    case.sandbox.buffer.sticky_fault = None
    second = case.run(
        run_config=_article_config(topic="Beta-Thema"),
        tags={"blog_pipeline/publish_date": "2034-01-01"},
    )
    assert second.success

    retried = reexecute_from_failure(case.instance, first.run_id)

    assert retried.status == dg.DagsterRunStatus.SUCCESS
    texts = [post["text"] for post in case.sandbox.buffer.posts]
    assert texts[0].startswith("Heute geht es um Beta-Thema.")
    assert texts[1].startswith("Heute geht es um Alpha-Thema.")


def _persistent_instance(case: Case) -> tuple[Path, dg.DagsterInstance]:
    home = case.tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    case.instance = dg.DagsterInstance.from_config(str(home))
    return home, case.instance


def _job_execute(home: Path, tags: dict[str, str] | None = None) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "job",
        "execute",
        "-m",
        "blog_pipeline.definitions",
        "-j",
        "daily_blogpost",
    ]
    if tags:
        command += ["--tags", json.dumps(tags)]
    return subprocess.Popen(  # noqa: S603
        command,
        cwd=PROJECT,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def parallel_job_execute_same_date(case: Case) -> None:
    home, instance = _persistent_instance(case)
    # What `dagster instance concurrency set buffer_publish 1` does. Without it the pool's limit
    # comes from dagster.yaml's default_limit when the first step claims a slot.
    instance.event_log_storage.set_concurrency_slots("buffer_publish", 1)
    tags = {"blog_pipeline/publish_date": "2031-05-05"}

    processes = [_job_execute(home, tags) for _ in range(3)]

    assert [process.wait(timeout=300) for process in processes] == [0, 0, 0]
    outcomes = [
        record.asset_materialization.metadata["outcome"].value
        for record in instance.fetch_materializations(dg.AssetKey("buffer_post"), limit=10).records
    ]
    assert sorted(outcomes) == ["already_queued", "already_queued", "queued"]


def worker_killed_after_buffer_accepted(case: Case) -> None:
    home = case.tmp_path / "dagster_home"
    home.mkdir()
    instance = dg.DagsterInstance.from_config(str(home))
    case.instance = instance
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    dagster = Path(sys.executable).with_name("dagster")
    process = subprocess.Popen(  # noqa: S603
        [str(dagster), "job", "execute", "-m", "blog_pipeline.definitions", "-j", "daily_blogpost"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    case.sandbox.buffer.after_create = lambda post: os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=240) == -signal.SIGKILL
    case.sandbox.buffer.after_create = None
    assert len(case.sandbox.buffer.posts) == 1

    [run] = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.STARTED
    # What run monitoring does when it finds the run worker gone.
    instance.report_run_failed(run, message="Run worker process exited unexpectedly.")
    failed = instance.get_run_by_id(run.run_id)
    failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1]
    case.evaluate_sensor(failed, failure.dagster_event)

    retried = reexecute_from_failure(instance, run.run_id)
    assert retried.status == dg.DagsterRunStatus.SUCCESS


def schedule_tick_summer_time(case: Case) -> None:
    moment = dt.datetime(2026, 3, 29, 6, 0, tzinfo=dt.UTC)
    context = dg.build_schedule_context(scheduled_execution_time=moment)
    [request] = daily_blogpost_schedule.evaluate_tick(context).run_requests
    result = case.run(tags=dict(request.tags))
    messages = [r.user_message for r in case.instance.all_logs(result.run_id)]
    assert any("for 2026-03-29 (Europe/Berlin)" in message for message in messages)


def schedule_tick_twice_same_date(case: Case) -> None:
    moment = dt.datetime(2026, 10, 25, 7, 0, tzinfo=dt.UTC)
    context = dg.build_schedule_context(scheduled_execution_time=moment)
    [request] = daily_blogpost_schedule.evaluate_tick(context).run_requests
    assert case.run(tags=dict(request.tags)).success
    case.sandbox.openai.article = "Noch einmal.\n\n" + german_article(300)
    assert case.run(tags=dict(request.tags)).success


def smtp_down_then_back(case: Case) -> None:
    case.sandbox.openai.api_key = "sk-the-server-expects-another-key"
    case.sandbox.smtp.reject_with = "421 Service not available, closing channel"
    case.run()
    case.evaluate_outbox()
    assert case.sandbox.smtp.messages() == []
    case.sandbox.smtp.reject_with = None
    case.evaluate_outbox()
    case.evaluate_outbox()


def alert_header_injection(case: Case) -> None:
    case.sandbox.buffer.inject(
        _mutation_error("Kanal gesperrt\r\nBcc: victim@example.com\r\nSubject: gefälscht")
    )
    case.run()
    [mail] = case.sandbox.smtp.messages()
    assert mail["Bcc"] is None
    assert "gefälscht" not in mail["Subject"]


def alert_html_in_error(case: Case) -> None:
    case.sandbox.buffer.inject(_mutation_error("<script>alert(1)</script>"))
    case.run()
    [mail] = case.sandbox.smtp.messages()
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


SCENARIOS: dict[str, Callable[[Case], None]] = {
    "openai-429-retry-after-90": openai_429_retry_after_90,
    "openai-429-retry-after-3600": openai_429_retry_after_3600,
    "openai-429-insufficient-quota": openai_429_insufficient_quota,
    "openai-500-then-success": openai_500_then_success,
    "openai-503-always": openai_503_always,
    "openai-401-bad-key": openai_401_bad_key,
    "openai-400-bad-request": openai_400_bad_request,
    "openai-403-forbidden": openai_403_forbidden,
    "openai-accepts-never-answers": openai_accepts_never_answers,
    "openai-connection-dropped": openai_connection_dropped,
    "openai-refusal": openai_refusal,
    "openai-finish-length": openai_finish_length,
    "openai-content-filter": openai_content_filter,
    "openai-empty-content": openai_empty_content,
    "openai-not-a-completion": openai_not_a_completion,
    "article-3050-characters-shortened": article_3050_characters_shortened,
    "article-3050-characters-fail-policy": article_3050_characters_fail_policy,
    "article-in-english": article_in_english,
    "article-too-short": article_too_short,
    "article-special-characters": article_special_characters,
    "buffer-graphql-unauthorized": buffer_graphql_unauthorized,
    "buffer-mutation-error": buffer_mutation_error,
    "buffer-limit-error-type": buffer_limit_error_type,
    "buffer-html-502-then-success": buffer_html_502_then_success,
    "buffer-html-502-always": buffer_html_502_always,
    "buffer-429-retry-after-900": buffer_429_retry_after_900,
    "buffer-429-retry-after-30": buffer_429_retry_after_30,
    "buffer-answer-lost": buffer_answer_lost,
    "buffer-accepts-never-answers": buffer_accepts_never_answers,
    "buffer-v1-profile-not-found": buffer_v1_profile_not_found,
    "secret-missing": secret_missing,
    "secret-empty": secret_empty,
    "run-config-invalid": run_config_invalid,
    "second-run-same-day": second_run_same_day,
    "second-run-allowed": second_run_allowed,
    "reexecute-from-failure": reexecute_from_failure_case,
    "reexecute-after-later-run": reexecute_after_later_run,
    "parallel-job-execute-same-date": parallel_job_execute_same_date,
    "worker-killed-after-buffer-accepted": worker_killed_after_buffer_accepted,
    "schedule-tick-summer-time": schedule_tick_summer_time,
    "schedule-tick-twice-same-date": schedule_tick_twice_same_date,
    "smtp-down-then-back": smtp_down_then_back,
    "alert-header-injection": alert_header_injection,
    "alert-html-in-error": alert_html_in_error,
}

ROWS = read_table()


def test_table_and_scenarios_match() -> None:
    ids = [row["id"] for row in ROWS]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(SCENARIOS)
    assert len(ids) >= 30


def _retried(instance: dg.DagsterInstance) -> bool:
    return any(
        "Retrying in" in record.user_message
        for run in instance.get_runs()
        for record in instance.all_logs(run.run_id)
    )


def _mail_text(mail: EmailMessage) -> str:
    return f"{mail['Subject']}\n{mail.get_body(('plain',)).get_content()}"


# Distinctive fake secrets: each case runs with them and then searches every place a secret
# could leak to.
PLANTED_SECRETS = {
    "SANDBOX_OPENAI_API_KEY": "sk-planted-Op3nAI-k3y-7f3a9c",
    "SANDBOX_BUFFER_TOKEN": "planted-Buff3r-t0ken-5e1d2b",
}


def _assert_no_planted_secret(
    case: Case, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    out, err = capfd.readouterr()
    places = {"stdout": out, "stderr": err, "python log": caplog.text}
    for run in case.instance.get_runs():
        places[f"run {run.run_id} config and tags"] = serialize_value(run)
        for number, record in enumerate(case.instance.all_logs(run.run_id)):
            places[f"run {run.run_id} event {number}"] = serialize_value(record)
    for path in case.sandbox.smtp.message_files():
        places[f"e-mail {path.name}"] = path.read_bytes().decode("utf-8", "replace")
    for name, secret in PLANTED_SECRETS.items():
        leaks = [place for place, text in places.items() if secret in text]
        assert leaks == [], f"{name} leaked into {leaks}"


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_failure_mode(
    row: dict[str, str],
    sandbox: Sandbox,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    case = Case(sandbox, instance, monkeypatch, tmp_path)
    monkeypatch.setattr(retry, "_sleep", case.waits.append)
    for name, secret in PLANTED_SECRETS.items():
        monkeypatch.setenv(name, secret)
    sandbox.buffer.token = PLANTED_SECRETS["SANDBOX_BUFFER_TOKEN"]
    caplog.set_level(logging.DEBUG)

    SCENARIOS[row["id"]](case)

    _assert_no_planted_secret(case, capfd, caplog)
    assert len(sandbox.buffer.posts) == int(row["posts"])
    if int(row["posts"]):
        assert {post["channelId"] for post in sandbox.buffer.posts} == {DEFAULT_CHANNEL_ID}
    assert _retried(case.instance) == (row["retried"] == "yes")
    mails = sandbox.smtp.messages()
    if row["alert"] == "none":
        assert mails == []
    else:
        assert len(mails) == 1
        assert row["alert"].strip("`") in _mail_text(mails[0])
