"""The lab's load plan, schedule and statistics (pure)."""

import pytest
from pydantic import ValidationError

from crane_api.lab import MAX_RATE, LoadPlan, percentile, send_times


def test_requests_are_due_evenly_and_never_more_than_rate_times_seconds():
    assert send_times(4, 1) == [0, 0.25, 0.5, 0.75]
    assert len(send_times(20, 2)) == 40
    assert len(send_times(MAX_RATE, 300)) == 60_000
    assert send_times(0.5, 4) == [0, 2]


def test_the_p95_is_the_nearest_rank():
    assert percentile([], 95) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": MAX_RATE + 1}, "rate"),
        ({"seconds": 301}, "seconds"),
        ({"path": "relative"}, "path"),
        ({"path": "/a b"}, "path"),
        ({"path": "/\r\nHost: evil"}, "path"),
        ({"path": "/" + "a" * 300}, "path"),
        ({"path": "//evil.example/"}, "path"),
        ({"target": "http://example.com"}, "target"),
    ],
)
def test_a_plan_out_of_bounds_names_its_field(body, field):
    with pytest.raises(ValidationError) as error:
        LoadPlan.model_validate(body)
    assert field in str(error.value)


def test_a_plan_within_bounds_keeps_its_path():
    assert LoadPlan.model_validate({"path": "/search?q=a&page=2"}).path == "/search?q=a&page=2"
