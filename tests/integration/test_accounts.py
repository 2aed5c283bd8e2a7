"""Accounts on a running suite: login rate limiting, token revocation, user administration."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from tests.conftest import app_body, make_user
from tests.harness.procs import free_port, wait_for
from tests.integration.helpers import running, wait_app, wait_gone


def _from(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z is this machine)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def test_login_attempts_are_limited_per_email_and_address(suite, user):
    url = f"{suite.api_url}/api/v1/auth/login"
    wrong = {"email": user.email, "password": "not-the-password"}
    right = {"email": user.email, "password": "correct-horse-battery"}
    with _from("127.0.0.1") as stranger:
        assert [stranger.post(url, json=wrong).status_code for _ in range(5)] == [401] * 5
        blocked = stranger.post(url, json=wrong)
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
        # Even the right password waits out the window there: guessing must not be able to tell.
        assert stranger.post(url, json=right).status_code == 429
    # The stranger spent their own address's budget, not the user's: the user still logs in.
    with _from("127.0.0.2") as owner:
        assert owner.post(url, json=right).status_code == 200


def test_concurrent_wrong_passwords_are_checked_at_most_a_budget_s_worth(suite):
    victim = make_user(suite, "burst-victim")
    url = f"{suite.api_url}/api/v1/auth/login"
    wrong = {"email": victim.email, "password": "guess-guess-guess"}

    async def burst() -> list[int]:
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.3")
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(transport=transport, timeout=60, limits=limits) as client:
            answers = await asyncio.gather(*(client.post(url, json=wrong) for _ in range(100)))
        return [a.status_code for a in answers]

    codes = asyncio.run(burst())
    assert set(codes) == {401, 429} and codes.count(401) <= 5, sorted(codes)


def test_one_address_cannot_spray_many_accounts(suite):
    url = f"{suite.api_url}/api/v1/auth/login"
    with _from("127.0.0.4") as sprayer:
        codes = [
            sprayer.post(url, json={"email": f"nobody{i}@example.com", "password": "password-123"}).status_code
            for i in range(25)
        ]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}, codes
    # Other accounts are not affected.
    other = make_user(suite, "other")
    assert other.get("/users/me").status_code == 200


def test_logout_revokes_only_the_token_it_carries(suite, user):
    second = httpx.post(
        f"{suite.api_url}/api/v1/auth/login", json={"email": user.email, "password": "correct-horse-battery"}
    ).json()["access_token"]
    assert user.post("/auth/logout").status_code == 204
    assert user.get("/users/me").status_code == 401
    still = httpx.get(f"{suite.api_url}/api/v1/users/me", headers={"Authorization": f"Bearer {second}"})
    assert still.status_code == 200


def test_admins_manage_users_and_revoke_their_tokens(suite, admin, user):
    assert user.get("/users").status_code == 403
    assert user.email in [u["email"] for u in admin.get("/users").json()]
    assert all("password_hash" not in u for u in admin.get("/users").json())
    promoted = admin.patch(f"/users/{user.email}", json={"role": "admin"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    # A role change ends the tokens issued under the old role: the user logs in again.
    assert user.get("/users").status_code == 401
    as_admin = _login(suite, user.email)
    assert httpx.get(f"{suite.api_url}/api/v1/users", headers=as_admin).status_code == 200
    admin.patch(f"/users/{user.email}", json={"role": "user"})
    assert httpx.get(f"{suite.api_url}/api/v1/users", headers=as_admin).status_code == 401  # demoted: gone
    assert admin.patch(f"/users/{user.email}", json={"role": "root"}).status_code == 422
    unchanged = _login(suite, user.email)
    assert admin.patch(f"/users/{user.email}", json={"role": "user", "full_name": "Same"}).status_code == 200
    assert httpx.get(f"{suite.api_url}/api/v1/users/me", headers=unchanged).status_code == 200  # no role change

    assert admin.post(f"/users/{user.email}/revoke-tokens").status_code == 200
    assert user.get("/users/me").status_code == 401
    fresh = httpx.post(
        f"{suite.api_url}/api/v1/auth/login", json={"email": user.email, "password": "correct-horse-battery"}
    ).json()["access_token"]
    assert (
        httpx.get(f"{suite.api_url}/api/v1/users/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    )

    assert admin.delete(f"/users/{user.email}").status_code == 204
    assert (
        httpx.get(f"{suite.api_url}/api/v1/users/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401
    )
    assert admin.delete(f"/users/{user.email}").status_code == 404


def _login(suite, email: str, password: str = "correct-horse-battery") -> dict[str, str]:
    answer = httpx.post(f"{suite.api_url}/api/v1/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_the_configured_admin_email_can_never_be_registered(suite, admin, tmp_path):
    """With CRANE_ADMIN_EMAIL and its password file (what `make up` does), the API makes that
    account at its start. Deleted, the email cannot be registered by a stranger (who would be
    admin); without a password file, it is registered once in the suite's life at most."""
    boss = f"boss-{uuid.uuid4().hex[:8]}@example.com"
    password = tmp_path / "admin.password"
    password.write_text("boss-password-1234\n")
    port = free_port()
    env = {"CRANE_API_PORT": str(port), "CRANE_ADMIN_EMAIL": boss, "CRANE_ADMIN_PASSWORD_FILE": str(password)}
    replica = suite.start_service("api", env, key="api-admin")
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200, 30, "api with an admin")
        token = httpx.post(f"{base}/auth/login", json={"email": boss, "password": "boss-password-1234"}).json()
        me = httpx.get(f"{base}/users/me", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
        assert me["role"] == "admin"
        assert admin.delete(f"/users/{boss}").status_code == 204
        body = {"email": boss, "password": "stranger-password-1", "full_name": "Stranger"}
        refused = httpx.post(f"{base}/auth/register", json=body)
        assert refused.status_code == 403 and "admin account" in refused.text, refused.text
    finally:
        replica.stop()
        del suite.procs["api-admin"]
    # Without a password file: this suite's first admin was registered long ago, so the
    # configured email is not registered either (it would have been, once, on a new suite).
    del env["CRANE_ADMIN_PASSWORD_FILE"]
    replica = suite.start_service("api", env, key="api-admin")
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200, 30, "api with an admin")
        body = {"email": boss, "password": "stranger-password-1", "full_name": "Stranger"}
        assert httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/register", json=body).status_code == 403
    finally:
        replica.stop()
        del suite.procs["api-admin"]


