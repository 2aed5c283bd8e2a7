"""The scan sandbox on the real Docker Engine: what a scanner could do if an image took it over.

Busybox stands in for Trivy (a scanner image whose entrypoint is busybox), so the probe is a
shell script running exactly where Trivy runs: same container settings, same archive. The real
Trivy in its sandbox is tested by test_scanning.py.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import pytest

from crane_deployer.scan_sandbox import ScanSandbox, write_binary_context
from crane_deployer.settings import DeployerSettings
from crane_shared.units import parse_memory
from tests.harness.suite import unique_suite_name

BUSYBOX = shutil.which("busybox") or "/bin/busybox"

PROBE = """
b=/busybox
{
  echo "uid=$($b id -u)"
  echo "capabilities=$($b awk '/^CapEff/ {print $2}' /proc/self/status)"
  if [ -e /var/run/docker.sock ] || [ -e /run/docker.sock ]; then echo socket=yes; else echo socket=no; fi
  echo "interfaces=$($b ls /sys/class/net | $b tr '\\n' ' ')"
  if $b touch /planted 2>/dev/null; then echo root=writable; else echo root=read-only; fi
  echo "archive=$($b wc -c < /scan/image.tar)"
  echo "routes=$($b ip route 2>&1 | $b tr '\\n' ' ')"
  echo "connect=$($b nc -w 2 172.17.0.1 4222 </dev/null 2>&1 | $b tr '\\n' ' ')"
  echo "memory=$($b cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null)"
  echo "pids=$($b cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null)"
} > /scan/out/report.json
"""


def _busybox_scanner(docker_client, tag: str, labels: dict[str, str]) -> str:
    """Built as the sandbox builds Trivy's image, with busybox in Trivy's place."""
    context = io.BytesIO()
    write_binary_context(context, Path(BUSYBOX), "busybox")
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=tag, labels=labels, rm=True)
    return tag


@pytest.fixture
def sandbox(docker_client, tmp_path: Path):
    suite = unique_suite_name()
    scanner = _busybox_scanner(docker_client, f"{suite}-scanner:probe", {"crane.suite": suite})
    # The limits the deployer ships (its settings' defaults), read back from inside below.
    shipped = DeployerSettings()
    box = ScanSandbox(docker_client.api, suite, tmp_path / "images", image=scanner, memory=shipped.scan_memory)
    yield box
    leftovers = {"label": [f"crane.suite={suite}"]}
    try:
        assert docker_client.api.containers(all=True, filters=leftovers) == []
        assert (docker_client.api.volumes(filters=leftovers).get("Volumes") or []) == []
        assert list(tmp_path.joinpath("images").iterdir()) == []  # no image archive is kept
    finally:
        docker_client.images.remove(scanner, force=True)


def test_a_scan_has_no_socket_no_network_no_capabilities_and_a_read_only_root(sandbox, http_image, docker_client):
    result = asyncio.run(sandbox.scan(http_image, ["sh", "-c", PROBE], [], timeout=60))
    assert result.code == 0, result.error
    facts = dict(line.split("=", 1) for line in result.report.decode().splitlines())
    assert facts["uid"] == "65534"
    assert facts["capabilities"] == "0000000000000000"
    assert facts["socket"] == "no"
    assert facts["interfaces"].split() == ["lo"]
    assert facts["routes"].strip() == ""  # not even to the host
    assert "network is unreachable" in facts["connect"].lower(), facts["connect"]
    assert facts["root"] == "read-only"
    assert int(facts["memory"]) == parse_memory(DeployerSettings().scan_memory) == 1024**3  # the README's 1g
    assert int(facts["pids"]) == 512  # the README's process limit
    saved = sum(len(chunk) for chunk in docker_client.api.get_image(http_image))
    assert int(facts["archive"]) == saved  # the image's whole archive, and nothing else to read


def test_a_scan_that_does_not_finish_is_stopped_and_leaves_nothing(sandbox, http_image):
    result = asyncio.run(sandbox.scan(http_image, ["sleep", "60"], [], timeout=2))
    assert result.code == -1 and "timed out" in result.error


def test_a_scan_that_fails_says_why(sandbox, http_image):
    result = asyncio.run(sandbox.scan(http_image, ["sh", "-c", "echo the database is broken >&2; exit 3"], [], 60))
    assert result.code == 3 and "the database is broken" in result.error
