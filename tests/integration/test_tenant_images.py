"""What a tenant's images may bring: an image's own labels never reach Traefik or CRANE's label
space (Docker copies them onto every replica), whether the image was built from an upload or
named by the compose file."""

from __future__ import annotations

from tests.conftest import app_body, make_user
from tests.integration.helpers import app_containers, running, wait_app, wait_gone
from tests.integration.test_builds import context_tar, upload

HIJACK = """FROM {image}
LABEL traefik.http.routers.evil.rule="Host(`{host}`)" \\
      traefik.http.routers.evil.priority="100000" \\
      traefik.http.routers.evil.entrypoints="web" \\
      traefik.http.routers.evil.service="evil" \\
      traefik.http.services.evil.loadbalancer.server.port="8080"
"""


def test_a_router_in_a_tenants_image_cannot_take_another_tenants_host(suite, user, docker_client, http_image):
    victim = user.post("/apps?wait=true", json=app_body(http_image, "victim")).json()
    attacker = make_user(suite, "attacker")
    host = f"{victim['id']}.localhost"
    compose = "name: evil\nservices:\n  web:\n    build: ./web\n    ports: ['8080']\n"
    context = context_tar({"Dockerfile": HIJACK.format(image=http_image, host=host)}, compress=True)
    try:
        assert victim["status"] == "running", victim
        (victim_replica,) = app_containers(docker_client, suite.suite, victim["id"], all_states=False)
        created = upload(attacker, "POST", "/apps", compose, {"web": context})
        assert created.status_code == 202, created.text
        evil_id = created.json()["id"]
        failed = wait_app(attacker, evil_id, lambda a: a["status"] == "failed", timeout=120)
        assert "services.web: the image crane-build/" in failed["reason"], failed
        assert "traefik.http.routers.evil.rule" in failed["reason"], failed
        assert app_containers(docker_client, suite.suite, evil_id) == []  # no replica was made
        # The victim's host is answered by the victim's replica alone (with no container of
        # the evil app, Traefik's Docker provider has nothing to make a route of).
        answers = {suite.get_through_router(host).text.strip() for _ in range(10)}
        assert answers == {victim_replica.id[:12]}, answers
        assert wait_app(user, victim["id"], running(1))
    finally:
        user.delete(f"/apps/{victim['id']}")
        for app in attacker.get("/apps").json():
            attacker.delete(f"/apps/{app['id']}")
            wait_gone(attacker, app["id"])
        wait_gone(user, victim["id"])
        attacker.close()


def test_an_image_named_by_the_file_is_held_to_the_same_rule(suite, user, docker_client, http_image):
    """The same labels on an image the compose file names (here one already on the engine, as a
    pulled image would be): refused before any replica exists."""
    tag = f"{http_image}-labelled"
    docker_client.images.build(
        fileobj=__import__("io").BytesIO(f"FROM {http_image}\nLABEL crane.files-holder=x\n".encode()),
        tag=tag,
        labels={"crane.test": http_image.split(":")[-1]},
        rm=True,
    )
    try:
        created = user.post("/apps", json=app_body(tag, "labelled"))
        assert created.status_code == 202, created.text
        app_id = created.json()["id"]
        failed = wait_app(user, app_id, lambda a: a["status"] == "failed", timeout=60)
        assert "crane.files-holder" in failed["reason"] and f"the image {tag}" in failed["reason"], failed
        assert app_containers(docker_client, suite.suite, app_id) == []
        user.delete(f"/apps/{app_id}")
        wait_gone(user, app_id)
    finally:
        docker_client.images.remove(tag, force=True)


def test_another_tenants_build_is_named_by_no_one_else(suite, user, docker_client, http_image):
    """The victim's built image, named by the attacker by id prefix, by its crane-build name
    (as an image, in FROM, in COPY --from): each refused, naming the field or the line."""
    built = upload(
        user,
        "POST",
        "/apps?wait=true&timeout=120",
        "name: mine\nservices:\n  web:\n    build: ./web\n    ports: ['8080']\n",
        {"web": context_tar({"Dockerfile": f"FROM {http_image}\nENV SECRET=victims\n"}, compress=True)},
    )
    assert built.status_code == 200, built.text
    victim_id = built.json()["id"]
    attacker = make_user(suite, "attacker")
    try:
        (replica,) = app_containers(docker_client, suite.suite, victim_id, all_states=False)
        tag, image_id = replica.image.tags[0], replica.image.id.removeprefix("sha256:")
        for name in (image_id[:12], f"sha256:{image_id}", tag, f"docker.io/{tag}", "crane/suite:dev"):
            refused = attacker.post("/apps", json=app_body(name, "thief"))
            assert refused.status_code == 422, (name, refused.text)
            assert refused.json()["detail"][0]["loc"] == ["body", "services", 0, "image"], refused.text
        compose = f"name: thief\nservices:\n  web: {{image: '{image_id[:12]}', ports: ['8080']}}\n"
        refused = attacker.post("/apps", content=compose, headers={"content-type": "application/yaml"})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "services", "web", "image"]
        for dockerfile in (
            f"FROM {tag}\n",
            f"ARG B={image_id[:12]}\nFROM $B\n",
            f"FROM {http_image}\nCOPY --from={tag} / /x\n",
        ):
            compose = "name: thief\nservices:\n  web:\n    build: ./web\n    ports: ['8080']\n"
            created = upload(
                attacker, "POST", "/apps", compose, {"web": context_tar({"Dockerfile": dockerfile}, compress=True)}
            )
            assert created.status_code == 202, created.text
            thief = created.json()["id"]
            failed = wait_app(attacker, thief, lambda a: a["status"] == "failed", timeout=120)
            assert "build of web failed: Dockerfile line" in failed["reason"], (dockerfile, failed)
            assert app_containers(docker_client, suite.suite, thief) == []
            attacker.delete(f"/apps/{thief}")
            wait_gone(attacker, thief)
    finally:
        user.delete(f"/apps/{victim_id}")
        wait_gone(user, victim_id)
        attacker.close()
