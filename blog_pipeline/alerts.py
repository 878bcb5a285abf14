"""Failure alert e-mail: one-line subject, plain-text and HTML body with every value escaped."""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SUBJECT_LIMIT = 200

# Bodies go out as quoted-printable or base64 instead of 8bit, so the whole message is ASCII and
# any SMTP server takes it, also one without 8BITMIME (RFC 6152). Non-ASCII header text is
# encoded per RFC 2047 by the e-mail package either way.
ALERT_POLICY = policy.default.clone(cte_type="7bit")


@dataclass(frozen=True)
class StepFailure:
    step_key: str
    message: str


@dataclass(frozen=True)
class FailureAlert:
    """The facts an alert reports about one failed run."""

    run_id: str
    job_name: str
    run_url: str
    environment: str
    run_message: str
    step_failures: list[StepFailure] = field(default_factory=list)
    # The first run of a retry chain and how many runs the chain had, counting this one.
    first_run_id: str | None = None
    attempts: int = 1

    @property
    def failed_steps(self) -> list[str]:
        return [failure.step_key for failure in self.step_failures]


def encodable(text: str) -> str:
    """Replace each lone surrogate, which UTF-8 cannot encode, with its ``\\udcxx`` escape.

    Text decoded with ``errors="surrogateescape"``, such as a subprocess's output in an error
    message, contains them, and the e-mail package raises UnicodeEncodeError on them.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """Return ``text`` as literal text for one header line, cut to ``limit`` characters.

    Every run of whitespace and control characters, CR and LF included, becomes one space.
    ``=?`` becomes ``= ?``: the e-mail package decodes RFC 2047 encoded words in a value it is
    given, and Python before 3.11.10 writes a CR or LF decoded from one raw into the header,
    which adds header lines (https://github.com/python/cpython/issues/121650).
    """
    printable = "".join(
        " " if unicodedata.category(char) == "Cc" else char for char in encodable(text)
    )
    flat = " ".join(printable.split()).replace("=?", "= ?")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def build_subject(alert: FailureAlert) -> str:
    if alert.failed_steps:
        where = f"at step {', '.join(alert.failed_steps)}"
    else:
        where = "outside any step (run-level failure)"
    tries = f" after {alert.attempts} attempts" if alert.attempts > 1 else ""
    return one_line(f"[blog-pipeline {alert.environment}] {alert.job_name} failed {where}{tries}")


def build_text(alert: FailureAlert) -> str:
    lines = [
        f"The Dagster job {alert.job_name} failed in {alert.environment}.",
        "",
        f"Run id: {alert.run_id}",
        f"Run in the Dagster UI: {alert.run_url}",
    ]
    if alert.attempts > 1:
        lines.append(f"Attempts: {alert.attempts} runs, the first was {alert.first_run_id}")
    if alert.step_failures:
        lines.append(f"Failed steps: {', '.join(alert.failed_steps)}")
        for failure in alert.step_failures:
            lines += ["", f"Step {failure.step_key}:", failure.message]
    else:
        lines += [
            "Failed steps: none. This is a run-level failure: the run failed before or outside "
            "any step (resources could not start, or the run worker died)."
        ]
    lines += ["", "Run failure:", alert.run_message]
    return "\n".join(lines) + "\n"


def build_html(alert: FailureAlert) -> str:
    e = html.escape
    steps = ", ".join(e(s) for s in alert.failed_steps) or (
        "none: a run-level failure, before or outside any step"
    )
    first_run = ""
    if alert.attempts > 1:
        first_run = f" (first run <code>{e(alert.first_run_id or alert.run_id)}</code>)"
    parts = [
        "<html><body>",
        f"<p>The Dagster job <b>{e(alert.job_name)}</b> failed in {e(alert.environment)}.</p>",
        "<table>",
        f"<tr><th align='left'>Run id</th><td><code>{e(alert.run_id)}</code></td></tr>",
        f"<tr><th align='left'>Failed steps</th><td>{steps}</td></tr>",
        f"<tr><th align='left'>Attempts</th><td>{alert.attempts}{first_run}</td></tr>",
        "</table>",
        f'<p><a href="{e(alert.run_url, quote=True)}">Open the run in the Dagster UI</a></p>',
    ]
    for failure in alert.step_failures:
        parts.append(f"<h3>Step {e(failure.step_key)}</h3><pre>{e(failure.message)}</pre>")
    parts.append(f"<h3>Run failure</h3><pre>{e(alert.run_message)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_email(alert: FailureAlert) -> EmailMessage:
    """Build the alert with a text/plain part and an HTML alternative; From and To are set by
    the SMTP resource."""
    message = EmailMessage(policy=ALERT_POLICY)
    message["Subject"] = build_subject(alert)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="blog-pipeline")
    message["X-Dagster-Run-Id"] = one_line(alert.run_id, 100)
    message.set_content(encodable(build_text(alert)))
    message.add_alternative(encodable(build_html(alert)), subtype="html")
    return message
