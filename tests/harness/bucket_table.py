"""The bucket table (crane_shared.buckets) read as a check: does a key fit a format it lists,
and which keys that a running suite really wrote fit none."""

from __future__ import annotations

import asyncio
import base64

import nats

from crane_shared.buckets import KV_BUCKETS, OBJECT_STORES


def listed(store: str) -> list[str]:
    access = KV_BUCKETS.get(store) or OBJECT_STORES[store]
    return [key for key, _ in access.keys]


def fits(key: str, formats: list[str]) -> bool:
    """Whether ``key`` is one of ``formats`` (a <placeholder> stands for any text)."""
    for form in formats:
        fixed = form.split("<")[0]
        if (form == key) or ("<" in form and key.startswith(fixed) and len(key) > len(fixed)):
            return True
    return False


def _object_name(encoded: str) -> str:
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


async def _written(js, stream: str, prefix: str) -> list[str]:
    try:
        info = await js.stream_info(stream, subjects_filter=f"{prefix}>")
    except nats.js.errors.NotFoundError:
        return []  # the store was never made in this suite
    return [subject.removeprefix(prefix) for subject in info.state.subjects or {}]


async def keys_outside_the_table(nats_url: str) -> list[tuple[str, str]]:
    """(store, key) for every key in the suite's buckets and every object name in its stores
    that no format of the table describes: a key the code writes and the docs do not know."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        strays = []
        for bucket in KV_BUCKETS:
            for key in await _written(js, f"KV_{bucket}", f"$KV.{bucket}."):
                if not fits(key, listed(bucket)):
                    strays.append((bucket, key))
        for store in OBJECT_STORES:
            for encoded in await _written(js, f"OBJ_{store}", f"$O.{store}.M."):
                name = _object_name(encoded)
                if not fits(name, listed(store)):
                    strays.append((store, name))
        return strays
    finally:
        await nc.close()


def check_keys_fit_the_table(nats_url: str) -> None:
    strays = asyncio.run(keys_outside_the_table(nats_url))
    assert not strays, f"keys written that the bucket table (crane_shared/buckets.py) does not list: {strays}"
