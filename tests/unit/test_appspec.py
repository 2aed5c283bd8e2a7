"""Validation of the app model and the pure intent rules."""

import pytest
from pydantic import ValidationError

from crane_shared.appspec import AppRecord, AppSpec, AppStatus, spec_changes
from crane_shared.events import AppUpdated, InvalidEvent
from crane_shared.intents import ScaleConflict, apply_restart, apply_update
from crane_shared.store import format_app_id
from crane_shared.units import container_port, parse_duration, parse_memory


def spec(**overrides):
    base = {"name": "shop", "services": [{"name": "web", "image": "img:1", "ports": ["8080"]}]}
    return AppSpec.model_validate({**base, **overrides})


def test_app_ids_are_name_plus_number():
    assert format_app_id("shop", 7) == "shop-7"
    # The number is unique suite-wide, so "shop-7" + 8 can never equal "shop" + anything.
    assert format_app_id("shop-7", 8) != format_app_id("shop", 7)


@pytest.mark.parametrize(
    ("value", "port"), [("8080", 8080), (8080, 8080), ("80:8080", 8080), ("127.0.0.1:80:81/tcp", 81)]
)
def test_container_port(value, port):
    assert container_port(value) == port


def test_units():
    assert parse_duration("1m") == 60 and parse_duration("500ms") == 0.5 and parse_duration(3) == 3
    # Compose reads durations as Go does, and writes them back that way ("1m0s").
    assert parse_duration("1m30s") == 90 and parse_duration("1h0m0s") == 3600 and parse_duration("1.5s") == 1.5
    for bad in ("1m30", "s", "1x", "-1s", "1m 30s"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_memory("256m") == 256 * 1024**2 and parse_memory("1GiB") == 1024**3
    with pytest.raises(ValueError):
        parse_memory("lots")


def test_routed_port_is_first_declared_unless_named():
    assert spec().routed_service.routed_port == 8080
    named = spec(services=[{"name": "web", "image": "i", "ports": ["9000"], "expose": [8080], "http_port": 8080}])
    assert named.routed_service.routed_port == 8080
    worker = spec(services=[{"name": "worker", "image": "i"}, {"name": "web", "image": "i", "expose": [3000]}])
    assert worker.routed_service.name == "web"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"replicas": 20, "max_scale": 10}, "replicas"),
        ({"services": []}, "services"),
        ({"services": [{"name": "w", "image": "i"}, {"name": "w", "image": "i"}]}, "duplicate"),
        ({"services": [{"name": "w", "image": "i", "volumes": ["../etc:/x"]}]}, "volume name"),
        ({"services": [{"name": "w", "image": "i", "volumes": ["/etc/../root:/x"]}]}, "plain absolute path"),
        ({"services": [{"name": "w", "image": "i", "volumes": ["/etc:/x:z"]}]}, "NAME:/path"),
        ({"services": [{"name": "w", "image": "i", "labels": {"traefik.enable": "true"}}]}, "prefix"),
        ({"services": [{"name": "w", "image": "i", "labels": {"Traefik.http.routers.x.rule": "r"}}]}, "prefix"),
        ({"services": [{"name": "w", "image": "i", "labels": {"CRANE.app": "other"}}]}, "prefix"),
        ({"services": [{"name": "w", "image": "i", "network_mode": "container:db"}]}, "network_mode"),
        ({"services": [{"name": "w", "image": "i", "cap_add": ["sys admin"]}]}, "cap_add"),
        ({"services": [{"name": "crane-router", "image": "i"}]}, "reserved"),
        ({"name": "UPPER"}, "name"),
    ],
)
def test_bad_specs_are_refused_naming_the_problem(overrides, field):
    with pytest.raises(ValidationError) as error:
        spec(**overrides)
    assert field in str(error.value)


def test_environment_list_form_becomes_a_mapping():
    parsed = spec(services=[{"name": "w", "image": "i", "environment": ["A=1", "B=x=y"]}])
    assert parsed.services[0].environment == {"A": "1", "B": "x=y"}


def record(**kw):
    return AppRecord(id="shop-1", owner="a@b.c", spec=spec(replicas=2), **kw)


def test_update_sets_replicas_within_bounds_and_marks_deploying():
    running = record(status=AppStatus.RUNNING)
    updated = apply_update(running, AppUpdated(app_id="shop-1", replicas=4))
    assert updated.spec.replicas == 4 and updated.status == AppStatus.DEPLOYING
    with pytest.raises(InvalidEvent, match="data.services.0.replicas"):
        apply_update(record(), AppUpdated(app_id="shop-1", replicas=11))


def test_stop_and_restart_are_idempotent():
    stopped = apply_update(record(), AppUpdated(app_id="shop-1", desired_state="stopped"))
    assert stopped.desired_replicas == 0
    assert apply_update(stopped.model_copy(deep=True), AppUpdated(app_id="shop-1", desired_state="stopped")) == stopped
    once = apply_restart(record(), "evt-1")
    assert apply_restart(once.model_copy(deep=True), "evt-1") == once


