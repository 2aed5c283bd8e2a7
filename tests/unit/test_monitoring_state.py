"""What the alerts and decisions buckets hold (pure)."""

from crane_shared import subjects as s
from crane_shared.event_examples import EXAMPLES
from crane_shared.events import PolicyDecision
from crane_shared.monitoring_state import KEPT_DECISIONS, AlertState, AppDecisions


def test_an_apps_decisions_keep_the_latest_and_read_back_as_they_were_written():
    decision = PolicyDecision.model_validate(EXAMPLES[s.POLICY_DECISION])
    kept = AppDecisions([])
    for n in range(KEPT_DECISIONS + 5):
        kept = kept.adding(decision.model_copy(update={"desired_replicas": n}))
    assert len(kept.root) == KEPT_DECISIONS and kept.root[-1].desired_replicas == KEPT_DECISIONS + 4
    assert AppDecisions.model_validate_json(kept.model_dump_json()) == kept


def test_a_repeated_notification_is_the_same_state_and_a_new_episode_is_not():
    firing = AlertState(status="firing", starts_at="2026-11-28T10:00:00+00:00", alertname="CraneHighLoad")
    written_before = '{"status": "firing", "starts_at": "2026-11-28T10:00:00+00:00", "app_id": "shop-7", "x": 1}'
    assert AlertState.model_validate_json(written_before).same_episode_state(firing)
    assert not firing.same_episode_state(firing.model_copy(update={"status": "resolved"}))
    assert not firing.same_episode_state(firing.model_copy(update={"starts_at": "2026-11-28T11:00:00+00:00"}))
