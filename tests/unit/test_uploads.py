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