def test_autoscaling_is_off_unless_the_app_asks_for_it():
    assert not spec().autoscaling.enabled
    assert spec(autoscaling={"target": 5}).autoscaling.enabled
    assert not spec(autoscaling={"enabled": False, "target": 5}).autoscaling.enabled
    again = AppSpec.model_validate(spec(autoscaling={"target": 5}).model_dump())
    assert again.autoscaling.enabled and again.autoscaling.target == 5


STACK = {
    "name": "shop",
    "services": [
        {"name": "web", "image": "w", "ports": ["80"], "replicas": 3},
        {"name": "api", "image": "a", "replicas": 2},
        {"name": "db", "image": "pg", "volumes": ["data:/var/lib/postgresql/data"]},
    ],
}


def test_each_service_has_its_own_replicas_and_the_app_level_means_the_primary():
    stack = AppSpec.model_validate(STACK)
    assert [(s.name, s.replicas) for s in stack.services] == [("web", 3), ("api", 2), ("db", 1)]
    assert stack.replicas == 3 and stack.primary_service.name == "web"
    bare = [{k: v for k, v in s.items() if k != "replicas"} for s in STACK["services"]]
    legacy = AppSpec.model_validate({"name": "shop", "replicas": 4, "services": bare})
    assert [s.replicas for s in legacy.services] == [4, 1, 1] and legacy.replicas == 4
    with pytest.raises(ValidationError, match="differs from services.web.replicas"):
        AppSpec.model_validate({**STACK, "replicas": 5})
    assert AppSpec.model_validate(stack.model_dump()) == stack  # a stored spec reads back as itself


def test_scaling_a_service_over_its_only_volume_is_refused_but_the_others_scale():
    record = AppRecord(id="shop-1", owner="a@b.c", spec=AppSpec.model_validate(STACK))
    with pytest.raises(ScaleConflict, match="writable volume"):
        apply_update(record.model_copy(deep=True), AppUpdated(app_id="shop-1", service="db", replicas=2))
    scaled = apply_update(record.model_copy(deep=True), AppUpdated(app_id="shop-1", service="api", replicas=4))
    assert [s.replicas for s in scaled.spec.services] == [3, 4, 1]
    legacy = apply_update(record.model_copy(deep=True), AppUpdated(app_id="shop-1", replicas=5))  # the primary
    assert [s.replicas for s in legacy.spec.services] == [5, 2, 1]
    with pytest.raises(InvalidEvent, match="no service 'cache'"):
        apply_update(record.model_copy(deep=True), AppUpdated(app_id="shop-1", service="cache", replicas=2))
    shared = {**STACK, "services": [*STACK["services"][:2], {**STACK["services"][2], "volume_scaling": "shared"}]}
    opted = AppRecord(id="shop-1", owner="a@b.c", spec=AppSpec.model_validate(shared))
    assert apply_update(opted, AppUpdated(app_id="shop-1", service="db", replicas=2)).spec.services[2].replicas == 2


def test_patch_changes_replace_the_primary_services_own_scale():
    stack = AppSpec.model_validate(STACK)
    patched = AppSpec.model_validate(spec_changes(stack, {"replicas": 12, "min_scale": 2}))
    web = patched.services[0]
    assert (web.replicas, web.min_scale, web.max_scale) == (12, 2, 12) and patched.services[1].replicas == 2


def test_records_of_the_old_model_keep_what_they_ran():
    """Version 1 had one replica count for every service; each service keeps it after migration."""
    old = {
        "id": "shop-1",
        "owner": "a@b.c",
        "spec": {**STACK, "replicas": 2, "min_scale": 1, "max_scale": 4, "services": [
            {k: v for k, v in s.items() if k != "replicas"} for s in STACK["services"]
        ]},
    }  # fmt: skip
    record = AppRecord.model_validate(old)
    assert record.version == 3 and [s.replicas for s in record.spec.services] == [2, 2, 2]
    assert record.volume_names == "hyphenated"  # its data is in the volumes named as before
    assert record.spec.services[2].volume_scaling == "shared"  # as it ran: two replicas over one volume
    assert AppRecord.model_validate_json(record.model_dump_json()) == record


def test_apps_made_before_keep_their_volume_names_and_new_ones_get_names_that_never_meet():
    version_2 = AppRecord(id="shop-1", owner="a@b.c", spec=AppSpec.model_validate(STACK)).model_dump(mode="json")
    version_2 = {k: v for k, v in version_2.items() if k != "volume_names"} | {"version": 2}
    assert AppRecord.model_validate(version_2).volume_names == "hyphenated"
    assert AppRecord(id="shop-2", owner="a@b.c", spec=AppSpec.model_validate(STACK)).volume_names == "separated"
