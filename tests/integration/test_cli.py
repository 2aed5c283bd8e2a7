"""The real `crane` executable against a real suite: a project folder with a compose file, a
Dockerfile, .dockerignore, .env and a secret goes up, is listed, logged, scaled, watched,
redeployed unchanged (nothing rebuilt) and taken down (nothing left)."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pexpect
import pytest

from tests.conftest import make_user
from tests.integration.helpers import suite_containers

CRANE = str(Path(sys.executable).with_name("crane"))
PASSWORD = "correct-horse-battery"  # the harness's (tests/harness/api.py)

COMPOSE = """
services:
  web:
    build: ./web
    ports: ["8080"]
    secrets: [db_password]
    environment:
      GREETING: ${GREETING}
  worker:
    image: IMAGE
    entrypoint: ["/bin/busybox", "sh", "-c", "i=0; while true; do echo tick $$i; i=$$((i+1)); sleep 0.3; done"]
secrets:
  db_password:
    file: ./db_password.txt
"""


@pytest.fixture
def project(tmp_path, http_image) -> Path:
    folder = tmp_path / "clidemo"
    (folder / "web").mkdir(parents=True)
    (folder / "compose.yaml").write_text(COMPOSE.replace("IMAGE", http_image))
    (folder / "web" / "Dockerfile").write_text(f"FROM {http_image}\nCOPY . /www-extra/\n")
    (folder / "web" / ".dockerignore").write_text("private.key\n")
    (folder / "web" / "page.html").write_text("hello\n")
    (folder / "web" / "private.key").write_text("never uploaded\n")
    (folder / ".env").write_text("GREETING=hi from .env\n")
    (folder / "db_password.txt").write_text("s3cret-value\n")
    return folder


@pytest.fixture
def cli_env(suite, tmp_path) -> dict[str, str]:
    return {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "CRANE_API": suite.api_url, "COLUMNS": "200"}


def crane(env, *args: str, cwd: Path | None = None, stdin: str | None = None, timeout: float = 300, ok: bool = True):
    done = subprocess.run(
        [CRANE, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout
    )
    if ok:
        assert done.returncode == 0, f"crane {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def login(suite, env) -> str:
    user = make_user(suite, "cli")
    crane(env, "login", "--email", user.email, "--password-stdin", stdin=PASSWORD + "\n")
    user.close()
    return user.email


def lines_of(process: subprocess.Popen) -> queue.Queue:
    """The process's output lines as they come, read by a thread: a read never hangs a test."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def next_line(lines: queue.Queue, seconds: float) -> str:
    try:
        return str(lines.get(timeout=seconds))
    except queue.Empty:
        raise AssertionError(f"no line within {seconds:.0f} s") from None


