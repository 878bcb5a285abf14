"""The production instance, deploy/dagster.yaml, against a real PostgreSQL and a local S3.

The job runs against the sandbox servers on an instance built from the file unchanged. Runs,
events and asset materializations must come back from PostgreSQL, through a new instance and
through SQL. Step logs must land in S3. A re-execution in a fresh DAGSTER_HOME, as in a new run
pod, must load earlier outputs through the S3 IO manager.

PostgreSQL comes from BLOG_PIPELINE_TEST_POSTGRES_URL, a role allowed to create databases; each
test module run gets its own database, dropped at the end. .ci/run starts the server and sets
the variable. Without it the tests skip, unless BLOG_PIPELINE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import dagster as dg
import psycopg2
import pytest
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from blog_pipeline.definitions import build_definitions
from blog_pipeline.environment import IO_MANAGER_ENV_VAR, load_settings
from blog_pipeline.jobs import JOB_NAME
from blog_pipeline.sandbox import Sandbox
from blog_pipeline_tests.conftest import skip_or_fail
from blog_pipeline_tests.moto_server import (
    AWS_VARIABLES_TO_CLEAR,
    REGION,
    aws_environment,
    running_moto_server,
)

PROJECT = Path(__file__).resolve().parents[1]
INSTANCE_FILE = PROJECT / "deploy" / "dagster.yaml"
POSTGRES_URL_VAR = "BLOG_PIPELINE_TEST_POSTGRES_URL"
LOG_BUCKET = "blog-pipeline-compute-logs"
IO_BUCKET = "blog-pipeline-io"
LOG_PREFIX = "compute-logs"
ASSETS = ("blog_article", "buffer_post", "publication_log")

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[dict[str, str]]:
    """A new, empty database on the test server; yields the DAGSTER_PG_* variables for it."""
    url = os.environ.get(POSTGRES_URL_VAR, "").strip()
    if not url:
        skip_or_fail(f"{POSTGRES_URL_VAR} is not set; .ci/run starts PostgreSQL and sets it")
    parts = urlsplit(url)
    server = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "",
        "password": parts.password or "",
    }
    try:
        admin = psycopg2.connect(dbname=parts.path.lstrip("/"), connect_timeout=5, **server)
    except psycopg2.OperationalError as exc:
        skip_or_fail(f"Connecting to PostgreSQL at {server['host']}:{server['port']} failed: {exc}")
    admin.autocommit = True
    name = f"blog_pipeline_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            "DAGSTER_PG_HOST": server["host"],
            "DAGSTER_PG_PORT": str(server["port"]),
            "DAGSTER_PG_USER": server["user"],
            "DAGSTER_PG_PASSWORD": server["password"],
            "DAGSTER_PG_DB": name,
        }
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def prod_environment(
    postgres_database: dict[str, str],
    s3_endpoint: str,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Process environment of a prod deployment, with OpenAI, Buffer and SMTP in the sandbox."""
    for name in AWS_VARIABLES_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    environment = {
        **postgres_database,
        **aws_environment(s3_endpoint),
        "DAGSTER_COMPUTE_LOG_BUCKET": LOG_BUCKET,
        "DAGSTER_COMPUTE_LOG_PREFIX": LOG_PREFIX,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # The sandbox keeps its own servers but stores step outputs in S3, as dev and prod do.
    monkeypatch.setenv(IO_MANAGER_ENV_VAR, "s3")
    monkeypatch.setenv("BLOG_PIPELINE_IO_BUCKET", IO_BUCKET)

    s3 = boto3.client("s3")
    for bucket in (LOG_BUCKET, IO_BUCKET):
        if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
    return environment


def new_dagster_home(parent: Path) -> Path:
    """A DAGSTER_HOME with deploy/dagster.yaml copied unchanged, as a new pod or host has it."""
    home = parent / f"dagster_home_{uuid.uuid4().hex[:8]}"
    home.mkdir()
    shutil.copy(INSTANCE_FILE, home / "dagster.yaml")
    return home


# Targets for dg.reconstructable, one per IO manager. Dagster caches the definition it loads for a
# target function, so a shared target would hand one test the IO manager another test chose.
def daily_job_with_s3_outputs() -> dg.JobDefinition:
    settings = load_settings({**os.environ, IO_MANAGER_ENV_VAR: "s3"})
    return build_definitions(settings).resolve_job_def(JOB_NAME)


def daily_job_with_filesystem_outputs() -> dg.JobDefinition:
    settings = load_settings({**os.environ, IO_MANAGER_ENV_VAR: "filesystem"})
    return build_definitions(settings).resolve_job_def(JOB_NAME)


def run_job(sandbox: Sandbox, home: Path) -> dg.ExecuteInProcessResult:
    defs = build_definitions(sandbox.settings(dict(os.environ)))
    job = defs.resolve_job_def(JOB_NAME)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def query(environment: dict[str, str], sql: str, *args: object) -> list[tuple]:
    connection = psycopg2.connect(
        host=environment["DAGSTER_PG_HOST"],
        port=environment["DAGSTER_PG_PORT"],
        user=environment["DAGSTER_PG_USER"],
        password=environment["DAGSTER_PG_PASSWORD"],
        dbname=environment["DAGSTER_PG_DB"],
        connect_timeout=5,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()
    finally:
        connection.close()


def test_instance_file_selects_postgres_and_s3(
    prod_environment: dict[str, str], tmp_path: Path
) -> None:
    with dg.DagsterInstance.from_config(str(new_dagster_home(tmp_path))) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
        assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
        assert instance.run_monitoring_enabled


def test_run_events_and_materializations_read_back_from_postgres(
    prod_environment: dict[str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    result = run_job(sandbox, new_dagster_home(tmp_path))
    assert result.success
    [post] = sandbox.buffer.posts

    # A second instance from the same file, as the webserver in another pod would open it.
    with dg.DagsterInstance.from_config(str(new_dagster_home(tmp_path))) as instance:
        record = instance.get_run_record_by_id(result.run_id)
        assert record is not None
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert record.dagster_run.job_name == JOB_NAME

        events = instance.all_logs(result.run_id)
        types = [event.dagster_event.event_type for event in events if event.dagster_event]
        assert dg.DagsterEventType.RUN_START in types
        assert types.count(dg.DagsterEventType.STEP_SUCCESS) == 3
        assert types[-1] == dg.DagsterEventType.RUN_SUCCESS

        for asset in ASSETS:
            materialization = instance.get_latest_materialization_event(dg.AssetKey(asset))
            assert materialization is not None, asset
            assert materialization.run_id == result.run_id
        buffer_event = instance.get_latest_materialization_event(dg.AssetKey("buffer_post"))
        assert buffer_event is not None
        metadata = buffer_event.asset_materialization.metadata
        assert metadata["post_id"].value == post["id"]

    # The same facts straight from the tables, without Dagster in between.
    [(status,)] = query(
        prod_environment, "SELECT status FROM runs WHERE run_id = %s", result.run_id
    )
    assert status == "SUCCESS"
    rows = query(
        prod_environment,
        "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
        result.run_id,
        "ASSET_MATERIALIZATION",
    )
    assert rows == [(3,)]
    keys = {row[0] for row in query(prod_environment, "SELECT asset_key FROM asset_keys")}
    assert {f'["{asset}"]' for asset in ASSETS} <= keys


def test_step_logs_uploaded_to_s3(
    prod_environment: dict[str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    result = run_job(sandbox, new_dagster_home(tmp_path))
    assert result.success

    s3 = boto3.client("s3")
    prefix = f"{LOG_PREFIX}/storage/{result.run_id}/compute_logs/"
    listing = s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix=prefix)
    keys = [item["Key"] for item in listing.get("Contents", [])]
    assert keys, f"no compute log under s3://{LOG_BUCKET}/{prefix}"
    logs = "".join(
        s3.get_object(Bucket=LOG_BUCKET, Key=key)["Body"].read().decode() for key in keys
    )
    assert "Blog post scheduled" in logs


def test_reexecution_in_new_pod_loads_outputs_from_s3(
    prod_environment: dict[str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    parent = run_job(sandbox, new_dagster_home(tmp_path))
    assert parent.success
    posts_before = len(sandbox.buffer.posts)

    # A fresh DAGSTER_HOME shares nothing on disk with the parent run, like a new run pod.
    with dg.DagsterInstance.from_config(str(new_dagster_home(tmp_path))) as instance:
        options = dg.ReexecutionOptions(
            parent_run_id=parent.run_id, step_selection=["publication_log"]
        )
        with dg.execute_job(
            dg.reconstructable(daily_job_with_s3_outputs),
            instance=instance,
            reexecution_options=options,
            raise_on_error=False,
        ) as child:
            assert child.success
            loaded = [
                event
                for event in child.all_events
                if event.event_type_value == "LOADED_INPUT" and event.step_key == "publication_log"
            ]
            steps = {event.step_key for event in child.all_events if event.is_step_success}

    assert steps == {"publication_log"}
    assert len(loaded) == 1
    # Only publication_log ran: the Buffer post of the parent was read back, not queued again.
    assert len(sandbox.buffer.posts) == posts_before
    s3 = boto3.client("s3")
    head = s3.head_object(Bucket=IO_BUCKET, Key="blog-pipeline/sandbox/io/buffer_post")
    assert head["ContentLength"] > 0


def test_reexecution_without_object_store_fails_in_new_pod(
    prod_environment: dict[str, str],
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reason dev and prod default to S3: with Dagster's filesystem IO manager the outputs
    # stay in the parent's DAGSTER_HOME, which a new pod does not have.
    monkeypatch.setenv(IO_MANAGER_ENV_VAR, "filesystem")
    parent = run_job(sandbox, new_dagster_home(tmp_path))
    assert parent.success

    with dg.DagsterInstance.from_config(str(new_dagster_home(tmp_path))) as instance:
        options = dg.ReexecutionOptions(
            parent_run_id=parent.run_id, step_selection=["publication_log"]
        )
        with dg.execute_job(
            dg.reconstructable(daily_job_with_filesystem_outputs),
            instance=instance,
            reexecution_options=options,
            raise_on_error=False,
        ) as child:
            failures = [event for event in child.all_events if event.is_step_failure]

    [failure] = failures
    assert failure.step_key == "publication_log"
    error = failure.step_failure_data.error
    assert error is not None
    assert 'loading input "buffer_post"' in error.message
    assert error.cause is not None
    assert error.cause.cls_name == "FileNotFoundError"
