"""Crash-loop back-off with a controllable clock."""

from crane_deployer.crashloop import CrashTracker

SLOT = ("shop-1", "web", 0, "h1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_quick_exits_back_off_exponentially_and_then_fail():
    clock = Clock()
    tracker = CrashTracker(clock=clock, base_delay=1, max_delay=8, quick_exit_seconds=10, fail_after=3)
    delays = []
    for _ in range(5):
        tracker.created(SLOT)
        clock.now += 0.5
        tracker.exited(SLOT, 1)
        delays.append(tracker.wait_before_create(SLOT))
        clock.now += delays[-1]
    assert delays == [1, 2, 4, 8, 8]
    reason = tracker.failure([SLOT])
    assert reason and "web replica 0" in reason and "exit code 1" in reason


def test_a_replica_that_ran_a_while_is_replaced_at_once_and_history_resets():
    clock = Clock()
    tracker = CrashTracker(clock=clock, fail_after=1)
    tracker.created(SLOT)
    clock.now += 0.1
    tracker.exited(SLOT, 1)
    assert tracker.failure([SLOT])
    tracker.created(SLOT)
    clock.now += 60
    tracker.exited(SLOT, 137)  # killed after a minute of service
    assert tracker.wait_before_create(SLOT) == 0 and tracker.failure([SLOT]) is None


def test_new_spec_and_forget_start_clean():
    clock = Clock()
    tracker = CrashTracker(clock=clock, fail_after=1)
    tracker.created(SLOT)
    tracker.exited(SLOT, 2)
    assert tracker.failure([("shop-1", "web", 0, "h2")]) is None
    tracker.forget("shop-1")
    assert tracker.failure([SLOT]) is None and tracker.wait_before_create(SLOT) == 0
