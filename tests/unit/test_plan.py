"""The deployer's planning core: desired replicas x observed containers -> actions."""

from crane_deployer.ordering import waiting_services
from crane_deployer.plan import (
    Create,
    PassPlan,
    Remove,
    Replica,
    Start,
    exit_failure,
    plan_pass,
    plan_replicas,
    ready_by_service,
)
from crane_shared.appspec import AppSpec


def replica(service="web", index=0, spec_hash="h1", state="running", cid=None, health=None):
    cid = cid or f"{service}{index}{state}{spec_hash}"
    return Replica(cid, f"s-app-{service}-{index}", service, index, spec_hash, state, health)


def test_fresh_app_creates_every_slot():
    assert plan_replicas({"web": (3, "h1")}, []) == [Create("web", 0), Create("web", 1), Create("web", 2)]


def test_converged_app_needs_nothing():
    observed = [replica(index=i) for i in range(3)]
    assert plan_replicas({"web": (3, "h1")}, observed) == []
    assert ready_by_service({"web": (3, "h1")}, observed) == {"web": 3}


def test_dead_replica_is_removed_then_recreated_in_its_slot():
    observed = [replica(index=0), replica(index=1, state="exited"), replica(index=2)]
    actions = plan_replicas({"web": (3, "h1")}, observed)
    assert actions == [Remove(observed[1].container_id, observed[1].name, "container exited"), Create("web", 1)]


def test_scale_down_removes_the_highest_slots():
    observed = [replica(index=i) for i in range(3)]
    actions = plan_replicas({"web": (1, "h1")}, observed)
    assert {a.name for a in actions if isinstance(a, Remove)} == {"s-app-web-1", "s-app-web-2"}
    assert not [a for a in actions if isinstance(a, Create)]


def test_duplicates_in_a_slot_keep_exactly_one_running():
    observed = [replica(cid="b", state="running"), replica(cid="a", state="created")]
    actions = plan_replicas({"web": (1, "h1")}, observed)
    assert actions == [Remove("a", "s-app-web-0", "duplicate replica")]


def test_created_but_never_started_is_started_not_duplicated():
    observed = [replica(state="created", cid="c1")]
    assert plan_replicas({"web": (1, "h1")}, observed) == [Start("c1", "s-app-web-0")]


def test_changed_spec_replaces_replicas_removals_first():
    observed = [replica(index=0, spec_hash="old")]
    actions = plan_replicas({"web": (1, "new")}, observed)
    assert actions == [Remove(observed[0].container_id, observed[0].name, "spec changed"), Create("web", 0)]


def test_removed_service_and_stopped_app_remove_everything():
    observed = [replica(service="gone"), replica(service="web")]
    actions = plan_replicas({"web": (0, "h1")}, observed)
    assert sorted(a.reason for a in actions) == ["above 0 replicas", "service removed"]


def test_readiness_is_per_service_counts_health_and_never_exceeds_the_desired():
    desired = {"web": (3, "h1"), "db": (1, "h1")}
    observed = [
        replica("web", 0),
        replica("web", 1),
        replica("web", 2, health="starting"),
        replica("web", 3),  # above the desired count: not counted
        replica("db", 0),
        replica("db", 1),  # db has one slot only
        replica("db", 2, spec_hash="old"),
    ]
    assert ready_by_service(desired, observed) == {"web": 2, "db": 1}


def exited(service="job", index=0, code=0, spec_hash="h1"):
    return Replica(
        f"{service}{index}x{code}", f"s-app-{service}-{index}", service, index, spec_hash, "exited", None, code
    )


def test_restart_policies_decide_whether_an_exited_replica_is_replaced():
    desired = {"job": (1, "h1")}
    recreate = [Remove("job0x3", "s-app-job-0", "container exited"), Create("job", 0)]
    assert plan_replicas(desired, [exited(code=3)], {"job": "always"}) == recreate
    assert plan_replicas(desired, [exited(code=0)], {"job": "unless-stopped"}) == [
        Remove("job0x0", "s-app-job-0", "container exited"),
        Create("job", 0),
    ]
    assert plan_replicas(desired, [exited(code=3)], {"job": "no"}) == []  # stays exited
    assert plan_replicas(desired, [exited(code=0)], {"job": "on-failure"}) == []  # done
    assert plan_replicas(desired, [exited(code=3)], {"job": "on-failure:5"}) == recreate
    # A changed spec replaces even a replica that stays exited.
    assert plan_replicas({"job": (1, "h2")}, [exited(code=0)], {"job": "no"})[-1] == Create("job", 0)


