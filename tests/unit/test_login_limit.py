"""Login rate limiting rules (pure, explicit clock values)."""

from crane_api.login_limit import Attempts, after_attempt, given_back, wait_seconds


def test_a_budget_blocks_once_spent_until_its_window_is_over():
    attempts = Attempts()
    for second in range(5):
        assert wait_seconds(attempts, 1000 + second, limit=5, window=60) == 0
        attempts = after_attempt(attempts, 1000 + second, window=60)
    assert wait_seconds(attempts, 1010, limit=5, window=60) == 50
    assert wait_seconds(attempts, 1060, limit=5, window=60) == 0


def test_an_attempt_after_the_window_starts_counting_again():
    attempts = Attempts(count=5, window_start=1000)
    attempts = after_attempt(attempts, 1100, window=60)
    assert attempts == Attempts(count=1, window_start=1100)


def test_a_successful_login_gives_its_slot_back():
    assert given_back(Attempts(count=3, window_start=1000), 1001) == Attempts(count=2, window_start=1000)
    assert given_back(Attempts(), 1001) is None
