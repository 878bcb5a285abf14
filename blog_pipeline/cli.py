"""``blog-pipeline``: run the daily job against the local sandbox, or serve the sandbox.

blog-pipeline sandbox run [--fail openai|buffer] [--api graphql|v1] [--topic TEXT]
blog-pipeline sandbox serve      # the three servers on their default ports, until Ctrl-C
blog-pipeline sandbox dev        # the servers plus `dagster dev`, pointed at them
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

SANDBOX_DIR = Path(".sandbox")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="blog-pipeline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="work with the local sandbox servers")
    actions = sandbox.add_subparsers(dest="action", required=True)

    run = actions.add_parser("run", help="run daily_blogpost once against the sandbox")
    run.add_argument(
        "--fail",
        choices=("openai", "buffer"),
        help="make this service reject every request, to see the failure alert e-mail",
    )
    run.add_argument("--api", choices=("graphql", "v1"), default="graphql", help="Buffer API")
    run.add_argument("--topic", help="article topic (default: Everything-as-Code)")
    run.add_argument(
        "--dir", type=Path, default=SANDBOX_DIR, help="sandbox folder (default .sandbox)"
    )

    serve = actions.add_parser("serve", help="serve the sandbox on its default ports")
    serve.add_argument("--dir", type=Path, default=SANDBOX_DIR)

    dev = actions.add_parser("dev", help="serve the sandbox and start `dagster dev` against it")
    dev.add_argument("--dir", type=Path, default=SANDBOX_DIR)
    dev.add_argument("--port", type=int, default=3000, help="Dagster UI port (default 3000)")

    args = parser.parse_args(argv)
    try:
        if args.action == "run":
            return _run(args)
        if args.action == "serve":
            return _serve(args)
        return _dev(args)
    except OSError as exc:
        # A sandbox folder that is a file, or a sandbox port that another program holds.
        where = f": {exc.filename}" if exc.filename else ""
        print(
            f"blog-pipeline: {exc.strerror or exc}{where}. Check that --dir ({args.dir}) is a "
            "folder you can write to, and that no other program holds the sandbox ports "
            "(18401, 18402 and 18425 for `sandbox serve` and `sandbox dev`).",
            file=sys.stderr,
        )
        return 2


def _run(args: argparse.Namespace) -> int:
    import dagster as dg

    from blog_pipeline.definitions import build_definitions
    from blog_pipeline.jobs import JOB_NAME
    from blog_pipeline.sandbox import Sandbox
    from blog_pipeline.sensors import failure_alert_sensor

    home = _dagster_home(args.dir)
    # One run per sandbox folder at a time: parallel first runs would race to create the
    # instance's SQLite schema.
    with _folder_lock(args.dir), Sandbox(args.dir / "outbox") as sandbox:
        environ = sandbox.environ(buffer_api=args.api)
        os.environ.update(environ)
        if args.fail == "openai":
            sandbox.openai.api_key = "sk-sandbox-expects-another-key"  # noqa: S105
        elif args.fail == "buffer":
            sandbox.buffer.token = "sandbox-expects-another-token"  # noqa: S105

        print(
            "SANDBOX: OpenAI, Buffer and SMTP are local servers on 127.0.0.1; nothing is published."
        )
        print(
            f"  OpenAI {sandbox.openai.base_url}  Buffer {sandbox.buffer.url}  "
            f"SMTP 127.0.0.1:{sandbox.smtp.port}"
        )

        defs = build_definitions(sandbox.settings({"BUFFER_API": args.api}))
        job = defs.resolve_job_def(JOB_NAME)
        run_config: dict = {"ops": {}}
        if args.topic is not None:
            run_config["ops"]["blog_article"] = {"config": {"topic": args.topic}}
        if args.fail:
            # The folder's record may already hold today's post, which would end the run before
            # it reaches the failing service.
            run_config["ops"]["buffer_post"] = {"config": {"allow_second_post": True}}
        instance = dg.DagsterInstance.from_config(str(home))
        _limit_publish_pool(instance)
        result = job.execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False
        )

        if result.success:
            article = result.output_for_node("blog_article")
            post = result.output_for_node("buffer_post")
            print("\n--- article " + "-" * 60)
            print(article)
            print("-" * 72)
            print(
                f"Buffer post id: {post['post_id']} (due {post['due_at']}) "
                f"in the sandbox Buffer, channel {post['channel_id']}"
            )
            print(f"Run {result.run_id} succeeded. See it with: blog-pipeline sandbox dev")
            print(f"Runs are kept in {home}, alert e-mails go to {sandbox.smtp.outbox.resolve()}.")
            return 0

        print(f"\nRun {result.run_id} FAILED. Evaluating the failure sensor as the daemon would.")
        context = dg.build_run_status_sensor_context(
            sensor_name=failure_alert_sensor.name,
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={key: (defs.resources or {})[key] for key in ("smtp", "settings")},
        ).for_run_failure()
        failure_alert_sensor(context)
        mails = sandbox.smtp.message_files()
        if mails:
            print(f"Alert e-mail delivered to the sandbox SMTP server: {mails[-1].resolve()}")
            print(f"Subject: {sandbox.smtp.messages()[-1]['Subject']}")
        return 1


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _limit_publish_pool(instance: object) -> None:
    """Give the pool of buffer_post one slot, as `dagster instance concurrency set` would.

    dagster.yaml's default_limit applies only when the first step claims a slot, and two first
    runs can race there.
    """
    from blog_pipeline.assets import PUBLISH_POOL

    storage = instance.event_log_storage  # type: ignore[attr-defined]
    if storage.supports_global_concurrency_limits:
        storage.set_concurrency_slots(PUBLISH_POOL, 1)


def _dagster_home(folder: Path) -> Path:
    home = (folder / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    project_config = Path("dagster.yaml")
    if project_config.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(project_config, home / "dagster.yaml")
    return home


def _default_sandbox(folder: Path):  # noqa: ANN202
    from blog_pipeline.environment import (
        SANDBOX_BUFFER_PORT,
        SANDBOX_OPENAI_PORT,
        SANDBOX_SMTP_PORT,
    )
    from blog_pipeline.sandbox import Sandbox

    return Sandbox(
        folder / "outbox",
        openai_port=SANDBOX_OPENAI_PORT,
        buffer_port=SANDBOX_BUFFER_PORT,
        smtp_port=SANDBOX_SMTP_PORT,
    )


def _serve(args: argparse.Namespace) -> int:
    with _default_sandbox(args.dir) as sandbox:
        print("SANDBOX servers on 127.0.0.1 (nothing leaves this machine):")
        for name, value in sandbox.environ().items():
            print(f"  export {name}={value}")
        print(f"Alert e-mails are stored in {sandbox.smtp.outbox.resolve()}. Ctrl-C stops.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def _dev(args: argparse.Namespace) -> int:
    home = _dagster_home(args.dir)
    with _default_sandbox(args.dir) as sandbox:
        env = {
            **os.environ,
            **sandbox.environ(),
            "DAGSTER_HOME": str(home),
            "DAGSTER_UI_URL": f"http://127.0.0.1:{args.port}",
        }
        print(
            f"SANDBOX: alert e-mails go to {sandbox.smtp.outbox.resolve()}; nothing is published."
        )
        dagster = Path(sys.executable).with_name("dagster")
        command = [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(args.port)]
        process = subprocess.Popen(command, env=env)  # noqa: S603
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            return process.wait()


if __name__ == "__main__":
    sys.exit(main())
