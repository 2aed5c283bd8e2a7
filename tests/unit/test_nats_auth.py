"""NATS permissions derived from the contract (pure): what each service and the client may do."""

import json

import pytest

from crane_shared import subjects as s
from crane_shared.nats_auth import SERVICES, client_permissions, render_config, service_permissions
from tests.harness.subjects import CLIENT_MAY_NOT_PUBLISH, CLIENT_MAY_PUBLISH, allowed, matches


def test_the_client_may_only_send_client_intents_and_write_uploads():
    permissions = client_permissions()
    for subject in CLIENT_MAY_PUBLISH:
        assert allowed(permissions["publish"]["allow"], subject), subject
    for subject in CLIENT_MAY_NOT_PUBLISH:
        assert not allowed(permissions["publish"]["allow"], subject), subject
    assert allowed(permissions["subscribe"]["allow"], "_INBOX.reply")
    for subject in ("app.deployed", "client.app.created", "logs.shop-1", "view.ada@example.com.app", "_INBOX_api.x"):
        assert not allowed(permissions["subscribe"]["allow"], subject), subject


def test_subjects_match_as_nats_matches_them():
    assert matches("client.>", "client.app.created") and not matches("client.>", "client")
    assert matches("$O.b.*.x", "$O.b.C.x") and not matches("$O.b.*.x", "$O.b.C.y.x")
    assert not matches("app.created", "app.created.more") and not matches("app.created.more", "app.created")


def test_a_service_gets_its_own_subjects_buckets_consumers_and_inbox():
    deployer = service_permissions("deployer")
    publish = set(deployer["publish"]["allow"])
    events = {p for p in publish if not p.startswith(("$", "_"))}
    assert events == {
        *(s.APP_DEPLOYED, s.APP_SCALED, s.APP_STOPPED, s.APP_FAILED, s.APP_REMOVED),
        *(
            s.CONTAINER_CREATED,
            s.CONTAINER_DIED,
            s.SCAN_COMPLETED,
            s.BUILD_STARTED,
            s.BUILD_PROGRESS,
            s.BUILD_COMPLETED,
            s.BUILD_FAILED,
            *s.INTENTS,
        ),
        *(s.RPC_POLICY_ADMIT, s.RPC_POLICY_SCAN, "deadletter.>", s.EVENT_REJECTED, "logs.>"),
    }
    assert "$JS.API.CONSUMER.MSG.NEXT.CRANE_CLIENT.deployer-client" in publish
    assert "$KV.crane_scans.>" in publish and "$KV.crane_policies.>" not in publish
    assert deployer["subscribe"]["allow"] == [
        "_INBOX_deployer.>", s.RPC_APP_LOGS, s.RPC_APP_STATS, s.RPC_APP_LOGS_FOLLOW, s.RPC_APP_LOGS_LEASE,
    ]  # fmt: skip
    # Live log lines: the deployer sends them, the API alone may listen to them.
    listeners = [name for name in SERVICES if "logs.>" in service_permissions(name)["subscribe"]["allow"]]
    assert listeners == ["api"]
    assert deployer["allow_responses"] is True

    monitor = service_permissions("monitor-config")
    assert not any(p.startswith("app.") for p in monitor["publish"]["allow"])
    assert "allow_responses" not in monitor
    # Exactly what its needs derive to: nothing of another's buckets, streams or consumers.
    written = {p.split(".")[1] for p in monitor["publish"]["allow"] if p.startswith("$KV.")}
    assert written == set()  # it writes no bucket: publishing to $KV.<bucket>.<key> is a write
    read = {p.split("KV_")[1].split(".")[0] for p in monitor["publish"]["allow"] if p.startswith("$JS.API.DIRECT.GET.")}
    assert read == {s.APPS_BUCKET, s.WEBHOOK_BUCKET}  # the apps, and the webhook token it gives Alertmanager
    consumers = {p for p in monitor["publish"]["allow"] if ".CONSUMER." in p and "KV_" not in p}
    assert consumers == {
        "$JS.API.CONSUMER.CREATE.CRANE_EVENTS.monitor-config",
        "$JS.API.CONSUMER.CREATE.CRANE_EVENTS.monitor-config.>",
        "$JS.API.CONSUMER.DURABLE.CREATE.CRANE_EVENTS.monitor-config",
        "$JS.API.CONSUMER.INFO.CRANE_EVENTS.monitor-config",
        "$JS.API.CONSUMER.MSG.NEXT.CRANE_EVENTS.monitor-config",
    }
    assert monitor["subscribe"]["allow"] == ["_INBOX_monitor-config.>"]


def test_only_the_api_deployer_and_policy_publish_intents():
    publishers = {name for name in SERVICES if s.APP_UPDATED in service_permissions(name)["publish"]["allow"]}
    assert publishers == {"api", "deployer", "policy"}


def test_the_config_holds_hashes_and_refuses_users_without_permissions():
    config = json.loads(render_config({"api": "$2b$10$hash", "client": "$2b$10$other", "tester": "$2b$x"}, ("tester",)))
    users = {u["user"]: u for u in config["authorization"]["users"]}
    assert users["api"]["password"] == "$2b$10$hash" and "permissions" in users["api"]
    assert "permissions" not in users["tester"]
    with pytest.raises(ValueError, match="no permissions"):
        render_config({"stranger": "$2b$x"})


def test_no_service_may_delete_redefine_or_pull_from_anothers_durable_consumer():
    api = service_permissions("api")["publish"]
    # The API's watchers (GET /events) may make and delete consumers of their own on the
    # events stream; that right would cover the services' durables, so they are denied.
    assert allowed(api["allow"], "$JS.API.CONSUMER.DELETE.CRANE_EVENTS.deployer")
    for durable in ("deployer", "policy", "monitor-config"):
        assert allowed(api["deny"], f"$JS.API.CONSUMER.DELETE.CRANE_EVENTS.{durable}")
        assert allowed(api["deny"], f"$JS.API.CONSUMER.CREATE.CRANE_EVENTS.{durable}.>")
    policy = service_permissions("policy")["publish"]
    assert allowed(policy["deny"], "$JS.API.CONSUMER.MSG.NEXT.CRANE_EVENTS.deployer")
    assert not allowed(policy["deny"], "$JS.API.CONSUMER.MSG.NEXT.CRANE_EVENTS.policy")  # its own
