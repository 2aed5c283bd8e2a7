"""A REST client logged in as a fresh user of a running suite."""

from __future__ import annotations

import uuid

import httpx


class ApiClient(httpx.Client):
    email: str


def register_and_login(api_url: str, prefix: str = "user") -> ApiClient:
    """Register a new user (unique email) and return a client carrying its bearer token."""
    client = ApiClient(base_url=f"{api_url}/api/v1", timeout=60)
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": "correct-horse-battery"}
    registered = client.post("/auth/register", json={**credentials, "full_name": prefix})
    assert registered.status_code == 201, registered.text
    token = client.post("/auth/login", json=credentials).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    client.email = email
    return client
