"""Sample inputs shared by tests at several levels."""

# An input of data.crane.autoscale.decision: 2 replicas at 30 rps each against a target of 10.
SCALING_INPUT = {
    "alert": "CraneHighLoad",
    "metric": "rps",
    "value": 30,
    "target": 10,
    "tolerance": 0.1,
    "current": 2,
    "min": 1,
    "max": 10,
    "since_last_scale_up": None,
    "scale_up_cooldown": 3,
    "recent_recommendations": [],
}