def _events_about(api: httpx.Client, app_id: str) -> list[dict]:
    """The events of the last quarter hour about ``app_id`` that ``api``'s user may watch (the
    events of one app are asked of all, since a gone app is no longer named)."""
    from crane_cli.api import read_sse

    response = api.get("/events", params={"follow": "false", "since": 900}, timeout=30)
    assert response.status_code == 200, response.text
    events = [json.loads(m.data) for m in read_sse(iter(response.text.splitlines()))]
    return [e for e in events if app_id in (e.get("subject"), e["data"].get("app_id"))]


def test_a_deleted_users_apps_go_with_them_and_never_to_whoever_takes_the_email(suite, admin, http_image):
    leaver = make_user(suite, "leaver")
    app = leaver.post("/apps", json=app_body(http_image, "left-behind")).json()
    kept = leaver.post("/apps", json=app_body(http_image, "kept-by-admin")).json()
    wait_app(leaver, app["id"], running(1))
    # The default: the apps go too (this one is given to the admin first, so that it still
    # exists below: a 404 for it then means "not yours", never "gone").
    assert admin.delete(f"/users/{leaver.email}", params={"apps": "reassign", "to": admin.email}).status_code == 204
    assert admin.get(f"/apps/{kept['id']}").json()["owner_id"] == admin.get("/users/me").json()["id"]
    # Someone registers the same email at once: nothing of the old account is theirs.
    taker = httpx.Client(base_url=f"{suite.api_url}/api/v1", timeout=30)
    credentials = {"email": leaver.email, "password": "another-password-1"}
    assert taker.post("/auth/register", json={**credentials, "full_name": "Taker"}).status_code == 201
    taker.headers["Authorization"] = "Bearer " + taker.post("/auth/login", json=credentials).json()["access_token"]
    assert taker.get("/apps").json() == []
    for path in ("", "/compose", "/builds"):
        assert admin.get(f"/apps/{kept['id']}{path}").status_code == 200, path  # it is there...
        assert taker.get(f"/apps/{kept['id']}{path}").status_code == 404, path  # ...and not theirs
    assert taker.post(f"/apps/{kept['id']}/logs", json={}).status_code == 404
    # Nor is the old account's token theirs (it named the email once; it names the old id now).
    assert leaver.get("/users/me").status_code == 401
    assert taker.get("/users/me").json()["id"] != app["owner_id"]
    # Nor the apps' history: their creation named the old id, not the email.
    assert _events_about(admin, kept["id"]), "the admin sees the app's events"
    assert _events_about(taker, kept["id"]) == []
    # And without reassign the apps go with their user.
    again = make_user(suite, "leaver-two")
    gone = again.post("/apps", json=app_body(http_image, "goes-along")).json()
    assert admin.delete(f"/users/{again.email}").status_code == 204
    wait_gone(admin, gone["id"])
    for given in (app, kept):
        admin.delete(f"/apps/{given['id']}")
        wait_gone(admin, given["id"])


