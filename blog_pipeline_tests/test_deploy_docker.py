"""The code-location image, checked statically: deploy/Dockerfile, its lock file and .dockerignore.

No Docker engine runs here, so the Dockerfile is parsed (dockerfile-parse) and its instructions
are checked for the properties the deployment relies on.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = Path(__file__).resolve().parents[1]
DOCKERFILE = PROJECT / "deploy" / "Dockerfile"
LOCK = PROJECT / "deploy" / "requirements.lock"
IMAGE_REQUIREMENTS = PROJECT / "deploy" / "requirements.in"
DOCKERIGNORE = PROJECT / ".dockerignore"
PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text())
SECRET_WORDS = re.compile(r"KEY|TOKEN|PASS|SECRET|CREDENTIAL", re.IGNORECASE)


def instructions() -> list[tuple[str, str]]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    return [
        (item["instruction"], item["value"])
        for item in parser.structure
        if item["instruction"] != "COMMENT"
    ]


def exec_form(value: str) -> list[str]:
    """Parse the JSON (exec) form of ENTRYPOINT, CMD or HEALTHCHECK CMD."""
    import json

    return json.loads(value)


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", line.strip())
        assert match, f"lock line is not an exact pin: {line!r}"
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def test_base_image_pinned_slim_python() -> None:
    froms = [value for instruction, value in instructions() if instruction == "FROM"]

    assert len(froms) == 1
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-(\w+)(@sha256:[0-9a-f]{64})?", froms[0])
    assert match, f"base image {froms[0]!r} is not python:X.Y.Z-slim-<debian> pinned by version"
    assert (int(match[1]), int(match[2])) == sys.version_info[:2]


def test_locked_dependencies_installed_before_source() -> None:
    steps = instructions()
    copies = [
        (index, value) for index, (instruction, value) in enumerate(steps) if instruction == "COPY"
    ]
    runs = [
        (index, value) for index, (instruction, value) in enumerate(steps) if instruction == "RUN"
    ]
    [(lock_index, _)] = [(i, v) for i, v in copies if "deploy/requirements.lock" in v]
    [(install_index, install)] = [(i, v) for i, v in runs if "pip install" in v]
    source_indexes = [i for i, v in copies if "blog_pipeline" in v.split()]

    assert "--requirement /tmp/requirements.lock" in install
    assert "--no-deps" in install
    assert "pip check" in install
    assert source_indexes
    assert lock_index < install_index < min(source_indexes)
    # Only the lock, the entry point and the package enter the image.
    sources = {value.split()[-2] for _, value in copies}
    assert sources == {"deploy/requirements.lock", "deploy/entrypoint.py", "blog_pipeline"}


def test_lock_pins_every_runtime_dependency() -> None:
    pins = lock_pins()
    project = PYPROJECT["project"]
    required = [
        *project["dependencies"],
        *project["optional-dependencies"]["postgres"],
        *(
            line
            for line in IMAGE_REQUIREMENTS.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ),
    ]

    assert "blog-pipeline" not in pins
    for line in required:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is missing from deploy/requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"deploy/requirements.lock pins {name}=={pins[name]}, but {line!r} is required: "
            "run deploy/lock-requirements.sh"
        )


def test_lock_matches_integration_release_set() -> None:
    pins = lock_pins()

    # Every dagster-* integration of one release shares the version, and matches dagster's.
    integrations = {name: v for name, v in pins.items() if name.startswith("dagster-")}
    core = {"dagster-graphql", "dagster-pipes", "dagster-shared", "dagster-webserver"}
    assert {pins[name] for name in core} == {pins["dagster"]}
    assert len({v for name, v in integrations.items() if name not in core}) == 1
    assert "dagster-k8s" in pins
    assert "psycopg2-binary" in pins


def test_runs_as_non_root_user() -> None:
    steps = instructions()
    users = [value for instruction, value in steps if instruction == "USER"]
    [create] = [value for instruction, value in steps if "useradd" in value]

    assert users, "no USER instruction: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit()
    assert int(uid) > 0
    assert gid.isdigit()
    assert int(gid) > 0
    assert f"--uid {uid}" in create
    # The last USER applies to ENTRYPOINT and CMD, which must come after it.
    last_user = max(i for i, (instruction, _) in enumerate(steps) if instruction == "USER")
    entry = [i for i, (instruction, _) in enumerate(steps) if instruction in {"ENTRYPOINT", "CMD"}]
    assert min(entry) > last_user


def test_entrypoint_starts_code_server_for_location() -> None:
    steps = dict(instructions())
    entrypoint = exec_form(steps["ENTRYPOINT"])
    command = exec_form(steps["CMD"])
    tool = PYPROJECT["tool"]["dagster"]

    assert entrypoint == ["python", "/opt/dagster/entrypoint.py"]
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("--module-name") + 1] == tool["module_name"]
    assert command[command.index("--location-name") + 1] == tool["code_location_name"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert steps["EXPOSE"] == port
    health = steps["HEALTHCHECK"].split("CMD", 1)[1].strip()
    assert exec_form(health) == ["dagster", "api", "grpc-health-check", "-p", port]


def test_image_command_serves_location(tmp_path: Path) -> None:
    """Run the image's ENTRYPOINT and CMD outside Docker, on loopback and a free port, and wait
    until the code server passes the health check the image and Helm use."""
    steps = dict(instructions())
    command = exec_form(steps["CMD"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = port
    bin_dir = Path(sys.executable).parent
    command[0] = str(bin_dir / command[0])
    entrypoint = exec_form(steps["ENTRYPOINT"])
    script = PROJECT / entrypoint[1].replace("/opt/dagster/", "deploy/")
    environment = {**os.environ, "DAGSTER_HOME": str(tmp_path)}

    server = subprocess.Popen(  # noqa: S603 - the image's own command
        [sys.executable, str(script), *command],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        healthy = False
        while time.monotonic() < deadline and server.poll() is None and not healthy:
            check = subprocess.run(  # noqa: S603 - dagster's health check on loopback
                [str(bin_dir / "dagster"), "api", "grpc-health-check", "-p", port],
                capture_output=True,
                timeout=30,
                check=False,
            )
            healthy = check.returncode == 0
            time.sleep(0 if healthy else 1)
    finally:
        # The code server starts worker processes; its whole process group goes.
        os.killpg(server.pid, signal.SIGKILL)
        _, stderr = server.communicate(timeout=30)

    assert healthy, stderr.decode(errors="replace")[-3000:]


def test_no_secret_baked_into_image() -> None:
    for instruction, value in instructions():
        if instruction in {"ENV", "ARG", "LABEL"}:
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", value) or [value.split()[0]]
            for name in names:
                assert not SECRET_WORDS.search(name), f"{instruction} {name} looks like a secret"
        if instruction == "COPY":
            assert ".env" not in value.split()


def dockerignore_patterns() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def pattern_regex(pattern: str) -> str:
    """Translate a .dockerignore pattern (Go filepath.Match plus **) into a regular expression."""
    regex = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            regex += ".*"
            index += 2
            continue
        if char == "*":
            regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "[":
            end = pattern.index("]", index)
            regex += pattern[index : end + 1]
            index = end
        else:
            regex += re.escape(char)
        index += 1
    return regex


def excluded_from_context(path: str) -> bool:
    """Whether docker build leaves ``path`` out: the last matching pattern wins, and a pattern
    that matches a parent folder covers everything below it."""
    excluded = False
    parts = path.split("/")
    for pattern in dockerignore_patterns():
        negated = pattern.startswith("!")
        regex = pattern_regex(pattern.lstrip("!").strip("/"))
        if any(re.fullmatch(regex, "/".join(parts[:depth])) for depth in range(1, len(parts) + 1)):
            excluded = not negated
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "deploy/.env",
        ".venv/bin/python",
        ".git/config",
        ".sandbox/outbox/mail.eml",
        "blog_pipeline_tests/test_job.py",
        "deploy/terraform/main.tf",
        "blog_pipeline/__pycache__/assets.cpython-311.pyc",
        "dagster.yaml",
    ],
)
def test_dockerignore_excludes(path: str) -> None:
    assert excluded_from_context(path)


def test_dockerignore_keeps_copied_sources() -> None:
    copied = ["deploy/requirements.lock", "deploy/entrypoint.py"]
    copied += [str(p.relative_to(PROJECT)) for p in (PROJECT / "blog_pipeline").rglob("*.py")]

    for path in copied:
        assert (PROJECT / path).exists(), path
        assert not excluded_from_context(path), f"{path} is copied but .dockerignore drops it"
