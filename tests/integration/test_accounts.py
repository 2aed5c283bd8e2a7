"""Accounts on a running suite: login rate limiting, token revocation, user administration."""

from __future__ import annotations

import httpx

from tests.conftest import make_user


def test_login_attempts_are_limited_per_email(suite, user):
    url = f"{suite.api_url}/api/v1/auth/login"
    wrong = {"email": user.email, "password": "not-the-password"}
    assert [httpx.post(url, json=wrong).status_code for _ in range(5)] == [401] * 5
    blocked = httpx.post(url, json=wrong)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    # Even the right password waits out the window: guessing must not be able to tell.
    right = httpx.post(url, json={"email": user.email, "password": "correct-horse-battery"})
    assert right.status_code == 429
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
    assert user.get("/users").status_code == 200
    admin.patch(f"/users/{user.email}", json={"role": "user"})
    assert admin.patch(f"/users/{user.email}", json={"role": "root"}).status_code == 422

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
