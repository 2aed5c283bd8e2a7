"""Compose files into AppSpecs, and refusals that name the offending field."""

import pytest

from crane_api.compose_import import ComposeError, parse_compose

GOOD = """
name: shop
x-crane: {replicas: 3, max_scale: 5}
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    environment: [MODE=demo]
    healthcheck: {test: ["CMD", "true"], interval: 5s}
    deploy: {resources: {limits: {cpus: "0.5", memory: 128m}}}
    x-crane: {http_port: 80}
  cache:
    image: redis:7
"""


def test_a_compose_file_becomes_an_app():
    spec = parse_compose(GOOD)
    assert spec.name == "shop" and spec.replicas == 3 and spec.max_scale == 5
    web = spec.services[0]
    assert web.environment == {"MODE": "demo"} and web.routed_port == 80
    assert web.resources.cpus == 0.5 and web.healthcheck.interval == "5s"


def test_deploy_replicas_is_used_when_x_crane_says_nothing():
    spec = parse_compose("name: a\nservices:\n  w:\n    image: i\n    deploy: {replicas: 2}\n")
    assert spec.replicas == 2


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("name: a\nservices:\n  w: {image: i, network_mode: 'container:x'}\n", ("services", "w", "network_mode")),
        ("name: a\nservices:\n  w: {image: i, devices: ['/dev/mem']}\n", ("services", "w", "devices")),
        ("name: a\nservices:\n  w: {image: i}\nnetworks: {x: {}}\n", ("networks",)),
        ("name: a\nservices:\n  w: {image: i, deploy: {mode: global}}\n", ("services", "w", "deploy", "mode")),
        ("name: a\nservices:\n  w: {image: 3, ports: [notaport]}\n", ("services", "w", "ports")),
        ("name: a\nservices:\n  w: {command: x}\n", ("services", "w", "image")),
        ("name: a\nx-crane: {replicas: 99}\nservices:\n  w: {image: i}\n", ("x-crane", "replicas")),
        ("services:\n  w: {image: i}\n", ("x-crane", "name")),
        ("name: a\nservices: []\n", ("services",)),
        (": : :", ()),
    ],
)
def test_refusals_name_the_field(text, path):
    with pytest.raises(ComposeError) as error:
        parse_compose(text)
    assert path in [loc[: len(path)] for loc, _ in error.value.problems], error.value.problems


def test_autoscaling_settings_come_from_x_crane():
    spec = parse_compose(
        "name: a\nx-crane: {autoscaling: {metric: cpu, target: 60, scale_down_stabilization: 120}}\n"
        "services:\n  w: {image: i}\n"
    )
    assert spec.autoscaling.metric == "cpu" and spec.autoscaling.target == 60
    with pytest.raises(ComposeError) as error:
        parse_compose("name: a\nx-crane: {autoscaling: {metric: vibes}}\nservices:\n  w: {image: i}\n")
    assert ("x-crane", "autoscaling", "metric") in [loc for loc, _ in error.value.problems]


def test_privileges_are_read_for_the_admission_policy_to_judge():
    text = "name: a\nservices:\n  w: {image: i, privileged: true, pid: host, cap_add: [NET_ADMIN], volumes: ['/srv:/s:ro']}\n"
    service = parse_compose(text).services[0]
    assert service.privileged and service.pid == "host" and service.cap_add == ["NET_ADMIN"]
    assert service.host_paths == ["/srv"]
