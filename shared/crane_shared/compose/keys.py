"""What CRANE does with each key of a Compose file: honour it, accept it with a warning that
says why, or refuse it. One table, read by the importer and printed in the README, so nothing
is ever dropped silently.
"""

from __future__ import annotations

# Service keys CRANE runs as Compose would (the app model has a field for each). ``build``
# needs the service's context uploaded with the file (multipart part build.<service>).
HONOURED_SERVICE_KEYS = {
    "build", "depends_on", "restart", "secrets", "configs", "networks",
    "image", "command", "entrypoint", "environment", "ports", "expose", "volumes", "labels", "healthcheck",
    "deploy", "user", "working_dir", "hostname", "stop_signal", "stop_grace_period", "init", "read_only",
    "tmpfs", "security_opt", "cap_drop",
    # Privileges: read into the spec, then judged by the admission policy (refused by default).
    "cap_add", "privileged", "network_mode", "pid", "ipc",
}  # fmt: skip

# Accepted, not applied: the warning says why.
WARNED_SERVICE_KEYS = {
    "container_name": "CRANE names each replica itself (<suite>-<app>-<service>-<n>)",
    "links": "services reach each other by service name on the app's network",
    "logging": "CRANE keeps each replica's log with the Engine's default driver",
    "stdin_open": "replicas run without a terminal",
    "tty": "replicas run without a terminal",
    "pull_policy": "CRANE uses a local image and pulls a missing one",
    "platform": "images run on the Engine's own platform",
    "extra_hosts": "not applied yet",
    "dns": "not applied yet",
    "dns_search": "not applied yet",
    "domainname": "not applied yet",
    "ulimits": "CRANE's own limits apply",
    "shm_size": "the Engine's default size applies",
    "sysctls": "not applied",
    "mem_limit": "use deploy.resources.limits.memory",
    "cpus": "use deploy.resources.limits.cpus",
    "scale": "use deploy.replicas",
}

# Refused with a 422 naming the key: honouring it is unsafe or not possible yet.
REFUSED_SERVICE_KEYS = {
    # Docker Compose merges these before CRANE reads the file (normalising.py); a file read
    # without Compose cannot have them.
    "env_file": "read by Docker Compose from the upload's env_file.<path> parts",
    "extends": "read by Docker Compose; upload the file through the API",
    "devices": "host devices are not given to apps",
    "volumes_from": "a service cannot mount another container's volumes",
    "external_links": "apps cannot reach containers outside themselves",
    "userns_mode": "user namespaces are the Engine's",
    "cgroup_parent": "cgroups are the Engine's",
    "cgroup": "cgroups are the Engine's",
    "group_add": "not supported",
    "isolation": "not supported",
    "runtime": "the Engine's default runtime runs every replica",
    "uts": "host namespaces are not given to apps",
    "oom_kill_disable": "not supported",
}

BUILD_HONOURED = {"context", "dockerfile", "args", "target", "network"}
BUILD_WARNED = {
    "cache_from": "the Engine's own build cache is used",
    "cache_to": "the Engine's own build cache is used",
    "labels": "images CRANE builds carry its own labels",
    "tags": "CRANE tags the image by its context's content",
    "platforms": "images are built for the Engine's platform",
    "no_cache": "an unchanged context is never rebuilt",
    "pull": "base images are pulled when missing",
    "shm_size": "the Engine's default applies",
    "extra_hosts": "not applied to builds",
    "secrets": "build secrets cannot be uploaded yet",
    "ssh": "SSH agents are not forwarded to builds",
    "dockerfile_inline": "put the Dockerfile in the uploaded context",
}

DEPLOY_HONOURED = {"replicas", "resources", "mode"}
DEPLOY_WARNED = {
    "restart_policy": "CRANE replaces every replica that exits, with a back-off",
    "update_config": "CRANE replaces changed replicas slot by slot",
    "rollback_config": "not applied",
    "placement": "one Engine runs every replica",
    "labels": "service labels go on each replica; deploy labels are not applied",
    "endpoint_mode": "CRANE balances through its router",
}
RESOURCES_HONOURED = {"limits"}
RESOURCES_WARNED = {"reservations": "reservations are not enforced by CRANE (limits are)"}
LIMITS_KEYS = {"cpus", "memory", "pids"}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}

# secrets and configs: each file's content is uploaded with the compose file (multipart parts
# secret.<name>, config.<name>), or given inline (a config's content).
TOP_LEVEL_HONOURED = {"name", "services", "volumes", "networks", "secrets", "configs", "x-crane"}
NETWORK_HONOURED = {"internal", "driver"}  # driver: bridge only
SERVICE_NETWORK_HONOURED = {"aliases"}
TOP_LEVEL_WARNED = {
    "version": "obsolete in the Compose specification, ignored",
}
TOP_LEVEL_REFUSED = {
    "include": "a file cannot include others",
}

# CRANE's own settings: x-crane at the top (the app) and in each service.
APP_SETTINGS = {"name", "replicas", "min_scale", "max_scale", "autoscaling"}
SERVICE_SETTINGS = {"http_port", "min_scale", "max_scale", "autoscaling", "volume_scaling"}
