"""Settings of the pipeline itself that are not tied to one external system."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from blog_pipeline.environment import Environment


class PipelineSettings(dg.ConfigurableResource):
    """Deployment-wide settings: environment name and where the Dagster UI is reachable."""

    environment: Environment = Field(description="sandbox, dev or prod.")
    dagster_ui_url: str = Field(
        default="http://localhost:3000",
        description="Base URL of the Dagster UI, used for run links in alert e-mails.",
    )

    @property
    def is_sandbox(self) -> bool:
        return self.environment == Environment.SANDBOX

    def run_url(self, run_id: str) -> str:
        return f"{self.dagster_ui_url.rstrip('/')}/runs/{run_id}"
