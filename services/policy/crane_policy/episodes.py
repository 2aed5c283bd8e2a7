"""An alert's episode, as the policy follows it: an explicit state machine (pure).

A load alert (CraneHighLoad, CraneLowLoad) is about one service of an app. Its episode:

    quiet --an alert fires-----------------> firing(alert, chain)    evaluate now
    firing --it fires again (a resend)-----> firing                  evaluate now
    firing --the other load alert fires----> firing(other, chain)    evaluate now
    firing --tick---------------------------> firing                  evaluate again
    firing --its own alert resolves--------> quiet
    firing --the service is gone or stopped-> quiet                   (ended)

While it fires, the service is evaluated at once and at every tick, so a sustained load takes it
all the way rather than one step per notification. When CraneLowLoad begins (from quiet or from
CraneHighLoad) the stabilization window starts with the replicas of now, so scale-down waits
until the load has stayed low for the whole window. Cooling down and stabilizing are the Rego
policy's to say; they show in each policy.decision's reason.

A restart alert (CraneReplicasDown) is about an app. Each episode (the alert's fingerprint and
start) is acted on once, whatever Alertmanager repeats:

    new --fires--> acted (evaluate now) --fires again--> acted (nothing) --resolves--> forgotten
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crane_shared.alert_names import LOAD_ALERTS, LOW_LOAD, RESTART_ALERTS

Target = tuple[str, str | None]  # (app id, service; None: the app's primary service)


@dataclass(frozen=True)
class Firing:
    """A load alert that fires for a service, and the causal chain its notification began."""

    alert: str
    chain: str


@dataclass(frozen=True)
class Step:
    """What to do about an alert: the target to evaluate now (None: nothing), and whether low
    load just began (the stabilization window starts with the replicas of now)."""

    evaluate: Target | None
    low_load_began: bool = False


NOTHING = Step(evaluate=None)


@dataclass
class Episodes:
    firing: dict[Target, Firing] = field(default_factory=dict)
    acted: set[str] = field(default_factory=set)  # restart episodes acted on, until resolved

    def on_alert(self, alert: str, target: Target, firing: bool, chain: str, episode: str) -> Step:
        """An alert about ``target`` fired or resolved (``episode``: its fingerprint and start,
        ``chain``: the causal chain its notification began): the transition, and what to do."""
        if alert in RESTART_ALERTS:
            if not firing:
                self.acted.discard(episode)
                return NOTHING
            if episode in self.acted:
                return NOTHING
            self.acted.add(episode)
            return Step(evaluate=(target[0], None))  # the app: its primary service decides
        if alert not in LOAD_ALERTS:
            return NOTHING  # informational (CraneHighErrorRate): nothing to decide
        current = self.firing.get(target)
        if firing:
            began_low = alert == LOW_LOAD and (current is None or current.alert != LOW_LOAD)
            self.firing[target] = Firing(alert, chain)
            return Step(evaluate=target, low_load_began=began_low)
        if current is not None and current.alert == alert:
            del self.firing[target]
        return NOTHING

    def due(self) -> list[tuple[Target, Firing]]:
        """What a tick evaluates again: every service with a load alert firing."""
        return list(self.firing.items())

    def ended(self, target: Target) -> None:
        """The target has nothing left to decide about (the app or service is gone, or stopped)."""
        self.firing.pop(target, None)

    def state(self, target: Target) -> str:
        firing = self.firing.get(target)
        return f"firing {firing.alert}" if firing else "quiet"
