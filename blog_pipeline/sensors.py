"""Run-failure sensor that e-mails an alert through the SMTP resource."""


import re

import dagster as dg
from dagster._utils.error import SerializableErrorInfo

from blog_pipeline.alerts import FailureAlert, StepFailure, build_email
from blog_pipeline.errors import BlogPipelineError
from blog_pipeline.jobs import daily_blogpost
from blog_pipeline.resources import PipelineSettings, SMTPResource
from blog_pipeline.secrets import redact

# Dagster wraps an exception raised in a step or a resource in these errors; its cause is the message that matters.
_WRAPPER_ERRORS = {
    "DagsterExecutionStepExecutionError",
    "DagsterUserCodeExecutionError",
    "DagsterResourceFunctionError",
}

_QUALIFIED_NAME = re.compile(r"[A-Za-z_][\w.]*")

# The daemon evaluates the sensor at most this often; it bounds the delay from a failed run to
# its alert.
MINIMUM_INTERVAL_SECONDS = 5


def error_message(error: SerializableErrorInfo | None) -> str:
    """Return the message of ``error``, skipping Dagster's wrappers down to the user error."""
    if error is None:
        return ""
    while error.cls_name in _WRAPPER_ERRORS and error.cause is not None:
        error = error.cause
    # The message starts with the exception's qualified class name; keep the short name only,
    # and none for dagster.Failure, whose description is the whole message.
    qualified, separator, text = error.message.strip().partition(": ")
    if not separator or not _QUALIFIED_NAME.fullmatch(qualified):
        return error.message.strip()
    short_name = qualified.rsplit(".", 1)[-1]
    return text.strip() if short_name == "Failure" else f"{short_name}: {text.strip()}"


def describe_failure(context: dg.RunFailureSensorContext, settings: PipelineSettings) -> FailureAlert:
    """Collect run id, failed steps and error messages of the failed run."""
    run = context.dagster_run
    step_failures = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        message = error_message(data.error if data else None) or event.message or ""
        step_failures.append(StepFailure(step_key=event.step_key or "unknown", message=message))

    run_message = context.failure_event.message or "no message"
    run_error = error_message(getattr(context.failure_event.event_specific_data, "error", None))
    if run_error and not step_failures:
        run_message = f"{run_message}\n{run_error}"
    return FailureAlert(
        run_id=run.run_id,
        job_name=run.job_name,
        run_url=settings.run_url(run.run_id),
        environment=settings.environment.value,
        run_message=redact(run_message, []),
        step_failures=[StepFailure(f.step_key, redact(f.message, [])) for f in step_failures],
    )


@dg.run_failure_sensor(
    name="daily_blogpost_failure_alert",
    monitored_jobs=[daily_blogpost],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    description="E-mails an alert with run id, failed steps and errors when daily_blogpost fails.",
)
def failure_alert_sensor(
    context: dg.RunFailureSensorContext, smtp: SMTPResource, settings: PipelineSettings
) -> None:
    alert = describe_failure(context, settings)
    try:
        smtp.send(build_email(alert))
    except BlogPipelineError as exc:
        context.log.error(
            "Failure alert for run %s of %s was not sent: %s", alert.run_id, alert.job_name, exc
        )
        raise
    context.log.info(
        "Failure alert for run %s sent to %s", alert.run_id, ", ".join(smtp.recipients)
    )
