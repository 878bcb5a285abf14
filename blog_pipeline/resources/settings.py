"""Settings of the pipeline itself that are not tied to one external system."""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg
from pydantic import Field, field_validator

from blog_pipeline.environment import Environment

# One hour after the 08:00 schedule. With default settings, a run whose three OpenAI calls and
# one Buffer call each use up their time budget (600 s and 300 s) still ends by 08:35.
DEFAULT_POST_DEADLINE = "09:00"

_HOURS_MINUTES = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class PipelineSettings(dg.ConfigurableResource):
    """Deployment-wide settings: environment name, Dagster UI address and daily post deadline."""

    environment: Environment = Field(description="sandbox, dev or prod.")
    channel_character_limit: int = Field(
        default=3000,
        gt=0,
        description="Maximum post length in Unicode code points after NFC (LinkedIn: 3,000).",
    )
    dagster_ui_url: str = Field(
        default="http://localhost:3000",
        description="Base URL of the Dagster UI, used for run links in alert e-mails.",
    )
    post_deadline: str = Field(
        default=DEFAULT_POST_DEADLINE,
        description=(
            "Europe/Berlin time (HH:MM) by which the day's post must be queued on Buffer; "
            "after it, the missed-post sensor e-mails an alert."
        ),
    )

    @field_validator("post_deadline")
    @classmethod
    def _check_post_deadline(cls, value: str) -> str:
        if not _HOURS_MINUTES.fullmatch(value):
            raise ValueError(f"post_deadline {value!r} is invalid: use HH:MM, for example 09:00")
        return value

    @property
    def is_sandbox(self) -> bool:
        return self.environment == Environment.SANDBOX

    @property
    def post_deadline_time(self) -> dt.time:
        return dt.time.fromisoformat(self.post_deadline)

    def run_url(self, run_id: str) -> str:
        return f"{self.dagster_ui_url.rstrip('/')}/runs/{run_id}"
