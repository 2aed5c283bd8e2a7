"""Names and labels of everything the deployer creates, scoped by suite so that several suites
(and test runs) can share one Docker Engine without touching each other's objects."""

from __future__ import annotations

from dataclasses import dataclass

from crane_shared import routing
from crane_shared.servicespec import DEFAULT_NETWORK, ServiceSpec

LABEL_SUITE = "crane.suite"
LABEL_APP = "crane.app"
LABEL_SERVICE = "crane.service"
LABEL_REPLICA = "crane.replica"
LABEL_OWNER = "crane.owner"
LABEL_SPEC_HASH = "crane.spec-hash"
# On the short-lived container that fills an app's files volume (never a replica).
LABEL_FILES_HOLDER = "crane.files-holder"
# Where the images CRANE builds are tagged (and the only images it ever removes).
BUILD_REPOSITORY = "crane-build/"


@dataclass(frozen=True)
class Naming:
    suite: str
    app_domain: str = "localhost"

    def container(self, app_id: str, service: str, index: int) -> str:
        return f"{self.suite}-{app_id}-{service}-{index}"

    def app_network(self, app_id: str, network: str = DEFAULT_NETWORK) -> str:
        # "net-" sorts after "edge": where the router joins app networks, the suite's own
        # network stays its gateway (Docker picks the first by name), so its published ports
        # keep pointing at it.
        base = f"{self.suite}-net-{app_id}"
        return base if network == DEFAULT_NETWORK else f"{base}.{network}"

    @property
    def edge_network(self) -> str:
        return f"{self.suite}-edge"

    def volume(self, app_id: str, name: str, scheme: str = "separated") -> str:
        """The Docker volume ``name`` of the app: ``<suite>-<app id>_<name>``. App ids hold no
        ``_``, so two apps' volumes never share a name (``a-1`` + ``2-x`` and ``a-1-2`` + ``x``
        met when both were joined with ``-``, the "hyphenated" scheme apps made before keep)."""
        return f"{self.suite}-{app_id}{'-' if scheme == 'hyphenated' else '_'}{name}"

    def image(self, app_id: str, service: ServiceSpec) -> str:
        """The image a service's replicas run: the one CRANE builds for it, else its own."""
        if service.build is not None:
            return f"{BUILD_REPOSITORY}{self.suite}-{app_id}-{service.name}:{service.build.key}"
        assert service.image is not None  # a service has an image or a build (AppSpec checks)
        return service.image

    def app_labels(self, app_id: str, owner: str) -> dict[str, str]:
        return {LABEL_SUITE: self.suite, LABEL_APP: app_id, LABEL_OWNER: owner}

    def suite_filter(self) -> dict[str, list[str]]:
        return {"label": [f"{LABEL_SUITE}={self.suite}"]}

    def app_filter(self, app_id: str) -> dict[str, list[str]]:
        return {"label": [f"{LABEL_SUITE}={self.suite}", f"{LABEL_APP}={app_id}"]}

    def hosts(self, app_id: str, service: str, is_main: bool) -> list[str]:
        return routing.hosts(app_id, service, is_main, self.app_domain)

    def router_labels(
        self, app_id: str, service: str, port: int, is_main: bool, network: str = DEFAULT_NETWORK
    ) -> dict[str, str]:
        """Traefik labels of a replica (routing.py), on the app's network ``network``."""
        router = routing.router_name(app_id, service, self.suite)
        return routing.router_labels(
            router, self.hosts(app_id, service, is_main), port, self.app_network(app_id, network)
        )
