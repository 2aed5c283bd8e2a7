"""Property-based fuzzing of the REST gateway with schemathesis, against its own OpenAPI
document and a running suite (NATS and every service as processes): no generated request may
get a 5xx or an answer that contradicts the schema.

`make test` runs a small, seeded pass; `make fuzz` sets CRANE_FUZZ_EXAMPLES for a long one
(at least 1,000 requests) with a random seed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.api import register_and_login
from tests.harness.suite import LocalSuite

EXAMPLES = int(os.environ.get("CRANE_FUZZ_EXAMPLES", "4"))
SEED = os.environ.get("CRANE_FUZZ_SEED", "1" if "CRANE_FUZZ_EXAMPLES" not in os.environ else "")


@pytest.fixture(scope="module")
def fuzz_suite(docker_client):
    # A suite of its own: the fuzzer, as admin, may replace policies and create many apps.
    suite = LocalSuite(with_traefik=False, with_monitoring=False, resync_seconds=30).start()
    yield suite
    suite.stop()


def test_no_generated_request_gets_a_server_error(fuzz_suite):
    admin = register_and_login(fuzz_suite.api_url, "fuzz-admin")  # the suite's first user: admin
    assert admin.get("/users/me").json()["role"] == "admin"
    schemathesis = Path(sys.executable).parent / "schemathesis"
    argv = [
        str(schemathesis),
        "run",
        f"{fuzz_suite.api_url}/openapi.json",
        "--header",
        f"Authorization: {admin.headers['Authorization']}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--max-examples",
        str(EXAMPLES),
        "--request-timeout",
        "60",
        # One worker: hypothesis' lambda-source cache is not thread-safe (a "Runtime Error"
        # about AST recursion depth, in the tool, not in CRANE).
        "--workers",
        "1",
        "--no-color",
    ]
    if SEED:
        argv += ["--seed", SEED]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    report = result.stdout + result.stderr
    Path("/tmp/fuzz_report.txt").write_text(report)
    print(report[-3000:])
    generated = re.search(r"(\d+) generated", report)
    assert generated, report[-3000:]
    print(f"schemathesis generated {generated.group(1)} test cases")
    assert result.returncode == 0, report[-6000:]
