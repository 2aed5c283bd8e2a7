"""Pure parts of the deployer: container specs, status rules, compose export."""

import yaml

from crane_deployer.container_spec import desired_slots, replica_spec, spec_hash
from crane_deployer.naming import Naming
from crane_deployer.reconciler import next_status, transition_events
from crane_shared.appspec import AppRecord, AppSpec, AppStatus
from crane_shared.compose import ROUTER_SERVICE, parse_compose, render_compose
from crane_shared.container_defaults import KEPT_CAPABILITIES, Limits

NAMING = Naming("suite1")
LIMITS = Limits(cpus=0.5, memory="128m", pids=100)


def app(**spec_overrides):
    spec = {
        "name": "shop",
        "replicas": 2,
        "services": [
            {"name": "web", "image": "web:1", "ports": ["8080:80"], "environment": {"PRICE": "$5"}},
            {"name": "worker", "image": "worker:1", "resources": {"cpus": 1.5, "memory": "1g"}, "volumes": ["data:/d"]},
        ],
    }
    return AppRecord(id="shop-4", owner="ada@example.com", spec=AppSpec.model_validate({**spec, **spec_overrides}))


def test_replica_spec_has_labels_limits_router_and_least_privilege():
    record = app()
    web = replica_spec(record, record.spec.services[0], 1, NAMING, LIMITS)
    assert web.name == "suite1-shop-4-web-1"
    assert web.labels["crane.suite"] == "suite1" and web.labels["crane.app"] == "shop-4"
    assert web.labels["crane.replica"] == "1" and web.labels["crane.owner"] == "ada@example.com"
    assert web.labels["traefik.http.services.suite1-shop-4-web.loadbalancer.server.port"] == "80"
    assert "Host(`shop-4.localhost`)" in web.labels["traefik.http.routers.suite1-shop-4-web.rule"]
    # Its own app's network only (the router joins it), routed by Traefik over that network.
    assert web.network == "suite1-net-shop-4" and web.aliases == ["web"]
    assert web.labels["traefik.docker.network"] == "suite1-net-shop-4"
    assert web.nano_cpus == 500_000_000 and web.mem_limit == 128 * 1024**2 and web.pids_limit == 100
    assert "no-new-privileges:true" in web.security_opt and web.cap_drop == ["ALL"]
    # Only the kept capabilities come back: no raw sockets, device nodes, chroot...
    assert web.cap_add == list(KEPT_CAPABILITIES) and "NET_RAW" not in web.cap_add

    worker = replica_spec(record, record.spec.services[1], 0, NAMING, LIMITS)
    assert "traefik.enable" not in worker.labels and worker.network == web.network
    assert worker.nano_cpus == 1_500_000_000 and worker.mem_limit == 1024**3
    assert worker.volumes == {"suite1-shop-4_data": {"bind": "/d", "mode": "rw"}}


def test_granted_privileges_reach_the_replica_and_the_export():
    """What the admission policy allowed (here: a host path and a capability) is applied as is."""
    record = app(
        services=[{"name": "web", "image": "w", "cap_add": ["NET_RAW"], "volumes": ["/srv/shared:/s:ro", "d:/d"]}]
    )
    web = replica_spec(record, record.spec.services[0], 0, NAMING, LIMITS)
    assert web.cap_add == [*KEPT_CAPABILITIES, "NET_RAW"] and web.cap_drop == ["ALL"] and not web.privileged
    assert web.volumes == {"/srv/shared": {"bind": "/s", "mode": "ro"}, "suite1-shop-4_d": {"bind": "/d", "mode": "rw"}}
    assert web.named_volumes == ["suite1-shop-4_d"]
    document = yaml.safe_load(render_compose(record, LIMITS))
    assert document["services"]["web"]["cap_add"] == ["NET_RAW"] and document["volumes"] == {"d": {}}


def test_spec_hash_changes_with_the_service_or_a_restart_only():
    record = app()
    before = desired_slots(record)
    assert desired_slots(app(replicas=3))["web"][1] == before["web"][1]  # scaling keeps replicas
    record.restart_token = "evt-9"
    assert spec_hash(record, record.spec.services[0]) != before["web"][1]


def test_next_status():
    record = app()  # web 2 replicas (the app-level count is its primary service's), worker 1
    assert record.desired_replicas == 3
    assert next_status(record, 3, None) == (AppStatus.RUNNING, None)
    assert next_status(record, 2, None) == (AppStatus.DEPLOYING, None)
    assert next_status(record, 0, "image not found") == (AppStatus.FAILED, "image not found")
    record.desired_state = "stopped"
    assert next_status(record, 0, None) == (AppStatus.STOPPED, None)


def test_compose_export_is_portable_and_balanced():
    text = render_compose(app(), LIMITS)
    document = yaml.safe_load(text)
    web = document["services"]["web"]
    assert web["deploy"]["replicas"] == 2 and web["expose"] == ["80"]
    assert document["services"]["worker"]["deploy"]["replicas"] == 1
    assert web["environment"] == {"PRICE": "$$5"}  # literal $ survives Compose interpolation
    assert web["labels"]["traefik.http.services.shop-4-web.loadbalancer.server.port"] == "80"
    assert document["services"]["worker"]["deploy"]["resources"]["limits"] == {
        "cpus": "1.5",
        "memory": "1g",
        "pids": 100,
    }
    router = document["services"][ROUTER_SERVICE]
    assert router["ports"] == ["${CRANE_HTTP_PORT:-80}:80"]
    assert document["volumes"] == {"data": {}}
    assert "suite1" not in text and "/tmp" not in text and "/home" not in text


