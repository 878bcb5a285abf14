"""The daily job: generate -> queue -> log, one step per asset."""

from __future__ import annotations

import dagster as dg

from blog_pipeline.assets import blog_article, buffer_post, publication_log

JOB_NAME = "daily_blogpost"
# dagster.yaml limits runs with this tag to one at a time, so two runs launched together cannot
# both find no post for the day and both publish.
PUBLISHING_TAG = "blog_pipeline/publishes_to"
MAX_RUNTIME_TAG = "dagster/max_runtime"
MAX_RUNTIME_SECONDS = 45 * 60

daily_blogpost = dg.define_asset_job(
    name=JOB_NAME,
    selection=dg.AssetSelection.assets(blog_article, buffer_post, publication_log),
    description="Generate a German blog article with OpenAI, queue it on Buffer, log success.",
    # Each step of the default multiprocess executor starts a process that re-imports the code
    # location; for three sequential steps the in-process executor runs the same job several
    # times faster (see docs/benchmarks.md) and loses nothing, since the steps never run in
    # parallel.
    executor_def=dg.in_process_executor,
    tags={
        PUBLISHING_TAG: "buffer",
        # Run monitoring fails a run still going after this many seconds. Each call to OpenAI or
        # Buffer has its own time budget; this bounds the whole run, shortening requests included.
        MAX_RUNTIME_TAG: str(MAX_RUNTIME_SECONDS),
    },
)
