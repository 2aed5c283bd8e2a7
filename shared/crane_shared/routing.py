"""How Traefik sees an app (one home): each routed service has one router and one
load-balanced service that all its replicas share, the hosts it answers on, and the container
labels that say so, on the deployer's replicas and in exported compose files alike."""

from __future__ import annotations


def router_name(app_id: str, service: str, suite: str | None = None) -> str:
    """The name of a routed service's router and load-balanced service (``suite``: the
    suite's replicas; without it, an exported file's)."""
    return f"{suite}-{app_id}-{service}" if suite else f"{app_id}-{service}"


def traefik_service(suite: str, app_id: str, service: str) -> str:
    """The name Traefik's metrics give that load-balanced service (its Docker provider's)."""
    return f"{router_name(app_id, service, suite)}@docker"


def hosts(app_id: str, service: str, is_main: bool, domain: str = "localhost") -> list[str]:
    """Host names a routed service answers on: <service>.<app>.<domain>, and <app>.<domain>
    for the app's main service."""
    own = [f"{service}.{app_id}.{domain}"]
    return [f"{app_id}.{domain}", *own] if is_main else own


def router_labels(router: str, host_names: list[str], port: int, network: str | None = None) -> dict[str, str]:
    """The labels that route ``host_names`` to ``port`` of every container carrying them
    (``network``: the one Traefik reaches them on, when they have several)."""
    labels = {"traefik.enable": "true"}
    if network:
        labels["traefik.docker.network"] = network
    return {
        **labels,
        f"traefik.http.routers.{router}.rule": " || ".join(f"Host(`{h}`)" for h in host_names),
        f"traefik.http.routers.{router}.entrypoints": "web",
        f"traefik.http.routers.{router}.service": router,
        f"traefik.http.services.{router}.loadbalancer.server.port": str(port),
    }