def test_exported_file_reads_back_as_the_same_app():
    record = app(autoscaling={"metric": "latency_p95", "target": 0.3}, min_scale=1, max_scale=5)
    record.spec.services[1].command = ["sh", "-c", "echo $$HOME costs $5"]
    again = parse_compose(render_compose(record, LIMITS))
    assert again.warnings == []

    def comparable(spec):
        # Host ports are not exported (the router publishes the app); limits are written out.
        return [s.model_dump(exclude={"ports", "expose", "resources"}) | {"port": s.routed_port} for s in spec.services]

    assert comparable(again.spec) == comparable(record.spec)  # $ and $$ included
    assert again.spec.services[1].command == ["sh", "-c", "echo $$HOME costs $5"]
    assert again.spec.services[1].resources == record.spec.services[1].resources


def test_transition_events_say_what_changed_once():
    deploying = app()
    deploying.status, deploying.running_replicas = AppStatus.DEPLOYING, 0
    running = deploying.model_copy(update={"status": AppStatus.RUNNING, "running_replicas": 2})
    (deployed,) = transition_events(deploying, running, "http://shop-4.localhost/")
    assert deployed.type == "app.deployed" and deployed.data == {
        "app_id": "shop-4",
        "replicas": 2,
        "url": "http://shop-4.localhost/",
    }
    (scaled,) = transition_events(running, running.model_copy(update={"running_replicas": 3}), "u")
    assert scaled.type == "app.scaled" and scaled.data["previous_replicas"] == 2
    assert transition_events(running, running, "u") == []
    failed = running.model_copy(update={"status": AppStatus.FAILED, "reason": "exit 1"})
    assert [e.type for e in transition_events(running, failed, "u")] == ["app.failed"]
    assert transition_events(failed, failed, "u") == []  # the same failure is told once


def test_app_metrics_come_from_one_collection_shared_by_every_scrape():
    from prometheus_client import CollectorRegistry, Gauge

    from crane_deployer.exporter import AppMetricsSnapshot

    registry = CollectorRegistry()
    gauge = Gauge("replicas", "r", ["app"], registry=registry)
    gauge.labels("a-1").set(2)
    gauge.labels("b-2").set(3)
    collections = []
    original = registry.collect

    def counted():
        collections.append(1)
        return original()

    registry.collect = counted
    now = [0.0]
    snapshot = AppMetricsSnapshot(registry, max_age=1.0, clock=lambda: now[0])
    for app_id in ("a-1", "b-2", "a-1", "c-3"):
        snapshot.for_app(app_id)
    assert len(collections) == 1  # not one per scrape
    assert [s.value for m in snapshot.for_app("b-2") for s in m.samples] == [3]
    assert snapshot.for_app("c-3") == []
    gauge.labels("a-1").set(5)
    now[0] = 2.0
    assert [s.value for m in snapshot.for_app("a-1") for s in m.samples] == [5]
    assert len(collections) == 2


def test_the_export_says_what_runs_differently_under_compose():
    record = app(
        services=[
            {"name": "kv", "image": "i", "volumes": ["state:/s"], "replicas": 2, "volume_scaling": "per_replica"},
            {"name": "web", "build": {"context": "ab" * 32}, "ports": ["80"]},
        ]
    )
    text = render_compose(record, LIMITS)
    notes = [line for line in text.splitlines() if line.startswith("# note: ")]
    assert notes == [
        "# note: kv has a volume per replica on CRANE; under Compose its 2 replicas share state",
        "# note: web is built from ./web: put its source there",
    ]
    assert parse_compose(text, contexts={"web": "ab" * 32}).spec.services[1].build.context == "ab" * 32


def test_a_services_own_cap_drop_takes_kept_capabilities_away():
    record = app(
        services=[
            {"name": "w", "image": "w", "cap_drop": ["CHOWN", "KILL"]},
            {"name": "x", "image": "x", "cap_drop": ["ALL"], "cap_add": ["NET_BIND_SERVICE"]},
        ]
    )
    w = replica_spec(record, record.spec.services[0], 0, NAMING, LIMITS)
    assert "CHOWN" not in w.cap_add and "KILL" not in w.cap_add and "SETUID" in w.cap_add
    x = replica_spec(record, record.spec.services[1], 0, NAMING, LIMITS)
    assert x.cap_add == ["NET_BIND_SERVICE"]


def test_status_changes_continue_the_chain_of_the_change_asked_of_the_app():
    deploying = app()
    deploying.status, deploying.correlationid = AppStatus.DEPLOYING, "scale-request-1"
    running = deploying.model_copy(update={"status": AppStatus.RUNNING, "running_replicas": 2})
    (deployed,) = transition_events(deploying, running, "u")
    assert deployed.correlationid == "scale-request-1"
    unchained = running.model_copy(update={"correlationid": None, "running_replicas": 3})
    (scaled,) = transition_events(running, unchained, "u")
    assert scaled.correlationid is None  # nothing asked: the event begins its own chain


def test_two_apps_volumes_never_share_a_name():
    """Joined with "-" alone, app a-1's volume 2-x and app a-1-2's volume x were one volume."""
    naming = Naming("crane")
    assert naming.volume("a-1", "2-x", "hyphenated") == naming.volume("a-1-2", "x", "hyphenated")
    assert naming.volume("a-1", "2-x") != naming.volume("a-1-2", "x")
    assert naming.volume("a-1", "2-x") == "crane-a-1_2-x"
