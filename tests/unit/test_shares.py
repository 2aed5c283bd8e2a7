"""Fair shares per user (pure): up to the share, 429 past it, given back once, also when a
stream's body was never read (nothing refers to its share any more)."""

import gc

import pytest
from fastapi import HTTPException

from crane_api.shares import Shares


def test_a_user_holds_up_to_their_share_and_others_keep_theirs():
    shares = Shares({"logs": 2, "events": 1})
    first, second = shares.take("logs", "u-a"), shares.take("logs", "u-a")
    with pytest.raises(HTTPException) as refused:
        shares.take("logs", "u-a")
    assert refused.value.status_code == 429 and refused.value.headers["Retry-After"]
    shares.take("logs", "u-b")  # another user is not held up
    first.release()
    first.release()  # once only
    third = shares.take("logs", "u-a")
    assert shares.held[("logs", "u-a")] == 2
    del second, third
    gc.collect()
    assert ("logs", "u-a") not in shares.held


def test_a_stream_whose_body_never_ran_gives_its_share_back():
    shares = Shares({"logs": 1, "events": 1})

    def stream():
        share = shares.take("events", "u-a")

        async def body():
            try:
                yield "x"
            finally:
                share.release()

        return body()

    never_read = stream()
    assert shares.held[("events", "u-a")] == 1
    del never_read
    gc.collect()
    assert ("events", "u-a") not in shares.held
