"""Failure alerts: a run-failure sensor that e-mails through the SMTP resource, and an outbox
sensor that delivers alerts the SMTP server did not take the first time.

The delivery state of each failed run is kept as a run tag (``blog_pipeline/alert``), so it is
durable in the instance storage and visible on the run page:

    sent         the SMTP server accepted the alert
    pending      delivery failed; the outbox sensor tries again until it is sent
    will_retry   Dagster retries the run, so the alert waits for the last run of the chain

A run-status sensor advances its cursor past a run even when its function raises, so a failed
delivery must be remembered outside the sensor: the tag is that memory.
"""

import logging
import re

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._utils.error import SerializableErrorInfo

from blog_pipeline.alerts import FailureAlert, StepFailure, build_email
from blog_pipeline.errors import BlogPipelineError
from blog_pipeline.jobs import daily_blogpost
from blog_pipeline.resources import PipelineSettings, SMTPResource

ALERT_TAG = "blog_pipeline/alert"
ALERT_ERROR_TAG = "blog_pipeline/alert_error"
# The run the alert state belongs to: a re-execution inherits its parent's tags, and an inherited
# "sent" must not silence the new run's alert.
ALERT_RUN_TAG = "blog_pipeline/alert_run"
SENT = "sent"
PENDING = "pending"
WILL_RETRY = "will_retry"
# Set by the instance on a failed run when run retries are enabled.
DAGSTER_WILL_RETRY_TAG = "dagster/will_retry"
DAGSTER_RETRY_NUMBER_TAG = "dagster/retry_number"

# Dagster wraps an exception raised in a step or a resource in these errors; its cause is the
# message that matters.
_WRAPPER_ERRORS = {
    "DagsterExecutionStepExecutionError",
    "DagsterUserCodeExecutionError",
    "DagsterResourceFunctionError",
}
_QUALIFIED_NAME = re.compile(r"[A-Za-z_][\w.]*")

# The daemon evaluates the failure sensor at most this often; it bounds the delay from a failed
# run to its alert.
MINIMUM_INTERVAL_SECONDS = 5
# The outbox sensor retries pending alerts this often while the SMTP server is unavailable.
OUTBOX_INTERVAL_SECONDS = 30
OUTBOX_BATCH = 20


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


def describe_failure(
    instance: dg.DagsterInstance, run: dg.DagsterRun, settings: PipelineSettings
) -> FailureAlert:
    """Collect run id, failed steps, error messages and retry chain of a failed run from the
    instance's event log."""
    step_failures = []
    for record in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        data = event.step_failure_data if event else None
        message = error_message(data.error if data else None) or record.user_message
        step_failures.append(StepFailure(step_key=record.step_key or "unknown", message=message))

    run_message = "no run failure event was recorded"
    failures = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
    if failures:
        event = failures[-1].dagster_event
        run_message = (event.message if event else None) or failures[-1].user_message
        run_error = error_message(getattr(event and event.event_specific_data, "error", None))
        if run_error and not step_failures:
            run_message = f"{run_message}\n{run_error}"

    retry_number = int(run.tags.get(DAGSTER_RETRY_NUMBER_TAG, "0") or 0)
    return FailureAlert(
        run_id=run.run_id,
        job_name=run.job_name,
        run_url=settings.run_url(run.run_id),
        environment=settings.environment.value,
        run_message=run_message,
        step_failures=step_failures,
        first_run_id=run.root_run_id or run.run_id,
        attempts=retry_number + 1,
    )


def deliver_alert(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    smtp: SMTPResource,
    settings: PipelineSettings,
    log: logging.Logger,
) -> bool:
    """Send the alert of ``run`` and record the outcome on its tags; return True if sent.

    An SMTP failure is logged with the run id and leaves the alert pending for the outbox
    sensor, so the daemon goes on and the alert is not lost.
    """
    alert = describe_failure(instance, run, settings)
    try:
        smtp.send(build_email(alert))
    except BlogPipelineError as exc:
        log.error(
            "Failure alert for run %s of %s was not sent: %s. It stays pending and is retried "
            "every %d s.",
            run.run_id,
            run.job_name,
            exc,
            OUTBOX_INTERVAL_SECONDS,
        )
        _set_alert_state(instance, run, PENDING, error=str(exc)[:500])
        return False
    _set_alert_state(instance, run, SENT)
    log.info("Failure alert for run %s sent to %s", run.run_id, ", ".join(smtp.recipients))
    return True


def alert_state(run: dg.DagsterRun) -> str | None:
    """Return the alert state of ``run`` itself, ignoring one inherited from a parent run."""
    if run.tags.get(ALERT_RUN_TAG) != run.run_id:
        return None
    return run.tags.get(ALERT_TAG)


def _set_alert_state(
    instance: dg.DagsterInstance, run: dg.DagsterRun, state: str, error: str = ""
) -> None:
    tags = {ALERT_TAG: state, ALERT_RUN_TAG: run.run_id, ALERT_ERROR_TAG: error or "none"}
    instance.add_run_tags(run.run_id, tags)


@dg.run_failure_sensor(
    name="daily_blogpost_failure_alert",
    monitored_jobs=[daily_blogpost],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    description="E-mails an alert with run id, failed steps and errors when daily_blogpost "
    "fails, once per retry chain.",
)
def failure_alert_sensor(
    context: dg.RunFailureSensorContext, smtp: SMTPResource, settings: PipelineSettings
) -> None:
    run = context.instance.get_run_by_id(context.dagster_run.run_id) or context.dagster_run
    if alert_state(run) == SENT:
        context.log.info("Failure alert for run %s was already sent", run.run_id)
        return
    if run.tags.get(DAGSTER_WILL_RETRY_TAG) == "true":
        _set_alert_state(context.instance, run, WILL_RETRY)
        context.log.info(
            "Run %s failed and Dagster retries it; the alert waits for the last run of the chain",
            run.run_id,
        )
        return
    deliver_alert(context.instance, run, smtp, settings, context.log)


@dg.sensor(
    name="daily_blogpost_alert_outbox",
    minimum_interval_seconds=OUTBOX_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends failure alerts that the SMTP server did not accept the first time.",
)
def alert_outbox_sensor(
    context: dg.SensorEvaluationContext, smtp: SMTPResource, settings: PipelineSettings
) -> dg.SkipReason:
    tagged = context.instance.get_runs(
        filters=dg.RunsFilter(tags={ALERT_TAG: PENDING}, statuses=[dg.DagsterRunStatus.FAILURE]),
        limit=OUTBOX_BATCH,
    )
    pending = [run for run in tagged if alert_state(run) == PENDING]
    if not pending:
        return dg.SkipReason("No pending failure alerts.")
    sent = sum(deliver_alert(context.instance, run, smtp, settings, context.log) for run in pending)
    return dg.SkipReason(f"Sent {sent} of {len(pending)} pending failure alerts.")
