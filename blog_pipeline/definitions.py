"""The code location: assets, job, schedule, sensor and resources for the selected environment."""

from __future__ import annotations

import dagster as dg

from blog_pipeline.assets import blog_article, buffer_post, publication_log
from blog_pipeline.environment import IOManagerKind, Settings, load_settings
from blog_pipeline.jobs import daily_blogpost
from blog_pipeline.missed_run import daily_blogpost_missed_post_alert
from blog_pipeline.resources import (
    BufferResource,
    OpenAIResource,
    PipelineSettings,
    SMTPResource,
)
from blog_pipeline.schedules import daily_blogpost_schedule
from blog_pipeline.sensors import alert_outbox_sensor, failure_alert_sensor


def build_resources(
    settings: Settings,
) -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManager]:
    return {
        "openai": OpenAIResource(
            api_key_env_var=settings.openai_api_key_env_var,
            model=settings.openai_model,
            base_url=settings.openai_base_url,
        ),
        "buffer": BufferResource(
            api=settings.buffer_api,
            base_url=settings.buffer_base_url,
            token_env_var=settings.buffer_token_env_var,
            channel_id_env_var=settings.buffer_channel_env_var,
        ),
        "smtp": SMTPResource(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username_env_var=settings.smtp_username_env_var,
            password_env_var=settings.smtp_password_env_var,
            sender=settings.alert_sender,
            recipients=settings.alert_recipients,
        ),
        "settings": PipelineSettings(
            environment=settings.environment, dagster_ui_url=settings.dagster_ui_url
        ),
        **build_io_manager(settings),
    }


def build_io_manager(settings: Settings) -> dict[str, dg.ConfigurableIOManager]:
    """Return the ``io_manager`` resource the settings select; empty keeps Dagster's default."""
    if settings.io_manager != IOManagerKind.S3:
        return {}

    # Imported only here: boto3 adds to every load of the code location, and only dev and prod
    # use S3. Credentials and region come from boto3's default chain (IAM role of the pod,
    # AWS_REGION), so no key is part of the resource config.
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    assert settings.io_manager_s3_bucket is not None
    return {
        "io_manager": S3PickleIOManager(
            s3_resource=S3Resource(),
            s3_bucket=settings.io_manager_s3_bucket,
            s3_prefix=settings.io_manager_s3_prefix,
        )
    }


def build_definitions(
    settings: Settings, resource_overrides: dict[str, dg.ConfigurableResource] | None = None
) -> dg.Definitions:
    """Assemble the code location; ``resource_overrides`` replaces resources by key."""
    return dg.Definitions(
        assets=[blog_article, buffer_post, publication_log],
        jobs=[daily_blogpost],
        schedules=[daily_blogpost_schedule],
        sensors=[failure_alert_sensor, alert_outbox_sensor, daily_blogpost_missed_post_alert],
        resources={**build_resources(settings), **(resource_overrides or {})},
    )


defs = build_definitions(load_settings())
