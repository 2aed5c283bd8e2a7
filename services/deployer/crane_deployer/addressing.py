"""Subnets for CRANE's networks, from an address pool of CRANE's own (pure).

Docker's default pools give about 30 bridge networks; one network per app would stop there.
CRANE splits its pool (CRANE_ADDRESS_POOL, e.g. 10.203.0.0/16) into small subnets
(CRANE_SUBNET_PREFIX, /25 by default: 512 networks of 125 addresses) and gives each network
the first one that overlaps nothing on the Engine, so the daemon's configuration is never
touched.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


class PoolExhausted(RuntimeError):
    """Every subnet of the pool is in use."""


def subnet_count(pool: str, prefix: int) -> int:
    network = ipaddress.ip_network(pool)
    return 2 ** (prefix - network.prefixlen) if prefix >= network.prefixlen else 0


def free_subnet(pool: str, prefix: int, used: Iterable[str], start: int = 0) -> str:
    """The first /``prefix`` of ``pool`` that overlaps none of the ``used`` subnets, looking
    from the ``start``-th one on (and round to the beginning): another allocator on the same
    Engine that lost a race starts elsewhere, so two never keep picking the same one."""
    network = ipaddress.ip_network(pool)
    taken = [ipaddress.ip_network(u, strict=False) for u in used if _is_ipv4(u)]
    candidates: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = list(network.subnets(new_prefix=prefix))
    offset = start % len(candidates) if candidates else 0
    for candidate in candidates[offset:] + candidates[:offset]:
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise PoolExhausted(
        f"no free /{prefix} subnet left in {pool} ({subnet_count(pool, prefix)} networks); "
        "set CRANE_ADDRESS_POOL to a larger pool or CRANE_SUBNET_PREFIX to smaller subnets"
    )


def gateway(subnet: str) -> str:
    """The subnet's first address, the bridge's own."""
    return str(next(ipaddress.ip_network(subnet).hosts()))


def _is_ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_network(text, strict=False).version == 4
    except ValueError:
        return False