def builds_of(suite, email: str, app_id: str) -> list[dict]:
    """The app's builds, as its owner reads them through the API."""
    token = httpx.post(f"{suite.api_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    return list(httpx.get(f"{suite.api_url}/api/v1/apps/{app_id}/builds", headers=headers).json())


def test_crane_up_ps_logs_scale_events_up_again_and_down(suite, project, cli_env, docker_client):
    email = login(suite, cli_env)
    assert crane(cli_env, "whoami").stdout.startswith(email)

    first = crane(cli_env, "up", cwd=project)
    assert "building web" in first.stdout and "is running" in first.stdout, first.stdout
    app = json.loads(crane(cli_env, "ps", "-o", "json").stdout)[0]
    app_id = app["id"]
    assert app["name"] == "clidemo" and app["status"] == "running" and app["spec"]["secrets"]
    assert "s3cret-value" not in json.dumps(app)
    assert app["spec"]["services"][0]["environment"]["GREETING"] == "hi from .env"
    listing = crane(cli_env, "ps", "clidemo").stdout
    assert "web" in listing and "worker" in listing
    assert re.search(rf"{app_id}-web-0 +web +[\d.]+% +\d+ MiB", listing), (
        listing
    )  # its replicas, each with CPU and memory
    scan = crane(cli_env, "scan", "clidemo").stdout
    assert "DS002" in scan and "Image user should not be 'root'" in scan, scan  # a finding says what it is

    # What the build saw: .dockerignore kept private.key out; the secret is mounted.
    web = [c for c in suite_containers(docker_client, suite.suite, app_id) if "web" in c.name][0]
    assert web.exec_run(["/bin/busybox", "ls", "/www-extra"]).output.decode().split() == ["Dockerfile", "page.html"]
    assert web.exec_run(["/bin/busybox", "cat", "/run/secrets/db_password"]).output == b"s3cret-value\n"

    # Logs followed: a line the worker writes after the follow began, prefixed with its replica.
    follow = subprocess.Popen([CRANE, "logs", app_id, "worker", "-f", "--tail", "0"], env=cli_env,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    line = next_line(lines_of(follow), 30)
    follow.terminate()
    follow.wait(10)
    assert " | tick " in line and f"{app_id}-worker-" in line.split(" | ")[0], line

    # Events followed while scaling: the change and its outcome appear.
    watching = subprocess.Popen([CRANE, "events", app_id, "-f", "--since", "0"], env=cli_env,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(1)
    assert "web to 2" in crane(cli_env, "scale", app_id, "web=2").stdout
    seen: list[str] = []
    events = lines_of(watching)
    deadline = time.monotonic() + 60
    while not any("app.scaled" in x for x in seen):
        seen.append(next_line(events, max(0.1, deadline - time.monotonic())))
    watching.terminate()
    watching.wait(10)
    assert any("app.updated" in x and "scale web to 2" in x for x in seen), seen
    assert any("app.scaled" in x for x in seen), seen

    # Up again with nothing changed: same app, nothing built.
    builds = builds_of(suite, email, app_id)
    assert [b["status"] for b in builds] == ["succeeded"], builds
    again = crane(cli_env, "up", cwd=project)
    assert f"updating {app_id}" in again.stdout and "building" not in again.stdout, again.stdout
    assert len(json.loads(crane(cli_env, "ps", "-o", "json").stdout)) == 1
    assert builds_of(suite, email, app_id) == builds  # nothing was built again
    exported = crane(cli_env, "export", app_id).stdout
    assert "services:" in exported and "s3cret-value" not in exported
    # Never over the project's own file: -o refuses a file that exists, unless --force.
    own = (project / "compose.yaml").read_text()
    refused = crane(cli_env, "export", app_id, "-o", "compose.yaml", cwd=project, ok=False)
    assert refused.returncode != 0 and "--force" in refused.stderr and (project / "compose.yaml").read_text() == own
    crane(cli_env, "export", app_id, "-o", "exported.yaml", cwd=project)
    assert (project / "exported.yaml").read_text() == exported
    crane(cli_env, "export", app_id, "-o", "exported.yaml", "--force", cwd=project)
    (project / "exported.yaml").unlink()
    with open(project / "compose.yaml", "w") as redirected:  # `crane export app > compose.yaml`
        done = subprocess.run(
            [CRANE, "export", app_id],
            env=cli_env,
            cwd=project,
            stdout=redirected,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0 and "crane export -o FILE" in done.stderr, done.stderr
    (project / "compose.yaml").write_text(own)

    assert "is gone" in crane(cli_env, "down", app_id, "-y").stdout
    assert suite_containers(docker_client, suite.suite, app_id) == []
    assert json.loads(crane(cli_env, "ps", "-o", "json").stdout) == []


def test_crane_reports_refusals_and_missing_logins_clearly(suite, project, cli_env, tmp_path):
    done = crane(cli_env, "ps", ok=False)
    assert done.returncode != 0 and "crane login" in done.stderr
    unreachable = {**cli_env, "CRANE_API": "http://127.0.0.1:9"}
    done = crane(unreachable, "login", "--email", "a@b.c", "--password-stdin", stdin="x\n", ok=False)
    assert done.returncode == 1 and "cannot reach the CRANE API at http://127.0.0.1:9" in done.stderr

    login(suite, cli_env)
    (project / "compose.yaml").write_text("services:\n  web:\n    image: x\n    imagee: typo\n")
    done = crane(cli_env, "up", cwd=project, ok=False)
    assert done.returncode == 1 and "imagee" in done.stderr, done.stderr
    (project / "compose.yaml").write_text("services:\n  web:\n    image: x\n    privileged: true\n")
    done = crane(cli_env, "up", cwd=project, ok=False)
    assert done.returncode == 1 and "privileged" in done.stderr, done.stderr
    # A build that fails: exit 1 with the builder's error.
    (project / "compose.yaml").write_text("services:\n  web:\n    build: ./web\n")
    (project / "web" / "Dockerfile").write_text("FROM scratch\nCOPY not-there /x\n")
    done = crane(cli_env, "up", "--name", "broken", cwd=project, ok=False)
    assert done.returncode == 1 and "build of web failed" in done.stdout and "not-there" in done.stderr, done
    # It says what it left behind, and how to remove it.
    assert "is kept, failed" in done.stderr and "crane down broken-" in done.stderr, done.stderr
    crane(cli_env, "down", "broken", "-y")
    crane(cli_env, "logout")
    assert crane(cli_env, "whoami", ok=False).returncode != 0


def test_crane_login_prompts_and_up_shows_progress_in_a_terminal(suite, project, cli_env):
    user = make_user(suite, "tty")
    session = pexpect.spawn(CRANE, ["login"], env=cli_env, encoding="utf-8", timeout=30, dimensions=(40, 300))
    session.expect("Email: ")
    session.sendline(user.email)
    session.expect("Password: ")
    session.sendline(PASSWORD)
    session.expect("Logged in to")
    session.expect(user.email)  # (in bold: the terminal codes sit between)
    session.expect(pexpect.EOF)

    session = pexpect.spawn(CRANE, ["up", "--name", "ttydemo"], cwd=str(project), env=cli_env, encoding="utf-8",
                            timeout=300, dimensions=(40, 160))  # fmt: skip
    session.expect("creating ttydemo")
    session.expect(r"\d+(\.\d+)?/\d+(\.\d+)? [kM]?B")  # the upload's bytes, as a progress bar shows them
    session.expect(["building", "not rebuilt"])  # (built by another test from the same context)
    session.expect(r"ttydemo-\d+ is running")
    session.expect(pexpect.EOF)
    session.close()
    assert session.exitstatus == 0
    app_id = json.loads(crane(cli_env, "ps", "-o", "json").stdout)[0]["id"]
    user.delete(f"/apps/{app_id}")
    user.close()
