# Rego unit tests of admission.rego, run by `make test` (tests/unit/test_rego_policies.py).
package crane.admission

svc := {"name": "web", "image": "i", "privileged": false, "network_mode": null, "pid": null, "ipc": null, "cap_add": [], "volumes": []}

nothing := {"replicas": 0, "cpus": 0, "memory_mb": 0}

ask(service) := {
	"user": {"id": "u-1", "email": "a@b.c", "role": "user"}, "quota": null,
	"spec": {"name": "shop", "services": [object.union(svc, service)]},
	"request": {"replicas": 1, "cpus": 0.5, "memory_mb": 256}, "usage": nothing,
}

test_a_plain_app_is_admitted if {
	d := decide(ask({}))
	d.allowed
	count(d.reasons) == 0
}

test_privileged_is_refused_naming_the_field if {
	d := decide(ask({"privileged": true}))
	not d.allowed
	d.reasons == ["services.web.privileged: privileged containers are not allowed"]
}

test_host_namespaces_are_refused if {
	d := decide(ask({"network_mode": "host", "pid": "host", "ipc": "host"}))
	count(d.reasons) == 3
}

test_private_ipc_is_fine if {
	decide(ask({"ipc": "private", "network_mode": "bridge"})).allowed
}

test_the_docker_socket_is_refused if {
	d := decide(ask({"volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}))
	contains(d.reasons[0], "Docker socket")
}

test_named_volumes_are_fine_host_paths_are_not if {
	decide(ask({"volumes": ["data:/data"]})).allowed
	not decide(ask({"volumes": ["/etc:/host-etc:ro"]})).allowed
}

test_allowed_host_paths_cover_what_is_under_them if {
	host_path_allowed("/srv/shared") with allowed_host_paths as ["/srv/shared"]
	host_path_allowed("/srv/shared/x") with allowed_host_paths as ["/srv/shared/"]
	not host_path_allowed("/srv/shared-other") with allowed_host_paths as ["/srv/shared"]
}

test_capabilities_outside_the_allow_list_are_refused if {
	decide(ask({"cap_add": ["NET_BIND_SERVICE"]})).allowed
	d := decide(ask({"cap_add": ["SYS_ADMIN"]}))
	contains(d.reasons[0], "services.web.cap_add: SYS_ADMIN")
}

test_quota_counts_the_other_apps if {
	inp := object.union(ask({}), {"request": {"replicas": 5, "cpus": 1, "memory_mb": 100}, "usage": {"replicas": 16, "cpus": 0, "memory_mb": 0}})
	d := decide(inp)
	d.reasons == ["quota.replicas: this app needs up to 5 and your other apps 16, above your quota of 20"]
}

test_a_users_own_quota_replaces_the_default if {
	inp := object.union(ask({}), {"quota": {"replicas": 100, "cpus": 100, "memory_mb": 100000}, "request": {"replicas": 50, "cpus": 1, "memory_mb": 1}})
	decide(inp).allowed
}

test_hardening_is_off_by_default if {
	decide(ask({"read_only": false, "user": null})).allowed
}

test_an_admin_may_require_read_only_and_non_root if {
	d := decide(ask({"read_only": false, "user": "0:0"})) with require_read_only as true with require_non_root as true
	d.reasons == [
		"services.web.read_only: this suite runs services read-only only (read_only: true)",
		"services.web.user: this suite runs services as a non-root user only (user: 1000)",
	]
	decide(ask({"read_only": true, "user": "1000"})).allowed with require_read_only as true with require_non_root as true
	not decide(ask({"read_only": true, "user": "root"})).allowed with require_non_root as true
	not decide(ask({"read_only": true})).allowed with require_non_root as true
}

test_a_build_may_ask_for_a_network_unless_the_admin_refuses_it if {
	networked := {"build": {"context": "c", "dockerfile": "Dockerfile", "network": "default"}}
	decide(ask(networked)).allowed
	d := decide(ask(networked)) with allow_build_network as false
	d.reasons == ["services.web.build.network: builds in this suite have no network (network: none)"]
	decide(ask({"build": {"context": "c", "network": "none"}})).allowed with allow_build_network as false
	decide(ask({})).allowed with allow_build_network as false
}

test_networks_count_against_the_quota_like_replicas if {
	many := object.union(ask({}), {"request": {"replicas": 1, "cpus": 0.5, "memory_mb": 256, "networks": 11}, "usage": {"replicas": 0, "cpus": 0, "memory_mb": 0, "networks": 20}})
	d := decide(many)
	d.reasons == ["quota.networks: this app needs up to 11 and your other apps 20, above your quota of 24"]
	own := object.union(many, {"quota": {"replicas": 20, "cpus": 8, "memory_mb": 8192, "networks": 40}})
	decide(own).allowed
	no_networks_set := object.union(many, {"quota": {"replicas": 20, "cpus": 8, "memory_mb": 8192}})
	not decide(no_networks_set).allowed
}
