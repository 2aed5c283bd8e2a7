"""The REST gateway against a real NATS: accounts, tokens, ownership, validation, Compose input."""

from __future__ import annotations

import httpx

from tests.conftest import app_body, make_user
from tests.integration.helpers import running, wait_app, wait_gone

COMPOSE = """
name: yamlapp
x-crane: {replicas: 2, max_scale: 4}
services:
  http:
    image: IMAGE
    expose: [8080]
"""


def test_health_is_open_and_everything_else_needs_a_token(suite):
    assert httpx.get(f"{suite.api_url}/health").json()["status"] == "ok"
    assert httpx.get(f"{suite.api_url}/api/v1/health").status_code == 200
    anonymous = httpx.Client(base_url=f"{suite.api_url}/api/v1")
    for method, path in [("GET", "/apps"), ("POST", "/apps"), ("GET", "/apps/x-1"), ("GET", "/users/me")]:
        assert anonymous.request(method, path).status_code == 401, path
    bad = anonymous.get("/apps", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401


def test_register_login_and_roles(suite, admin, user):
    assert admin.get("/users/me").json()["role"] == "admin"  # the first user registered
    assert user.get("/users/me").json()["role"] == "user"
    again = user.post("/auth/register", json={"email": user.email, "password": "another-pass", "full_name": "x"})
    assert again.status_code == 409
    wrong = httpx.post(f"{suite.api_url}/api/v1/auth/login", json={"email": user.email, "password": "wrong-password"})
    assert wrong.status_code == 401


def test_bad_input_answers_422_naming_the_field(user):
    cases = [
        ("/auth/register", {"email": "not-an-email", "password": "longenough", "full_name": "x"}, "email"),
        ("/auth/register", {"email": "a@b.io", "password": "short", "full_name": "x"}, "password"),
        ("/apps", {"name": "ok", "services": [{"name": "w"}]}, "image"),
        ("/apps", {"name": "Bad Name", "services": [{"name": "w", "image": "i"}]}, "name"),
        ("/apps", {"name": "ok", "replicas": 99, "services": [{"name": "w", "image": "i"}]}, "replicas"),
        ("/apps", {"name": "ok", "services": [{"name": "w", "image": "i", "pid": "container"}]}, "pid"),
    ]
    for path, body, field in cases:
        response = user.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        locs = [".".join(map(str, d["loc"])) for d in response.json()["detail"]]
        assert any(field in loc for loc in locs), (field, locs)
    not_json = user.post("/apps", content=b"{oops", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422


def test_users_see_only_their_apps_admin_sees_all(suite, admin, user, http_image):
    other = make_user(suite, "other")
    app_id = user.post("/apps", json=app_body(http_image, "private")).json()["id"]
    assert other.get(f"/apps/{app_id}").status_code == 404
    assert other.post(f"/apps/{app_id}/scale", json={"replicas": 2}).status_code == 404
    assert other.delete(f"/apps/{app_id}").status_code == 404
    assert app_id not in {a["id"] for a in other.get("/apps").json()}
    assert app_id in {a["id"] for a in admin.get("/apps").json()}
    assert admin.get(f"/apps/{app_id}").json()["owner"] == user.email
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_scale_outside_bounds_is_refused_and_patch_validates(user, http_image):
    app_id = user.post("/apps", json=app_body(http_image, "bounded", max_scale=3)).json()["id"]
    refused = user.post(f"/apps/{app_id}/scale", json={"replicas": 4})
    assert refused.status_code == 422 and "replicas" in str(refused.json()["detail"][0]["loc"])
    bad_patch = user.patch(f"/apps/{app_id}", json={"min_scale": 5})
    assert bad_patch.status_code == 422 and "max_scale" in str(bad_patch.json()["detail"])
    # A body that is not even UTF-8 (the fuzzer's): a 422, never a 500 trying to echo it back.
    garbled = user.patch(f"/apps/{app_id}", content=b"\xff\xfe\x9c\x1a,", headers={"Content-Type": "application/json"})
    assert garbled.status_code == 422 and garbled.json()["detail"][0]["type"] == "json_invalid", garbled.text
    patched = user.patch(f"/apps/{app_id}", json={"max_scale": 6, "replicas": 2})
    assert patched.status_code == 202 and patched.json()["desired_replicas"] == 2
    wait_app(user, app_id, running(2))
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_compose_yaml_creates_an_app(suite, user, http_image):
    body = COMPOSE.replace("IMAGE", http_image)
    created = user.post("/apps?wait=true", content=body, headers={"Content-Type": "application/yaml"})
    assert created.status_code == 200, created.text
    app = created.json()
    assert app["name"] == "yamlapp" and app["status"] == "running" and app["running_replicas"] == 2
    assert len(suite.wait_distinct_backends(f"{app['id']}.localhost", 2)) == 2
    refused = user.post(
        "/apps",
        content="name: y\nservices:\n  w: {image: i, devices: [/dev/mem]}\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "services", "w", "devices"]
    user.delete(f"/apps/{app['id']}")
    wait_gone(user, app["id"])


def test_openapi_docs_are_served(suite):
    assert httpx.get(f"{suite.api_url}/docs").status_code == 200
    spec = httpx.get(f"{suite.api_url}/openapi.json").json()
    body = spec["paths"]["/api/v1/apps"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/yaml", "multipart/form-data"}
    assert body["multipart/form-data"]["schema"]["required"] == ["compose"]
    patch = spec["paths"]["/api/v1/apps/{app_id}"]["patch"]["requestBody"]["content"]
    assert set(patch) == set(body) and "replicas" in patch["application/json"]["schema"]["properties"]
    ref = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert ref in spec["components"]["schemas"]
