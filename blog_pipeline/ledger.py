"""The record of what was published, kept in the Dagster event log of the ``buffer_post`` asset.

Two kinds of entries, both keyed by Berlin publish date and Buffer channel:

- a publish intent (an AssetObservation), written just before the request to Buffer, with the
  SHA-256 of the text and the root run id of the run group;
- a confirmed post (the asset's materialization), written once Buffer returned a post id.

An intent without a confirmation means the run died between the request and the record. Buffer
may hold the post then, so the next attempt asks Buffer for a post with that text before it
creates one. The event log lives in the instance storage (SQLite locally, PostgreSQL in
production), so every run process and every pod sees the same record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from blog_pipeline.errors import ConfigurationError

BUFFER_POST_KEY = dg.AssetKey("buffer_post")
ARTICLE_KEY = dg.AssetKey("blog_article")
INTENT_KIND = "publish_intent"
# Entries read per lookup: one post a day means about a year of history.
HISTORY_LIMIT = 400


@dataclass(frozen=True)
class PublishedPost:
    post_id: str
    publish_date: str
    channel_id: str
    run_id: str
    due_at: str | None


def require_durable_instance(instance: dg.DagsterInstance) -> None:
    """Raise ConfigurationError if ``instance`` keeps its event log only until the process ends.

    Without DAGSTER_HOME, `dagster dev` and `dagster job execute` store runs in a temporary
    .tmp_dagster_home_* folder that is deleted on exit, and the record of today's post with it,
    so the next start would queue the day's post again.
    """
    root = instance.root_directory if not instance.is_ephemeral else ""
    if instance.is_ephemeral or Path(root).name.startswith(".tmp_dagster_home_"):
        raise ConfigurationError(
            "DAGSTER_HOME is not set, so Dagster keeps runs in a temporary folder and forgets "
            "which post was queued today once it exits. Set DAGSTER_HOME to a folder that "
            "persists, for example `export DAGSTER_HOME=~/.dagster_home` (create it first), or "
            "use PostgreSQL storage as in deploy/dagster.yaml."
        )


def _value(metadata: dict, key: str) -> object:
    entry = metadata.get(key)
    return getattr(entry, "value", entry)


def confirmed_posts(
    instance: dg.DagsterInstance, publish_date: str, channel_id: str
) -> list[PublishedPost]:
    """Return the posts already confirmed for ``publish_date`` on ``channel_id``, newest first."""
    records = instance.fetch_materializations(BUFFER_POST_KEY, limit=HISTORY_LIMIT).records
    posts = []
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        metadata = dict(materialization.metadata)
        if (
            _value(metadata, "publish_date") == publish_date
            and _value(metadata, "channel_id") == channel_id
            and _value(metadata, "post_id")
        ):
            due_at = _value(metadata, "due_at")
            posts.append(
                PublishedPost(
                    post_id=str(_value(metadata, "post_id")),
                    publish_date=publish_date,
                    channel_id=channel_id,
                    run_id=record.run_id,
                    due_at=str(due_at) if due_at not in (None, "unknown") else None,
                )
            )
    return posts


def intent_hashes(
    instance: dg.DagsterInstance,
    publish_date: str,
    channel_id: str,
    root_run_id: str | None = None,
) -> set[str]:
    """Return the text hashes of publish intents for the date and channel, optionally only
    those of one run group."""
    records = instance.fetch_observations(BUFFER_POST_KEY, limit=HISTORY_LIMIT).records
    hashes = set()
    for record in records:
        observation = record.asset_observation
        if observation is None:
            continue
        metadata = dict(observation.metadata)
        if (
            _value(metadata, "kind") == INTENT_KIND
            and _value(metadata, "publish_date") == publish_date
            and _value(metadata, "channel_id") == channel_id
            and (root_run_id is None or _value(metadata, "root_run_id") == root_run_id)
        ):
            hashes.add(str(_value(metadata, "text_sha256")))
    return hashes


def run_group_article(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """Return the newest article text materialized by ``run_id`` or a run of its group.

    The IO manager stores an asset's value under the asset key, so the value that a
    re-execution loads may come from a later run of the job. The article's materialization
    keeps the full text with the run that made it.
    """
    group = instance.get_run_group(run_id)
    run_ids = {run.run_id for run in group[1]} if group else {run_id}
    run_ids.add(run_id)
    records = instance.fetch_materializations(ARTICLE_KEY, limit=HISTORY_LIMIT).records
    for record in records:
        materialization = record.asset_materialization
        if record.run_id in run_ids and materialization is not None:
            text = _value(dict(materialization.metadata), "text")
            if isinstance(text, str):
                return text
    return None


def intent_observation(
    publish_date: str, channel_id: str, text_sha256: str, root_run_id: str
) -> dg.AssetObservation:
    """Build the publish intent to log just before the request to Buffer."""
    return dg.AssetObservation(
        asset_key=BUFFER_POST_KEY,
        metadata={
            "kind": INTENT_KIND,
            "publish_date": publish_date,
            "channel_id": channel_id,
            "text_sha256": text_sha256,
            "root_run_id": root_run_id,
        },
    )
