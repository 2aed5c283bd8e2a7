"""Shared fixtures: the real Docker Engine, a test image, and a whole local CRANE suite
(NATS, Traefik, the five services) unique to this run and removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

from tests.harness.api import ApiClient, register_and_login
from tests.harness.bucket_table import check_keys_fit_the_table
from tests.harness.images import build_http_image, remove_image
from tests.harness.suite import LocalSuite

RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"these tests need a running Docker Engine (run `make docker`): {exc}")
    yield client
    client.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Images of this run left untagged (a tag removed while a suite's replicas still ran it,
    or the layers of images built on it): removed once every suite has stopped. Only this run's
    label is touched."""
    try:
        client = docker.from_env()
        client.images.prune(filters={"dangling": True, "label": f"crane.test={RUN_ID}"})
        client.close()
    except docker.errors.DockerException:
        pass  # no engine (a unit-only run): nothing was built


@pytest.fixture(scope="session")
def http_image(docker_client) -> Iterator[str]:
    tag = build_http_image(f"crane-test-http:{RUN_ID}", {"crane.test": RUN_ID})
    yield tag
    remove_image(tag)


def running_suite(local: LocalSuite) -> Iterator[LocalSuite]:
    """Start ``local``, hand it to the tests, stop it and remove what it created."""
    try:
        local.start()
    except Exception:
        print(local.logs())
        local.stop()
        raise
    yield local
    try:  # every key the suite's services really wrote is one the bucket table documents
        check_keys_fit_the_table(local.nats_url)
    finally:
        local.stop()
    print(f"suite {local.suite} logs in {local.workdir}")


@pytest.fixture(scope="session")
def suite(docker_client) -> Iterator[LocalSuite]:
    # Long resync: healing must come from Docker events, not from the periodic sweep.
    yield from running_suite(LocalSuite(resync_seconds=60))


def make_user(suite: LocalSuite, prefix: str = "user") -> ApiClient:
    return register_and_login(suite.api_url, prefix)


@pytest.fixture(scope="session")
def admin(suite) -> ApiClient:
    """The first user registered in the suite, hence its admin."""
    return make_user(suite, "admin")


@pytest.fixture
def user(suite, admin) -> Iterator[ApiClient]:
    client = make_user(suite)
    yield client
    client.close()


def app_body(image: str, name: str = "web", replicas: int = 1, **extra) -> dict:
    return {
        "name": name,
        "replicas": replicas,
        "services": [{"name": "http", "image": image, "ports": ["8080"]}],
        **extra,
    }
