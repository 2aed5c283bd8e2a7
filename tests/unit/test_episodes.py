"""An alert's episode as the policy follows it (episodes.py): every transition, pure."""

from crane_policy.episodes import NOTHING, Episodes, Firing, Step

WEB = ("shop-1", "web")


def test_a_load_alert_fires_is_evaluated_at_each_resend_and_ends_when_it_resolves():
    episodes = Episodes()
    assert episodes.state(WEB) == "quiet"
    assert episodes.on_alert("CraneHighLoad", WEB, True, "chain-a", "fp-t0") == Step(evaluate=WEB)
    assert episodes.state(WEB) == "firing CraneHighLoad" and episodes.due() == [
        (WEB, Firing("CraneHighLoad", "chain-a"))
    ]
    assert episodes.on_alert("CraneHighLoad", WEB, True, "chain-b", "fp-t0") == Step(evaluate=WEB)  # a resend
    assert episodes.on_alert("CraneHighLoad", WEB, False, "chain-c", "fp-t0") == NOTHING
    assert episodes.state(WEB) == "quiet" and episodes.due() == []


def test_low_load_begins_the_window_once_and_another_alerts_resolution_leaves_it_firing():
    episodes = Episodes()
    episodes.on_alert("CraneHighLoad", WEB, True, "a", "high-t0")
    began = episodes.on_alert("CraneLowLoad", WEB, True, "b", "low-t1")
    assert began == Step(evaluate=WEB, low_load_began=True) and episodes.state(WEB) == "firing CraneLowLoad"
    assert episodes.on_alert("CraneLowLoad", WEB, True, "c", "low-t1") == Step(evaluate=WEB)  # not again
    assert episodes.on_alert("CraneHighLoad", WEB, False, "d", "high-t0") == NOTHING  # the old alert's end
    assert episodes.state(WEB) == "firing CraneLowLoad"
    assert episodes.due() == [(WEB, Firing("CraneLowLoad", "c"))]  # ticks follow the latest chain


def test_a_service_with_nothing_left_to_decide_goes_quiet():
    episodes = Episodes()
    episodes.on_alert("CraneLowLoad", WEB, True, "a", "e")
    episodes.ended(WEB)
    assert episodes.state(WEB) == "quiet" and episodes.due() == []


def test_a_restart_episode_is_acted_on_once_and_forgotten_when_it_resolves():
    episodes = Episodes()
    assert episodes.on_alert("CraneReplicasDown", WEB, True, "a", "fp-t0") == Step(evaluate=("shop-1", None))
    for _ in range(3):  # Alertmanager repeats it
        assert episodes.on_alert("CraneReplicasDown", WEB, True, "b", "fp-t0") == NOTHING
    assert episodes.on_alert("CraneReplicasDown", WEB, False, "c", "fp-t0") == NOTHING
    assert episodes.acted == set()  # what it remembers is bounded by what fires
    assert episodes.on_alert("CraneReplicasDown", WEB, True, "d", "fp-t9").evaluate == ("shop-1", None)  # a new one
    assert episodes.due() == []  # a restart is no load: nothing to converge


def test_informational_alerts_change_nothing():
    episodes = Episodes()
    assert episodes.on_alert("CraneHighErrorRate", WEB, True, "a", "e") == NOTHING
    assert episodes.state(WEB) == "quiet"
