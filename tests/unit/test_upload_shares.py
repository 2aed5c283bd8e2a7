"""Each owner's share of the shared uploads store (pure ledger)."""

from crane_deployer.upload_shares import UploadLedger, owner_key_of
from crane_shared.uploads import owner_key, upload_name


def test_an_owner_past_their_share_loses_the_upload_and_nobody_else_does():
    ledger = UploadLedger(share_bytes=1000)
    a1, a2, a3 = (upload_name("u-a") for _ in range(3))
    b1 = upload_name("u-b")
    assert ledger.put(a1, 400) and ledger.put(a2, 400)
    assert not ledger.put(a3, 400)  # 1200 > 1000: to be deleted, not counted
    assert ledger.put(b1, 900)  # another owner's share is their own
    assert ledger.used(owner_key("u-a")) == 800
    ledger.gone(a1)  # claimed (or expired): room again
    assert ledger.put(a3, 400) and ledger.used(owner_key("u-a")) == 800
    assert ledger.put(a3, 500)  # the same name again counts once
    assert not ledger.put("not-an-upload", 1)


def test_the_owner_key_is_read_from_the_name():
    name = upload_name("u-a")
    assert owner_key_of(name) == owner_key("u-a")
    assert owner_key_of("u-x") is None
