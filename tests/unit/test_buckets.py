"""The bucket table (buckets.py) says what each key holds; the code's own key formats must be
the ones it lists, so docs/events.md (rendered from it) cannot drift from the code."""

from crane_api.login_limit import LoginLimiter
from crane_shared import subjects as s
from crane_shared.buckets import KV_BUCKETS, OBJECT_STORES
from crane_shared.builds import builds_key
from crane_shared.files import new_file_id
from crane_shared.scan import app_key, digest_key
from crane_shared.secrets import SIGNING_KEY, WEBHOOK_TOKEN
from crane_shared.storage import object_key, usage_key
from crane_shared.store import ADMISSION_PREFIX, APP_PREFIX, COMPOSE_PREFIX, CREATED_BY_PREFIX, SEQUENCE_KEY
from crane_shared.uploads import upload_name
from crane_shared.users import FIRST_ADMIN_KEY, account_key, email_key, legacy_key, new_user_id
from tests.harness.bucket_table import fits, listed


def test_every_key_the_code_writes_is_in_the_table():
    written = {
        s.APPS_BUCKET: [
            APP_PREFIX + "shop-1",
            SEQUENCE_KEY,
            CREATED_BY_PREFIX + "e1",
            ADMISSION_PREFIX + "ab",
            COMPOSE_PREFIX + "shop-1",
        ],
        s.USERS_BUCKET: [account_key(new_user_id()), email_key("ada@example.com"), legacy_key("ada@example.com")],
        s.CONFIG_BUCKET: [
            FIRST_ADMIN_KEY,
            "revoked.x",
            *(key for key, _ in LoginLimiter(None, 5, 60)._budgets("a@b.c", "127.0.0.1")),
        ],
        s.KEYS_BUCKET: [SIGNING_KEY],
        s.WEBHOOK_BUCKET: [WEBHOOK_TOKEN],
        s.SCANS_BUCKET: [digest_key("sha256:abc"), app_key("shop-1")],
        s.BUILDS_BUCKET: [builds_key("shop-1")],
        s.STORAGE_BUCKET: [object_key("context", "ab" * 32), object_key("file", new_file_id()), usage_key("u-1")],
        s.FILES_OBJECTS: [new_file_id()],
        s.UPLOADS_OBJECTS: [upload_name("ada@example.com")],
    }
    for store, keys in written.items():
        for key in keys:
            assert fits(key, listed(store)), (store, key, listed(store))


def test_every_store_is_in_the_table_with_a_creator():
    assert set(KV_BUCKETS) == set(s.ALL_BUCKETS)
    assert set(OBJECT_STORES) == {s.CONTEXTS_OBJECTS, s.FILES_OBJECTS, s.UPLOADS_OBJECTS}
    for access in (*KV_BUCKETS.values(), *OBJECT_STORES.values()):
        assert access.creator and access.keys


def test_every_bucket_value_model_is_named_in_the_table_and_documented():
    import re

    from crane_shared.events_doc import BUCKET_VALUES

    described = " ".join(value for access in KV_BUCKETS.values() for _, value in access.keys)
    documented = {model.__name__ for model in BUCKET_VALUES}
    named = set(re.findall(r"\b([A-Z][A-Za-z]+) \(\w+\.py\)", described))
    assert named <= documented, named - documented  # a model the table names has its schema in the docs
    assert all(re.search(rf"\b{name}\b", described) for name in documented)


def test_an_admission_lease_holds_until_its_time_and_a_broken_one_never_blocks():
    from crane_shared.store import AdmissionLease

    lease = AdmissionLease(holder="h", until=100.0).model_dump_json().encode()
    assert not AdmissionLease.expired(lease, now=99.0)
    assert AdmissionLease.expired(lease, now=101.0)
    assert AdmissionLease.expired(b'{"holder": "h"}', now=0.0)  # not a lease: taken over
    assert not AdmissionLease.expired(None, now=0.0)  # deleted meanwhile: create wins next
