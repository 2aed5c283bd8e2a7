"""NATS clients send build contexts and secrets with their intents through the uploads object
store (crane_shared/uploads.py): the deployer builds and mounts them like a multipart upload's,
an upload is its uploader's alone, the client user may write the store but never read it, and
unsafe contexts are refused naming the field."""

from __future__ import annotations

import asyncio
import json
import time

import nats
import pytest
from nats.js.errors import NotFoundError

from crane_shared import subjects as s
from crane_shared.uploads import UPLOAD_TTL_SECONDS, UPLOADS_MAX_BYTES, put_upload, upload_name
from tests.conftest import make_user
from tests.integration.helpers import app_containers, running, wait_app
from tests.integration.test_builds import context_tar
from tests.integration.test_nats_auth import _publish_as_client, _rejections, _violation

SECRET = "uploaded-through-nats-5d1e"


def _id(api) -> str:
    return str(api.get("/users/me").json()["id"])


def _upload(suite, owner: str, data: bytes) -> str:
    async def put() -> str:
        nc = await nats.connect(suite.client_nats_url)
        try:
            return await put_upload(nc.jetstream(), s.UPLOADS_OBJECTS, owner, data)
        finally:
            await nc.close()

    return asyncio.run(put())


def _upload_exists(suite, name: str) -> bool:
    async def look() -> bool:
        nc = await nats.connect(suite.nats_url)
        try:
            await (await nc.jetstream().object_store(s.UPLOADS_OBJECTS)).get_info(name)
            return True
        except NotFoundError:
            return False
        finally:
            await nc.close()

    return asyncio.run(look())


def _app_named(user, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [a for a in user.get("/apps").json() if a["spec"]["name"] == name]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no app {name!r} appeared")


def test_a_nats_client_deploys_a_built_stack_with_a_secret(suite, user, docker_client, http_image):
    token = user.headers["Authorization"].removeprefix("Bearer ")
    context = _upload(suite, _id(user), context_tar({"Dockerfile": f"FROM {http_image}\nENV BUILT=yes\n"}))
    secret = _upload(suite, _id(user), SECRET.encode())
    spec = {
        "name": "bused",
        "services": [
            {"name": "web", "build": {"context": context}, "ports": ["8080"]},
            {"name": "db", "image": http_image, "expose": ["8080"], "secrets": ["pw"]},
        ],
        "secrets": {"pw": secret},
    }
    _publish_as_client(suite, "client.app.created", {"spec": spec}, token)
    app = _app_named(user, "bused")
    wait_app(user, app["id"], running(2), timeout=180)
    stored = user.get(f"/apps/{app['id']}").json()["spec"]
    assert len(stored["services"][0]["build"]["context"]) == 64  # a digest in the contexts store
    assert stored["secrets"]["pw"].startswith("f-")  # an id in the files store
    assert SECRET not in json.dumps(stored)
    replicas = {c.labels["crane.service"]: c for c in app_containers(docker_client, suite.suite, app["id"])}
    code, output = replicas["db"].exec_run(["/bin/busybox", "cat", "/run/secrets/pw"])
    assert code == 0 and output.decode() == SECRET, output
    code, output = replicas["web"].exec_run(["/bin/busybox", "sh", "-c", "echo $BUILT"])
    assert output.decode().strip() == "yes", output  # built from the uploaded context
    builds = user.get(f"/apps/{app['id']}/builds").json()
    assert builds and builds[0]["status"] == "succeeded", builds
    assert not _upload_exists(suite, context) and not _upload_exists(suite, secret)  # claimed, then deleted


def test_an_upload_is_its_uploaders_alone_and_unsafe_contexts_are_refused(suite, user, http_image):
    intruder = make_user(suite, "uploader-intruder")
    intruder_token = intruder.headers["Authorization"].removeprefix("Bearer ")
    victims = _upload(suite, _id(user), b"the victim's secret")
    started = time.time() - 1
    spec = {
        "name": "stolen",
        "services": [{"name": "w", "image": http_image, "secrets": ["x"]}],
        "secrets": {"x": victims},
    }
    _publish_as_client(suite, "client.app.created", {"spec": spec}, intruder_token)
    assert _rejections(suite, started, f"data.spec.secrets.x: the upload '{victims}' is not yours")
    assert _upload_exists(suite, victims)  # left for its owner

    token = user.headers["Authorization"].removeprefix("Bearer ")
    escaping = _upload(suite, _id(user), context_tar({"Dockerfile": "FROM x\n", "../outside": "x"}))
    spec = {"name": "escaping", "services": [{"name": "w", "build": {"context": escaping}}]}
    _publish_as_client(suite, "client.app.created", {"spec": spec}, token)
    assert _rejections(suite, started, "data.spec.services.0.build.context: ")
    missing = upload_name(_id(user))  # the user's, never uploaded (or expired)
    spec = {"name": "missing", "services": [{"name": "w", "build": {"context": missing}}]}
    _publish_as_client(suite, "client.app.created", {"spec": spec}, token)
    assert _rejections(suite, started, f"data.spec.services.0.build.context: there is no upload '{missing}'")

    # Through the REST API an upload's name is refused: the API has nothing to claim.
    body = {"name": "rest", "services": [{"name": "w", "build": {"context": victims}}]}
    refused = user.post("/apps", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "services", 0, "build", "context"]


@pytest.mark.parametrize(
    "action",
    [
        lambda nc: nc.request(f"$JS.API.STREAM.MSG.GET.OBJ_{s.UPLOADS_OBJECTS}", b'{"seq": 1}', timeout=1),
        lambda nc: nc.subscribe(f"$O.{s.UPLOADS_OBJECTS}.>"),
        lambda nc: nc.request(f"$JS.API.STREAM.PURGE.OBJ_{s.UPLOADS_OBJECTS}", b"{}", timeout=1),
        lambda nc: nc.request(f"$JS.API.CONSUMER.CREATE.OBJ_{s.UPLOADS_OBJECTS}", b"{}", timeout=1),
        lambda nc: nc.publish(f"$O.{s.CONTEXTS_OBJECTS}.M.x", b"{}"),
    ],
    ids=["read-a-message", "subscribe", "purge", "consume", "write-the-contexts-store"],
)
def test_the_client_user_may_write_uploads_but_never_read_them(suite, action):
    assert "ermission" in (asyncio.run(_violation(suite.client_nats_url, action)) or "")


def test_the_running_suites_uploads_store_has_the_shipped_expiry_and_bound(suite):
    """(That an upload really expires, and a full store refuses more, is shown on a store made
    with a second's expiry: test_bus.py.)"""

    async def config() -> object:
        nc = await nats.connect(suite.nats_url)
        try:
            return (await nc.jetstream().stream_info(f"OBJ_{s.UPLOADS_OBJECTS}")).config
        finally:
            await nc.close()

    stream = asyncio.run(config())
    assert stream.max_age == UPLOAD_TTL_SECONDS and stream.max_bytes == UPLOADS_MAX_BYTES
