"""Stored uploads are owned and bounded, on a running suite: a context is built or mounted
only for an owner who uploaded it (its digest, which anyone with the same files can compute,
gives another tenant nothing); each owner's uploads count against their storage quota (413
past it, shown in GET /users/me); an upload no app names any more is released and deleted."""

from __future__ import annotations

import asyncio
import time

import nats
import pytest

from crane_shared import subjects as s
from tests.conftest import make_user, running_suite
from tests.harness.suite import LocalSuite
from tests.integration.helpers import app_containers, remove_every_app, wait_app, wait_gone
from tests.integration.test_builds import context_tar, upload


@pytest.fixture(scope="module")
def kept(docker_client):
    deployer = {"CRANE_STORAGE_RELEASE_GRACE_SECONDS": "1", "CRANE_SCAN_IMAGES": "false", "CRANE_UPLOAD_SHARE_MB": "1"}
    yield from running_suite(LocalSuite(with_monitoring=False, service_env={"deployer": deployer}))


def _compose(name: str) -> str:
    return f"name: {name}\nservices:\n  web:\n    build: ./web\n    ports: ['8080']\n"


async def _stored(suite, digest: str) -> bool:
    nc = await nats.connect(suite.nats_url)
    try:
        store = await nc.jetstream().object_store(s.CONTEXTS_OBJECTS)
        try:
            await store.get_info(digest)
        except nats.js.errors.NotFoundError:
            return False
        return True
    finally:
        await nc.close()


def test_a_context_serves_only_the_owner_who_uploaded_it(kept, admin_of_kept, docker_client, http_image):
    victim, thief = make_user(kept, "victim"), make_user(kept, "thief")
    try:
        context = context_tar({"Dockerfile": f"FROM {http_image}\nENV SECRET=the-victims\n"}, compress=True)
        built = upload(victim, "POST", "/apps?wait=true&timeout=120", _compose("mine"), {"web": context})
        assert built.status_code == 200 and built.json()["status"] == "running", built.text
        digest = built.json()["spec"]["services"][0]["build"]["context"]
        # The thief names the digest alone (JSON), as if it were theirs.
        body = {"name": "stolen", "services": [{"name": "web", "build": {"context": digest}, "ports": ["8080"]}]}
        created = thief.post("/apps", json=body)
        assert created.status_code == 202, created.text
        stolen = wait_app(thief, created.json()["id"], lambda a: a["status"] == "failed", timeout=60)
        assert "was not uploaded by the app's owner" in stolen["reason"], stolen
        assert app_containers(docker_client, kept.suite, stolen["id"]) == []
        # The same files uploaded by the thief themselves are theirs to build (and counted for them).
        own = upload(thief, "POST", "/apps?wait=true&timeout=120", _compose("own"), {"web": context})
        assert own.status_code == 200 and own.json()["status"] == "running", own.text
        me = thief.get("/users/me").json()["storage"]
        assert me["uploads_bytes"] > 0 and me["build_cache_bytes"] > 0 and me["quota_bytes"] == 2048 * 1024 * 1024
    finally:
        remove_every_app(victim, thief)
        for client in (victim, thief):
            client.close()


def test_uploads_count_against_the_owners_quota_and_go_when_no_app_names_them(kept, admin_of_kept):
    tenant = make_user(kept, "quota")
    try:
        quota = {"replicas": 20, "cpus": 8, "memory_mb": 8192, "storage_mb": 1}
        assert admin_of_kept.patch(f"/users/{tenant.email}", json={"quota": quota}).status_code == 200
        big = context_tar({"Dockerfile": "FROM scratch\n", "blob": bytes(700_000)})
        first = upload(tenant, "POST", "/apps", _compose("first"), {"web": big})
        assert first.status_code == 202, first.text
        other = context_tar({"Dockerfile": "FROM scratch\n", "blob": b"1" * 700_000})
        refused = upload(tenant, "POST", "/apps", _compose("second"), {"web": other})
        assert refused.status_code == 413 and "storage quota" in refused.text, refused.text
        assert [a["name"] for a in tenant.get("/apps").json()] == ["first"]  # nothing of it was kept
        storage = tenant.get("/users/me").json()["storage"]
        assert 700_000 < storage["uploads_bytes"] < 800_000 and storage["quota_bytes"] == 1024 * 1024
        digest = first.json()["spec"]["services"][0]["build"]["context"]
        assert asyncio.run(_stored(kept, digest))
        tenant.delete(f"/apps/{first.json()['id']}")
        wait_gone(tenant, first.json()["id"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and asyncio.run(_stored(kept, digest)):
            time.sleep(0.5)
        assert not asyncio.run(_stored(kept, digest)), "the context outlived every app that named it"
        assert tenant.get("/users/me").json()["storage"]["uploads_bytes"] == 0
        # With room again, the second upload is taken.
        assert upload(tenant, "POST", "/apps", _compose("second"), {"web": other}).status_code == 202
    finally:
        for app in tenant.get("/apps").json():
            tenant.delete(f"/apps/{app['id']}")
            wait_gone(tenant, app["id"])
        tenant.close()


@pytest.fixture(scope="module")
def admin_of_kept(kept):
    """The first user of the module's suite (registered before the others: its admin)."""
    client = make_user(kept, "admin")
    assert client.get("/users/me").json()["role"] == "admin"
    yield client
    client.close()


def test_one_owners_nats_uploads_stop_at_their_share_of_the_shared_store(kept, admin_of_kept):
    """Three uploads of 400 kB from one owner (share: 1 MB): the third is deleted as soon as it
    is put; another owner's upload is kept."""
    from crane_shared.uploads import put_upload

    async def put_and_look(owners: list[str]) -> list[bool]:
        client = await nats.connect(kept.client_nats_url)
        names = [await put_upload(client.jetstream(), s.UPLOADS_OBJECTS, owner, bytes(400_000)) for owner in owners]
        await client.close()
        nc = await nats.connect(kept.nats_url)
        store = await nc.jetstream().object_store(s.UPLOADS_OBJECTS)
        deadline = time.monotonic() + 10
        while True:
            present = []
            for name in names:
                try:
                    await store.get_info(name)
                    present.append(True)
                except nats.js.errors.NotFoundError:
                    present.append(False)
            if present.count(False) >= 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        for name, there in zip(names, present, strict=True):
            if there:
                await store.delete(name)
        await nc.close()
        return present

    assert asyncio.run(put_and_look(["u-hog", "u-hog", "u-hog", "u-calm"])) == [True, True, False, True]
