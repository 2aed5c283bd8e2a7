"""Subnets of CRANE's address pool (pure)."""

import pytest

from crane_deployer.addressing import PoolExhausted, free_subnet, gateway, subnet_count


def test_the_first_subnet_that_overlaps_nothing_is_chosen():
    pool = "10.203.0.0/16"
    assert free_subnet(pool, 25, []) == "10.203.0.0/25"
    assert free_subnet(pool, 25, ["10.203.0.0/25", "172.17.0.0/16"]) == "10.203.0.128/25"
    # A wider network of someone else's inside the pool is stepped over whole.
    assert free_subnet(pool, 25, ["10.203.0.0/24", "10.203.1.0/25"]) == "10.203.1.128/25"
    assert free_subnet(pool, 25, ["fd00::/64", "not a subnet"]) == "10.203.0.0/25"
    assert gateway("10.203.1.128/25") == "10.203.1.129"


def test_the_default_pool_fits_hundreds_of_apps_and_says_so_when_full():
    assert subnet_count("10.203.0.0/16", 25) == 512
    used = [f"10.203.{i}.0/24" for i in range(256)]
    with pytest.raises(PoolExhausted, match="CRANE_ADDRESS_POOL"):
        free_subnet("10.203.0.0/16", 25, used)


def test_an_allocator_that_lost_a_race_looks_elsewhere_and_wraps_round():
    pool, used = "10.9.0.0/24", ["10.9.0.0/26"]
    assert free_subnet(pool, 26, used) == "10.9.0.64/26"
    assert free_subnet(pool, 26, used, start=3) == "10.9.0.192/26"
    assert free_subnet(pool, 26, [*used, "10.9.0.192/26"], start=3) == "10.9.0.64/26"  # round to the start
    assert free_subnet(pool, 26, used, start=7) == "10.9.0.192/26"  # any start is taken modulo the pool
