"""The setup scripts speak plainly to a user who cannot use Docker, instead of waiting."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.harness.procs import REPO


def test_a_user_outside_the_docker_group_gets_one_sentence_at_once(docker_client):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to act as another user")
    started = time.monotonic()
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp",
         "bash", "scripts/ensure-docker.sh"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "may not use it" in done.stderr and "usermod -aG docker" in done.stderr, done.stderr
    took = time.monotonic() - started
    print(f"ensure-docker.sh refused an unprivileged user in {took:.1f} s")
    assert took < 30  # (generous) not the minute the script waits for an Engine to start