def test_completed_one_shot_replicas_count_as_ready_and_failed_ones_fail_the_app():
    desired = {"job": (1, "h1"), "web": (1, "h1")}
    observed = [exited(code=0), replica("web", 0)]
    assert ready_by_service(desired, observed, {"job": "no"}) == {"job": 1, "web": 1}
    assert ready_by_service(desired, observed, {}) == {"job": 0, "web": 1}  # always: it must run
    assert exit_failure(desired, observed, {"job": "no"}) is None
    failed = [exited(code=2), replica("web", 0)]
    assert exit_failure(desired, failed, {"job": "no"}) == "service job exited with code 2 (restart: no)"
    assert exit_failure(desired, failed, {"job": "always"}) is None  # it is replaced instead


def test_services_wait_for_their_dependencies_conditions():
    spec = AppSpec.model_validate(
        {
            "name": "shop",
            "services": [
                {"name": "migrate", "image": "i", "restart": "no"},
                {"name": "db", "image": "i", "healthcheck": {"test": ["CMD", "true"]}},
                {
                    "name": "web",
                    "image": "i",
                    "depends_on": {
                        "db": {"condition": "service_healthy"},
                        "migrate": {"condition": "service_completed_successfully"},
                    },
                },
                {"name": "worker", "image": "i", "depends_on": ["db"]},
                {"name": "extra", "image": "i", "depends_on": {"web": {"required": False}}},
            ],
        }
    )
    desired = {name: (1, "h1") for name in ("migrate", "db", "web", "worker", "extra")}
    assert waiting_services(spec, desired, []) == {
        "web": "waits for db (service_healthy)",
        "worker": "waits for db (service_started)",
    }
    starting = [replica("db", 0, health="starting"), replica("migrate", 0)]
    assert waiting_services(spec, desired, starting) == {"web": "waits for db (service_healthy)"}
    healthy = [replica("db", 0, health="healthy"), replica("migrate", 0)]
    assert waiting_services(spec, desired, healthy) == {"web": "waits for migrate (service_completed_successfully)"}
    assert waiting_services(spec, desired, [replica("db", 0, health="healthy"), exited("migrate")]) == {}


def test_a_pass_leaves_unbuilt_services_holds_dependents_and_defers_backing_off_slots():
    desired = {"web": (2, "h1"), "api": (1, "h1"), "worker": (1, "h1")}
    observed = [replica("web", 0, spec_hash="h0", cid="old-web"), replica("worker", 0, state="exited", cid="dead")]
    actions = plan_replicas(desired, observed)
    waits = {("worker", 0): 4.0}
    plan = plan_pass(actions, observed, {"web"}, {"api": "waits for web"}, lambda c: waits.get((c.service, c.index), 0))
    assert plan.build == ["web"]
    assert plan.remove == [Remove("dead", "s-app-worker-0", "container exited")]  # web's old one stays until its build
    assert plan.bring_up == []  # api is held, worker backs off
    assert plan.gated == {"worker"} and plan.held == {"api": "waits for web"} and plan.starting == set()
    assert plan.retry_in == 1.0 and plan.changes_replicas  # the dependency's retry comes first


def test_a_pass_with_nothing_to_do_does_nothing_and_comes_back_for_nothing():
    desired = {"web": (1, "h1")}
    observed = [replica("web", 0)]
    plan = plan_pass(plan_replicas(desired, observed), observed, set(), {"web": "x"}, lambda c: 9.0)
    assert plan == PassPlan([], [], [], set(), set(), {}, None) and not plan.changes_replicas


def test_a_pass_says_which_services_it_starts_again():
    observed = [replica("web", 0, state="created", cid="half")]
    plan = plan_pass(plan_replicas({"web": (1, "h1")}, observed), observed, set(), {}, lambda c: 0.0)
    assert plan.bring_up == [Start("half", "s-app-web-0")] and plan.starting == {"web"} and plan.gated == set()
