"""What an app names in the stores, for the storage keeper (pure)."""

from crane_shared.appspec import AppRecord, AppSpec
from crane_shared.storage import in_use, named_objects

DIGEST, SEED = "ab" * 32, "cd" * 32


def test_an_app_names_its_contexts_folders_secrets_and_configs():
    spec = AppSpec.model_validate(
        {
            "name": "shop",
            "services": [
                {"name": "web", "build": {"context": DIGEST}, "volumes": ["site:/site"]},
                {"name": "db", "image": "x"},
            ],
            "seeds": {"site": SEED},
            "secrets": {"pw": "f-" + "1" * 32},
            "configs": {"conf": "f-" + "2" * 32},
        }
    )
    record = AppRecord(id="shop-1", owner="u-1", spec=spec)
    assert named_objects(record) == {
        ("context", DIGEST),
        ("context", SEED),
        ("file", "f-" + "1" * 32),
        ("file", "f-" + "2" * 32),
    }
    other = AppRecord(id="shop-2", owner="u-2", spec=spec)
    assert ("u-2", "context", DIGEST) in in_use([record, other]) and len(in_use([record, other])) == 8