def test_an_admin_may_give_a_deleted_users_apps_to_another(suite, admin, user, http_image):
    leaver = make_user(suite, "handover")
    app = leaver.post("/apps", json=app_body(http_image, "handed-over")).json()
    wait_app(leaver, app["id"], running(1))
    assert admin.delete(f"/users/{leaver.email}", params={"apps": "reassign"}).status_code == 422  # to whom?
    assert admin.delete(f"/users/{leaver.email}", params={"apps": "reassign", "to": user.email}).status_code == 204
    mine = user.get(f"/apps/{app['id']}").json()
    assert mine["owner"] == user.email and mine["status"] == "running", mine
    assert mine["owner_id"] == user.get("/users/me").json()["id"] != app["owner_id"]
    user.delete(f"/apps/{app['id']}")
    wait_gone(user, app["id"])


def test_right_passwords_never_use_an_address_up(suite):
    """Many people behind one address (an office, the tests themselves) log in all day: only
    wrong passwords count."""
    accounts = [make_user(suite, f"crowd{i}") for i in range(3)]
    url = f"{suite.api_url}/api/v1/auth/login"
    with _from("127.0.0.5") as office:
        codes = [
            office.post(url, json={"email": account.email, "password": "correct-horse-battery"}).status_code
            for _ in range(10)
            for account in accounts
        ]
    assert codes == [200] * 30, codes


def test_a_role_change_closes_the_streams_opened_under_the_old_role(suite, admin):
    """A user's event stream, open when an admin changes their role, ends by itself within the
    streams' recheck (10 s) and a keepalive (15 s): the old role's view is not kept."""
    import threading
    import time

    promoted = make_user(suite, "promoted")
    ended = threading.Event()

    def watch() -> None:
        with (
            httpx.Client(headers=dict(promoted.headers), timeout=60) as http,
            http.stream("GET", f"{suite.api_url}/api/v1/events", params={"follow": "true"}) as response,
        ):
            assert response.status_code == 200
            for _ in response.iter_bytes():
                pass
        ended.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    time.sleep(1)
    changed = time.monotonic()
    assert admin.patch(f"/users/{promoted.email}", json={"role": "admin"}).status_code == 200
    assert ended.wait(40), "the stream outlived the role it was opened under"
    print(f"stream closed {time.monotonic() - changed:.1f} s after the role change")
    admin.delete(f"/users/{promoted.email}")
    promoted.close()
