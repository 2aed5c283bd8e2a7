"""Login rate limiting rules (pure, explicit clock values)."""

from crane_api.login_limit import Attempts, after_failure, wait_seconds


def test_limit_blocks_after_max_failures_until_the_window_is_over():
    attempts = Attempts()
    for second in range(5):
        assert wait_seconds(attempts, 1000 + second, max_failures=5, window=60) == 0
        attempts = after_failure(attempts, 1000 + second, window=60)
    assert wait_seconds(attempts, 1010, max_failures=5, window=60) == 50
    assert wait_seconds(attempts, 1060, max_failures=5, window=60) == 0


def test_a_failure_after_the_window_starts_counting_again():
    attempts = Attempts(failures=5, window_start=1000)
    attempts = after_failure(attempts, 1100, window=60)
    assert attempts == Attempts(failures=1, window_start=1100)
