# CRANE's admission policy: every app spec is checked against it before it deploys (REST and
# direct NATS alike). It refuses, naming the field: privileged containers, host network/PID/IPC
# namespaces, host paths (the Docker socket above all) outside the admin's allow-list, added
# capabilities outside the allow-list, apps that would take a user over their quota, and (when
# the admin says so) builds that ask for a network.
#
# Admins change the allow-lists and the default quota by replacing this policy
# (PUT /api/v1/policies/admission); a user's own quota is set with PATCH /api/v1/users/{email}.
#
# input:
#   user      {email, role}
#   quota     the user's quota {replicas, cpus, memory_mb}, or null for default_quota
#   spec      the app spec, as in POST /api/v1/apps
#   request   the most this app can use: {replicas, cpus, memory_mb} over all its services at
#             max_scale when it autoscales, else at its replicas, and its networks
#   usage     the same sums over the user's other apps
package crane.admission

# Host directories apps may mount (a directory allows what is under it), e.g. ["/srv/shared"].
allowed_host_paths := []

# Capabilities apps may add beyond what CRANE leaves them.
allowed_capabilities := ["NET_BIND_SERVICE"]

# networks: each network an app declares takes a subnet of CRANE's address pool (512 by default).
default_quota := {"replicas": 20, "cpus": 8, "memory_mb": 8192, "networks": 24}

# Hardening an admin may require of every service: a read-only root filesystem (read_only: true;
# writable places come from volumes and tmpfs), and a user other than root (user: an id or name
# other than root/0; the image's own default user is not known here, so it must be given).
require_read_only := false

require_non_root := false

# Builds run with no network; a service may ask for the Engine's default network in its build
# (Compose's build.network: default) for steps that fetch. false refuses every such request.
allow_build_network := true

decision := decide(input)

decide(inp) := {"allowed": count(reasons) == 0, "reasons": reasons} if {
	reasons := array.concat(
		array.concat(privileged(inp), host_namespaces(inp)),
		array.concat(
			array.concat(host_paths(inp), capabilities(inp)),
			array.concat(over_quota(inp), array.concat(hardening(inp), build_network(inp))),
		),
	)
}

privileged(inp) := [msg |
	some svc in inp.spec.services
	svc.privileged == true
	msg := sprintf("services.%s.privileged: privileged containers are not allowed", [svc.name])
]

host_namespaces(inp) := [msg |
	some svc in inp.spec.services
	some key in ["network_mode", "pid", "ipc"]
	svc[key] == "host"
	msg := sprintf("services.%s.%s: the host's %s namespace is not allowed", [svc.name, key, key])
]

host_paths(inp) := [msg |
	some svc in inp.spec.services
	some volume in svc.volumes
	source := split(volume, ":")[0]
	startswith(source, "/")
	not host_path_allowed(source)
	msg := sprintf("services.%s.volumes: %s", [svc.name, host_path_problem(source)])
]

host_path_problem(source) := sprintf("%s is the Docker socket, which gives control of the host", [source]) if {
	endswith(source, "docker.sock")
} else := sprintf("host path %s is not in the admin's allow-list %v", [source, allowed_host_paths])

host_path_allowed(source) if {
	some allowed in allowed_host_paths
	source == allowed
}

host_path_allowed(source) if {
	some allowed in allowed_host_paths
	startswith(source, concat("", [trim_suffix(allowed, "/"), "/"]))
}

capabilities(inp) := [msg |
	some svc in inp.spec.services
	some cap in svc.cap_add
	not cap_allowed(cap)
	msg := sprintf("services.%s.cap_add: %s is not in the allow-list %v", [svc.name, cap, allowed_capabilities])
]

cap_allowed(cap) if {
	some allowed in allowed_capabilities
	cap == allowed
}

quota_of(inp) := inp.quota if {
	is_object(inp.quota)
} else := default_quota

over_quota(inp) := [msg |
	some key in ["replicas", "cpus", "memory_mb", "networks"]
	limit := object.get(quota_of(inp), key, default_quota[key])
	total := object.get(inp.usage, key, 0) + object.get(inp.request, key, 0)
	total > limit
	msg := sprintf(
		"quota.%s: this app needs up to %v and your other apps %v, above your quota of %v",
		[key, object.get(inp.request, key, 0), object.get(inp.usage, key, 0), limit],
	)
]

hardening(inp) := array.concat(not_read_only(inp), as_root(inp))

not_read_only(inp) := [msg |
	require_read_only
	some svc in inp.spec.services
	not svc.read_only
	msg := sprintf("services.%s.read_only: this suite runs services read-only only (read_only: true)", [svc.name])
]

as_root(inp) := [msg |
	require_non_root
	some svc in inp.spec.services
	runs_as_root(svc)
	msg := sprintf("services.%s.user: this suite runs services as a non-root user only (user: 1000)", [svc.name])
]

runs_as_root(svc) if not svc.user

runs_as_root(svc) if svc.user == null

runs_as_root(svc) if split(svc.user, ":")[0] in {"root", "0"}

build_network(inp) := [msg |
	not allow_build_network
	some svc in inp.spec.services
	svc.build.network == "default"
	msg := sprintf("services.%s.build.network: builds in this suite have no network (network: none)", [svc.name])
]
