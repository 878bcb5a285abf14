"""Failure alert e-mail: one-line subject, plain-text and HTML body with every value escaped."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SUBJECT_LIMIT = 200


@dataclass(frozen=True)
class StepFailure:
    step_key: str
    message: str


@dataclass(frozen=True)
class FailureAlert:
    """What an alert reports about one failed run."""

    run_id: str
    job_name: str
    run_url: str
    environment: str
    run_message: str
    step_failures: list[StepFailure] = field(default_factory=list)

    @property
    def failed_steps(self) -> list[str]:
        return [failure.step_key for failure in self.step_failures]


def one_line(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """Collapse every run of whitespace, CR and LF included, into one space and cut to ``limit``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def build_subject(alert: FailureAlert) -> str:
    if alert.failed_steps:
        where = f"at step {', '.join(alert.failed_steps)}"
    else:
        where = "before any step ran"
    return one_line(f"[blog-pipeline {alert.environment}] {alert.job_name} failed {where}")


def build_text(alert: FailureAlert) -> str:
    lines = [
        f"The Dagster job {alert.job_name} failed in {alert.environment}.",
        "",
        f"Run id: {alert.run_id}",
        f"Run in the Dagster UI: {alert.run_url}",
    ]
    if alert.step_failures:
        lines.append(f"Failed steps: {', '.join(alert.failed_steps)}")
        for failure in alert.step_failures:
            lines += ["", f"Step {failure.step_key}:", failure.message]
    else:
        lines += ["Failed steps: none (the run failed before or outside any step)"]
    lines += ["", "Run failure:", alert.run_message]
    return "\n".join(lines) + "\n"


def build_html(alert: FailureAlert) -> str:
    e = html.escape
    steps = ", ".join(e(s) for s in alert.failed_steps) or "none (the run failed before any step)"
    parts = [
        "<html><body>",
        f"<p>The Dagster job <b>{e(alert.job_name)}</b> failed in {e(alert.environment)}.</p>",
        "<table>",
        f"<tr><th align='left'>Run id</th><td><code>{e(alert.run_id)}</code></td></tr>",
        f"<tr><th align='left'>Failed steps</th><td>{steps}</td></tr>",
        "</table>",
        f"<p><a href=\"{e(alert.run_url, quote=True)}\">Open the run in the Dagster UI</a></p>",
    ]
    for failure in alert.step_failures:
        parts.append(f"<h3>Step {e(failure.step_key)}</h3><pre>{e(failure.message)}</pre>")
    parts.append(f"<h3>Run failure</h3><pre>{e(alert.run_message)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_email(alert: FailureAlert) -> EmailMessage:
    """Build the alert with a text/plain part and an HTML alternative; From and To are set by
    the SMTP resource."""
    message = EmailMessage()
    message["Subject"] = build_subject(alert)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="blog-pipeline")
    message["X-Dagster-Run-Id"] = one_line(alert.run_id, 100)
    message.set_content(build_text(alert))
    message.add_alternative(build_html(alert), subtype="html")
    return message
