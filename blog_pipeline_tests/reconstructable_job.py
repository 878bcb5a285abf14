"""daily_blogpost as a reconstructable job, for tests that execute it the way run workers do:
in a new process or as a re-execution of an earlier run."""

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, ROOT_RUN_ID_TAG

from blog_pipeline.definitions import build_definitions
from blog_pipeline.environment import load_settings
from blog_pipeline.jobs import JOB_NAME


def daily_blogpost_job() -> dg.JobDefinition:
    return build_definitions(load_settings()).resolve_job_def(JOB_NAME)


def reexecute_from_failure(
    instance: dg.DagsterInstance, parent_run_id: str, tags: dict[str, str] | None = None
) -> dg.DagsterRun:
    """Re-execute the failed steps of ``parent_run_id``, as "Re-execute from failure" does, and
    return the finished run."""
    options = dg.ReexecutionOptions.from_failure(parent_run_id, instance)
    parent = instance.get_run_by_id(parent_run_id)
    assert parent is not None
    # Like the webserver and the retry daemon: the re-execution inherits the parent's own tags,
    # and carries its run group, by which the instance counts a run's retries.
    inherited = {k: v for k, v in parent.tags.items() if not k.startswith("dagster/")}
    group_tags = {
        **inherited,
        PARENT_RUN_ID_TAG: parent_run_id,
        ROOT_RUN_ID_TAG: parent.root_run_id or parent_run_id,
    }
    # Dagster keeps the last reconstructed job per process; the sandbox ports differ per test.
    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    with dg.execute_job(
        dg.reconstructable(daily_blogpost_job),
        instance=instance,
        reexecution_options=options,
        tags={**group_tags, **(tags or {})},
        raise_on_error=False,
    ) as result:
        run_id = result.run_id
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run
