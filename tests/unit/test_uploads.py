"""NATS clients' uploads: names that say whose they are, and the fields of a spec that name them."""

import re

import pytest
from pydantic import ValidationError

from crane_shared.appspec import AppSpec
from crane_shared.uploads import UPLOAD_PATTERN, belongs_to, unclaimed_uploads, upload_name, upload_references


def test_an_upload_name_carries_its_owner_and_is_never_reused():
    name = upload_name("ada@example.com")
    assert re.match(UPLOAD_PATTERN, name)
    assert belongs_to(name, "ada@example.com") and not belongs_to(name, "eve@example.com")
    assert upload_name("ada@example.com") != name


def test_a_spec_names_uploads_where_it_would_name_digests_and_ids():
    context, secret, seed = (upload_name("ada@example.com") for _ in range(3))
    spec = AppSpec.model_validate(
        {
            "name": "shop",
            "services": [{"name": "web", "build": {"context": context}, "secrets": ["pw"], "volumes": ["src:/src"]}],
            "secrets": {"pw": secret},
            "seeds": {"src": seed},
        }
    )
    raw = spec.model_dump(mode="json")
    assert dict(upload_references(raw)) == {
        ("services", 0, "build", "context"): context,
        ("secrets", "pw"): secret,
        ("seeds", "src"): seed,
    }
    assert {loc for loc, _ in unclaimed_uploads(raw)} == {
        ("services", 0, "build", "context"),
        ("secrets", "pw"),
        ("seeds", "src"),
    }


def test_anything_else_in_those_fields_is_refused():
    with pytest.raises(ValidationError):
        AppSpec.model_validate({"name": "a", "services": [{"name": "w", "build": {"context": "u-../../etc"}}]})
    with pytest.raises(ValidationError):
        AppSpec.model_validate(
            {"name": "a", "services": [{"name": "w", "image": "x"}], "secrets": {"pw": "/etc/shadow"}}
        )


def test_an_upload_past_its_cap_is_refused_from_its_size_and_never_read():
    """A NATS client's upload of gigabytes: the deployer asks its size first and refuses it
    naming the field (a dead letter, not a redelivery), without loading a byte."""
    import asyncio
    from types import SimpleNamespace

    import pytest

    from crane_deployer.client_uploads import claim_uploads
    from crane_shared.appspec import AppSpec
    from crane_shared.build_context import ContextLimits
    from crane_shared.events import InvalidEvent
    from crane_shared.uploads import upload_name

    name = upload_name("u-1")

    class Uploads:
        async def get_info(self, _name):
            return SimpleNamespace(size=4 * 1024**3)

        async def get(self, *_args, **_kwargs):
            raise AssertionError("the upload was read")

    async def objects(_bucket):
        return Uploads()

    spec = AppSpec.model_validate({"name": "big", "services": [{"name": "web", "build": {"context": name}}]})
    with pytest.raises(InvalidEvent, match=r"data\.spec\.services\.0\.build\.context: the upload is 4294967296 bytes"):
        asyncio.run(claim_uploads(spec, "u-1", objects, ContextLimits(), "evt-1"))
