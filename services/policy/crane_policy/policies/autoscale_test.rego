# Rego unit tests of autoscale.rego, run by `make test` (tests/unit/test_rego_policies.py).
# They call decide(inp) rather than use `with input as`, which rego-cpp 1.5 does not survive.
package crane.autoscale

base := {
	"alert": "CraneHighLoad", "metric": "rps", "value": 20, "target": 20, "tolerance": 0.1,
	"current": 2, "min": 1, "max": 10, "since_last_scale_up": null, "scale_up_cooldown": 3,
	"recent_recommendations": [],
}

test_scale_up_follows_the_target_value_rule if {
	d := decide(object.union(base, {"value": 61}))
	d.action == "scale_up"
	d.desired == 7 # ceil(2 x 61 / 20)
}

test_scale_up_is_clamped_to_max if {
	d := decide(object.union(base, {"value": 500}))
	d.action == "scale_up"
	d.desired == 10
}

test_nothing_inside_the_tolerance_band if {
	d := decide(object.union(base, {"value": 21.5}))
	d.action == "none"
}

test_cooldown_blocks_a_second_scale_up if {
	d := decide(object.union(base, {"value": 61, "since_last_scale_up": 1}))
	d.action == "none"
	contains(d.reason, "cooldown")
}

test_at_max_no_action if {
	d := decide(object.union(base, {"value": 61, "current": 10}))
	d.action == "none"
}

test_scale_down_takes_the_highest_recommendation_of_the_window if {
	d := decide(object.union(base, {"value": 4, "current": 6, "recent_recommendations": [3, 2]}))
	d.action == "scale_down"
	d.desired == 3
}

test_scale_down_waits_while_the_window_still_wants_more if {
	d := decide(object.union(base, {"value": 4, "current": 6, "recent_recommendations": [6]}))
	d.action == "none"
	contains(d.reason, "stabilizing")
}

test_scale_down_never_below_min if {
	d := decide(object.union(base, {"value": 0, "current": 3, "min": 2}))
	d.action == "scale_down"
	d.desired == 2
}

test_replicas_down_restarts if {
	d := decide(object.union(base, {"alert": "CraneReplicasDown"}))
	d.action == "restart"
}
