"""The README's walkthrough runs as written: every shell block, in order, in one shell, on a
fresh `make up`, with nothing set but what the README tells a reader to set (where the suite
answers, when `make up` was given other ports and a suite name; the local Traefik image, with
no registry). How blocks are read, and what their `readme-test` lines say: tests/harness/readme.py.
When an example breaks, this test names its line in the README and shows what it printed."""

from __future__ import annotations

import os
import subprocess

import docker
import pytest

from tests.e2e.demo import compose_demo
from tests.harness.procs import REPO
from tests.harness.readme import Block, blocks, script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(docker_client):
    yield from compose_demo(docker_client)


def _shown(block: Block, output: str) -> str:
    return f"README.md:{block.line}:\n{block.text}\nprinted:\n{output[-3000:]}"


def test_the_readme_walkthrough_runs_as_written(demo, docker_client, tmp_path):
    runnable = [block for block in blocks((REPO / "README.md").read_text()) if block.skip is None]
    terminal = tmp_path / "terminal"  # the repository's root, as the reader's terminal sees it
    terminal.mkdir()
    for name in (".venv", "examples"):
        (terminal / name).symlink_to(REPO / name)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (tmp_path / "readme.sh").write_text(script(runnable, str(outputs)))
    env = {
        **os.environ,
        "API": f"http://localhost:{demo['CRANE_API_PORT']}/api/v1",
        "APPS": f"localhost:{demo['CRANE_HTTP_PORT']}",
        "NATS": f"nats://localhost:{demo['CRANE_NATS_PORT']}",
        "CRANE_SUITE": demo["CRANE_SUITE"],
    }
    try:
        docker_client.images.get("traefik:v3.1")
    except docker.errors.ImageNotFound:  # no registry here: the README's offline setting
        env["CRANE_TRAEFIK_IMAGE"] = "crane/traefik:local"
    try:
        done = subprocess.run(
            ["bash", str(tmp_path / "readme.sh")], cwd=terminal, env=env, capture_output=True, text=True, timeout=900
        )
        reached = (outputs / "current").read_text().strip()
        if reached != "done":
            block = runnable[int(reached)]
            output = (outputs / f"{reached}.out").read_text()
            pytest.fail(
                f"a README block failed (exit {done.returncode}): {_shown(block, output)}\n{done.stderr[-2000:]}"
            )
        for number, block in enumerate(runnable):
            output = (outputs / f"{number}.out").read_text()
            print(f"--- README.md:{block.line}: {block.first_line}\n{output[-600:]}")
            for pattern in block.expect:
                assert pattern.search(output), f"expected /{pattern.pattern}/ in {_shown(block, output)}"
    finally:
        if (terminal / "hello.yml").exists():  # the README's own copy of the app, if a failure left it up
            subprocess.run(
                ["docker", "compose", "-p", "hello-copy", "-f", "hello.yml", "down"], cwd=terminal, env=env, timeout=120
            )
