"""An image's own labels never reach Traefik or CRANE's label space: Docker copies them onto
every replica, so the deployer refuses an image whose reserved labels the replica's own labels
would not replace."""

from crane_deployer.container_spec import replica_spec
from crane_deployer.image_labels import labels_only_crane_sets, refusal
from crane_deployer.naming import Naming
from crane_shared.appspec import AppRecord, AppSpec
from crane_shared.container_defaults import Limits

NAMING = Naming("s1")


def _replica_labels(routed: bool) -> dict[str, str]:
    web = {"name": "web", "image": "i", **({"ports": ["8080"]} if routed else {})}
    record = AppRecord(id="shop-1", owner="u-1", spec=AppSpec.model_validate({"name": "shop", "services": [web]}))
    return replica_spec(record, record.spec.services[0], 0, NAMING, Limits()).labels


HIJACK = {
    "traefik.http.routers.evil.rule": "Host(`victim-1.localhost`)",
    "traefik.http.routers.evil.priority": "100000",
    "traefik.http.services.evil.loadbalancer.server.port": "8080",
}


def test_a_router_in_an_image_is_refused_whether_or_not_the_service_is_routed():
    for routed in (True, False):
        assert labels_only_crane_sets(HIJACK, _replica_labels(routed)) == sorted(HIJACK)


def test_traefik_reads_its_prefix_in_any_case_and_so_does_the_check():
    assert labels_only_crane_sets({"Traefik.HTTP.routers.evil.rule": "r"}, _replica_labels(True)) == [
        "Traefik.HTTP.routers.evil.rule"
    ]


def test_enabling_an_unrouted_service_is_refused_but_a_routed_one_sets_it_itself():
    assert labels_only_crane_sets({"traefik.enable": "true"}, _replica_labels(False)) == ["traefik.enable"]
    assert labels_only_crane_sets({"traefik.enable": "false"}, _replica_labels(True)) == []


def test_cranes_own_labels_are_refused_unless_the_replica_writes_them_over():
    replica = _replica_labels(True)
    # The builder labels the images it makes with the app's labels: the replica's replace them.
    assert labels_only_crane_sets({"crane.suite": "s1", "crane.app": "other-2", "crane.owner": "u-2"}, replica) == []
    assert labels_only_crane_sets({"crane.files-holder": "v", "crane.scan": "x"}, replica) == [
        "crane.files-holder",
        "crane.scan",
    ]


def test_labels_outside_the_reserved_namespaces_and_the_inert_marks_pass():
    plain = {"org.opencontainers.image.source": "x", "maintainer": "me", "crane.image": "true", "crane.test": "r"}
    assert labels_only_crane_sets(plain, _replica_labels(False)) == []
    assert labels_only_crane_sets(None, _replica_labels(False)) == []


def test_the_refusal_names_the_service_the_image_and_the_labels():
    text = refusal("web", "evil:1", [f"traefik.l{i}" for i in range(7)])
    assert text.startswith("services.web: the image evil:1") and "traefik.l0" in text and "and 2 more" in text
