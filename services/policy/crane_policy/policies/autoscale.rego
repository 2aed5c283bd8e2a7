# CRANE's default autoscaling policy: the target-value rule of Kubernetes' HPA and Nomad's
# autoscaler. desired = ceil(current x value / target), bounded to [min, max]; nothing happens
# inside the tolerance band; scale-up waits out a short cooldown; scale-down takes the highest
# recommendation of the stabilization window, so a brief dip never removes replicas.
#
# The entry point is `decision` (for `input`); `decide(inp)` is the same as a function, which
# the Rego unit tests call directly.
#
# input:
#   alert                   name of the alert that triggered the evaluation
#   metric, value, target   the scaling metric, its current value (per replica), the target
#   tolerance               0.1 = no action while value is within 10% of target
#   current, min, max       replicas now, and the app's bounds
#   since_last_scale_up     seconds since CRANE last scaled this app up (null: never)
#   scale_up_cooldown       seconds
#   recent_recommendations  raw recommendations made during the stabilization window
package crane.autoscale

decision := decide(input)

ratio(inp) := inp.value / inp.target

raw_desired(inp) := ceil(inp.current * ratio(inp))

bounded(inp, n) := inp.max if {
	n > inp.max
} else := inp.min if {
	n < inp.min
} else := n

stabilized(inp) := max(array.concat(inp.recent_recommendations, [raw_desired(inp)]))

cooling_down(inp) if {
	inp.since_last_scale_up != null
	inp.since_last_scale_up < inp.scale_up_cooldown
}

outcome(inp, action, desired, reason) := {
	"action": action,
	"desired": desired,
	"raw_desired": raw_desired(inp),
	"reason": reason,
}

decide(inp) := outcome(inp, "restart", inp.current, "replicas are down or failing their health check") if {
	inp.alert == "CraneReplicasDown"
} else := outcome(inp, "none", inp.current, reason) if {
	abs(ratio(inp) - 1) <= inp.tolerance
	reason := sprintf("%s %v is within %v%% of the target %v", [inp.metric, shown(inp.value), inp.tolerance * 100, inp.target])
} else := outcome(inp, "none", inp.current, sprintf("already at max_scale %v", [inp.max])) if {
	ratio(inp) > 1
	bounded(inp, raw_desired(inp)) <= inp.current
} else := outcome(inp, "none", inp.current, reason) if {
	ratio(inp) > 1
	cooling_down(inp)
	reason := sprintf("scale-up cooldown: %vs of %vs", [shown(inp.since_last_scale_up), inp.scale_up_cooldown])
} else := outcome(inp, "scale_up", bounded(inp, raw_desired(inp)), reason) if {
	ratio(inp) > 1
	reason := sprintf(
		"%s %v per replica is above the target %v: ceil(%v x %v / %v) = %v, bounded to %v",
		[inp.metric, shown(inp.value), inp.target, inp.current, shown(inp.value), inp.target, raw_desired(inp), bounded(inp, raw_desired(inp))],
	)
} else := outcome(inp, "none", inp.current, reason) if {
	bounded(inp, stabilized(inp)) >= inp.current
	reason := sprintf("stabilizing: the highest recommendation of the window is %v", [stabilized(inp)])
} else := outcome(inp, "scale_down", bounded(inp, stabilized(inp)), reason) if {
	reason := sprintf(
		"%s %v per replica is below the target %v for the whole stabilization window: %v replicas",
		[inp.metric, shown(inp.value), inp.target, bounded(inp, stabilized(inp))],
	)
}

# A measurement as people read it: two decimals at most (9.245 reads 9.24, not 9.244999999999999).
shown(x) := round(x * 100) / 100
