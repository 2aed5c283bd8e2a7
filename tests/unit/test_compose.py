"""Compose files into apps: per-service scale, interpolation, and every key honoured, warned
about or refused naming the field."""

import pytest

from crane_shared.compose import ComposeError, parse_compose
from crane_shared.compose.interpolation import InterpolationError, interpolate
from crane_shared.servicespec import AppNetwork

GOOD = """
name: shop
x-crane: {replicas: 3, max_scale: 5}
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    environment: [MODE=demo]
    healthcheck: {test: ["CMD", "true"], interval: 5s}
    deploy: {resources: {limits: {cpus: "0.5", memory: 128m}}}
    x-crane: {http_port: 80}
  cache:
    image: redis:7
"""


def test_a_compose_file_becomes_an_app():
    spec = parse_compose(GOOD).spec
    assert spec.name == "shop" and spec.replicas == 3 and spec.max_scale == 5
    # The app-level settings are the primary (routed) service's; cache keeps Compose's default.
    assert [(s.name, s.replicas) for s in spec.services] == [("web", 3), ("cache", 1)]
    web = spec.services[0]
    assert web.environment == {"MODE": "demo"} and web.routed_port == 80
    assert web.resources.cpus == 0.5 and web.healthcheck.interval == "5s"


def test_deploy_replicas_is_used_when_x_crane_says_nothing():
    spec = parse_compose("name: a\nservices:\n  w:\n    image: i\n    deploy: {replicas: 2}\n").spec
    assert spec.replicas == 2


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("name: a\nservices:\n  w: {image: i, network_mode: 'container:x'}\n", ("services", "w", "network_mode")),
        ("name: a\nservices:\n  w: {image: i, devices: ['/dev/mem']}\n", ("services", "w", "devices")),
        ("name: a\nservices:\n  w: {image: i, secrets: [s]}\nsecrets: {s: {file: ./s.txt}}\n", ("secrets", "s")),
        ("name: a\nservices:\n  w: {image: i}\nsecrets: {s: {environment: TOKEN}}\n", ("secrets", "s")),
        ("name: a\nservices:\n  w: {image: i}\nconfigs: {c: {external: true}}\n", ("configs", "c", "external")),
        ("name: a\nservices:\n  w: {image: i, env_file: .env}\n", ("services", "w", "env_file")),
        ("name: a\nservices:\n  w: {build: .}\n", ("services", "w", "build")),
        ("name: a\nservices:\n  w: {image: i, colour: blue}\n", ("services", "w", "colour")),
        ("name: a\nservices:\n  w: {image: i}\nvolumes: {d: {external: true}}\n", ("volumes", "d", "external")),
        ("name: a\nservices:\n  w: {image: '${TAG:?set a tag}'}\n", ("services", "w", "image")),
        ("name: a\nservices:\n  w: {image: i, user: 'root; rm'}\n", ("services", "w", "user")),
        ("name: a\nservices:\n  w: {image: i, deploy: {mode: global}}\n", ("services", "w", "deploy", "mode")),
        ("name: a\nservices:\n  w: {image: 3, ports: [notaport]}\n", ("services", "w", "ports")),
        ("name: a\nservices:\n  w: {command: x}\n", ("services", "w")),  # "image: ... needs an image"
        ("name: a\nx-crane: {replicas: 99}\nservices:\n  w: {image: i}\n", ("x-crane", "replicas")),
        ("services:\n  w: {image: i}\n", ("x-crane", "name")),
        ("name: a\nservices: []\n", ("services",)),
        (": : :", ()),
    ],
)
def test_refusals_name_the_field(text, path):
    with pytest.raises(ComposeError) as error:
        parse_compose(text)
    assert path in [loc[: len(path)] for loc, _ in error.value.problems], error.value.problems


def test_autoscaling_settings_come_from_x_crane():
    spec = parse_compose(
        "name: a\nx-crane: {autoscaling: {metric: cpu, target: 60, scale_down_stabilization: 120}}\n"
        "services:\n  w: {image: i}\n"
    ).spec
    assert spec.autoscaling.metric == "cpu" and spec.autoscaling.target == 60
    with pytest.raises(ComposeError) as error:
        parse_compose("name: a\nx-crane: {autoscaling: {metric: vibes}}\nservices:\n  w: {image: i}\n")
    assert ("x-crane", "autoscaling", "metric") in [loc for loc, _ in error.value.problems]


def test_privileges_are_read_for_the_admission_policy_to_judge():
    text = "name: a\nservices:\n  w: {image: i, privileged: true, pid: host, cap_add: [NET_ADMIN], volumes: ['/srv:/s:ro']}\n"
    service = parse_compose(text).spec.services[0]
    assert service.privileged and service.pid == "host" and service.cap_add == ["NET_ADMIN"]
    assert service.host_paths == ["/srv"]


REAL_WORLD = """
name: shop
version: "3.8"
x-common: &common
  restart: unless-stopped
  labels: [tier=demo]
services:
  web:
    <<: *common
    image: ${WEB_IMAGE:-nginx:1.27}
    container_name: shop-web
    ports: ["${WEB_PORT:-8080}:80"]
    depends_on: {api: {condition: service_started, restart: true}, db: {condition: service_healthy}}
    networks: [front]
    deploy: {replicas: 3}
  api:
    <<: *common
    image: shop/api:1
    command: ["sh", "-c", "echo $$HOME"]
    environment: {DB_URL: "postgres://db/shop", EMPTY: "${NOT_SET}"}
    restart: on-failure
    user: "1000:1000"
    working_dir: /srv
    read_only: true
    tmpfs: /tmp
    init: true
    stop_grace_period: 20s
    x-team: payments
  db:
    image: postgres:16
    volumes: ["pg:/var/lib/postgresql/data"]
    healthcheck: {test: ["CMD", "pg_isready"], interval: 2s}
    deploy: {resources: {limits: {memory: 512m}, reservations: {memory: 256m}}}
  debug:
    image: busybox
    profiles: [debug]
volumes:
  pg: {}
networks:
  front: {}
"""


def test_a_real_world_file_runs_with_every_ignored_key_named():
    app = parse_compose(REAL_WORLD)
    services = {s.name: s for s in app.spec.services}
    assert set(services) == {"web", "api", "db"}  # debug has a profile: not started, as Compose does
    assert (services["web"].replicas, services["api"].replicas, services["db"].replicas) == (3, 1, 1)
    assert services["web"].image == "nginx:1.27" and services["web"].ports == ["8080:80"]
    api = services["api"]
    assert api.command == ["sh", "-c", "echo $HOME"] and api.environment["EMPTY"] == ""
    assert (api.user, api.working_dir, api.read_only, api.tmpfs, api.init) == (
        "1000:1000",
        "/srv",
        True,
        ["/tmp"],
        True,
    )
    assert api.labels == {"tier": "demo"} and api.restart == "on-failure" and services["db"].restart == "always"
    needs = services["web"].depends_on
    assert (needs["api"].condition, needs["db"].condition) == ("service_started", "service_healthy")
    assert services["web"].network_names == ["front"] and services["api"].network_names == ["default"]
    assert app.spec.networks == {"front": AppNetwork()}
    warned = {w.split(":")[0] for w in app.warnings}
    assert {
        "version",
        "services.web.container_name",
        "services.web.depends_on.api.restart",
        "services.api.x-team",
        "services.db.deploy.resources.reservations",
        "services.debug.profiles",
        "variables",
    } == warned, app.warnings
    assert any("NOT_SET" in w for w in app.warnings)


def test_a_replicated_database_in_the_file_is_honoured_with_a_warning():
    text = "name: a\nservices:\n  db: {image: pg, volumes: ['d:/data'], deploy: {replicas: 2}}\n"
    app = parse_compose(text)
    assert app.spec.services[0].replicas == 2 and app.spec.scale_warnings()


def test_autoscaling_a_service_over_its_only_volume_is_refused_unless_it_opts_in():
    text = "name: a\nservices:\n  db: {image: pg, volumes: ['d:/data'], x-crane: {autoscaling: {metric: cpu}}}\n"
    with pytest.raises(ComposeError) as error:
        parse_compose(text)
    assert "volume_scaling" in str(error.value)
    opted = text.replace("{metric: cpu}", "{metric: cpu}, volume_scaling: per_replica")
    assert parse_compose(opted).spec.services[0].autoscaling.enabled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$$", "$"),
        ("a$${B}c", "a${B}c"),
        ("${A}", "1"),
        ("$A-x", "1-x"),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}/${EMPTY-d}", "d/"),
        ("${UNSET:-${A}}", "1"),
        ("${A:+yes}${UNSET:+no}", "yes"),
    ],
)
def test_interpolation_reads_as_compose_does(text, expected):
    assert interpolate(text, {"A": "1", "EMPTY": ""}, set()) == expected


@pytest.mark.parametrize("text", ["${", "${1}", "$ x", "${A:?needed}"])
def test_bad_interpolation_is_an_error(text):
    with pytest.raises(InterpolationError):
        interpolate(text, {}, set())


def test_a_yaml_alias_bomb_and_deep_nesting_are_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefg":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
    bomb += "name: x\nservices:\n  w: {image: i, labels: {k: v}}\n"
    with pytest.raises(ComposeError, match="too large or too deep"):
        parse_compose(bomb)
    deep = "name: x\nservices:\n  w: {image: i, x-deep: " + "[" * 200 + "]" * 200 + "}\n"
    with pytest.raises(ComposeError):
        parse_compose(deep)


DIGEST = "ab" * 32


def test_build_takes_the_uploaded_context_with_dockerfile_args_and_target():
    text = (
        "name: a\nservices:\n  web:\n    build: {context: ./web, dockerfile: docker/Dockerfile.prod, "
        "args: [MODE=prod, EMPTY], target: final, cache_from: [x]}\n"
    )
    app = parse_compose(text, contexts={"web": DIGEST})
    build = app.spec.services[0].build
    assert (build.context, build.dockerfile, build.args, build.target) == (
        DIGEST,
        "docker/Dockerfile.prod",
        {"MODE": "prod", "EMPTY": ""},
        "final",
    )
    assert app.spec.services[0].image is None
    assert [w.split(":")[0] for w in app.warnings] == ["services.web.build.cache_from"]


@pytest.mark.parametrize(
    ("text", "contexts", "path"),
    [
        ("name: a\nservices:\n  web: {build: .}\n", {}, ("services", "web", "build")),
        ("name: a\nservices:\n  web: {image: i}\n", {"web": DIGEST}, ("build.web",)),
        ("name: a\nservices:\n  web: {build: ., image: i}\n", {"db": DIGEST}, ("build.db",)),
        (
            "name: a\nservices:\n  web: {build: {context: ., dockerfile: ../../Dockerfile}}\n",
            {"web": DIGEST},
            ("services", "web", "build", "dockerfile"),
        ),
    ],
)
def test_builds_without_their_context_or_with_stray_contexts_are_refused(text, contexts, path):
    with pytest.raises(ComposeError) as error:
        parse_compose(text, contexts=contexts)
    assert path in [loc[: len(path)] for loc, _ in error.value.problems], error.value.problems


def test_build_options_crane_cannot_apply_are_warned_about():
    app = parse_compose("name: a\nservices:\n  web: {build: {context: ., ssh: [default]}}\n", contexts={"web": DIGEST})
    assert [w.split(":")[0] for w in app.warnings] == ["services.web.build.ssh"]
    with_image = parse_compose("name: a\nservices:\n  web: {build: ., image: i}\n")
    assert with_image.spec.services[0].image == "i" and "build.web" in with_image.warnings[0]


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ("  a: {image: i, depends_on: [b]}\n  b: {image: i, depends_on: [a]}\n", "cycle"),
        ("  a: {image: i, depends_on: [nope]}\n", "not another service"),
        ("  a: {image: i, depends_on: {b: {condition: service_healthy}}}\n  b: {image: i}\n", "healthcheck"),
        ("  a: {image: i, restart: sometimes}\n", "restart"),
    ],
)
def test_dependencies_and_restart_policies_are_checked(services, message):
    with pytest.raises(ComposeError, match=message):
        parse_compose("name: x\nservices:\n" + services)


def test_an_unquoted_restart_no_means_no():
    assert parse_compose("name: x\nservices:\n  job: {image: i, restart: no}\n").spec.services[0].restart == "no"


def test_secrets_and_configs_are_uploaded_or_inline_and_only_their_ids_are_in_the_spec():
    text = """
name: a
services:
  db:
    image: pg
    secrets: [db_password, {source: api_key, target: keys/api, mode: 0400, uid: "70"}]
    configs: [{source: pg_conf, target: /etc/pg.conf}, motd]
secrets:
  db_password: {file: ./db_password.txt}
  api_key: {file: ./api.key}
configs:
  pg_conf: {file: ./pg.conf}
  motd: {content: "hello $$USER"}
"""
    uploaded = {
        "secret.db_password": "f-" + "1" * 32,
        "secret.api_key": "f-" + "2" * 32,
        "config.pg_conf": "f-" + "3" * 32,
    }
    app = parse_compose(text, files=uploaded)
    db = app.spec.services[0]
    paths = {path: (file_id, mount.mode) for path, file_id, mount in app.spec.files_of(db)}
    motd_id = app.spec.configs["motd"]
    assert paths == {
        "/run/secrets/db_password": ("f-" + "1" * 32, None),
        "/run/secrets/keys/api": ("f-" + "2" * 32, 0o400),
        "/etc/pg.conf": ("f-" + "3" * 32, None),
        "/motd": (motd_id, None),
    }
    assert app.inline_files == {motd_id: b"hello $USER"}
    assert "hello" not in app.spec.model_dump_json()  # contents never ride in the spec
    with pytest.raises(ComposeError, match="declares no secret"):
        parse_compose(text, files={**uploaded, "secret.stray": "f-" + "4" * 32})
    with pytest.raises(ComposeError, match="no secret 'nope' was uploaded"):
        parse_compose("name: a\nservices:\n  w: {image: i, secrets: [nope]}\n")


def test_volumes_in_short_and_long_syntax_and_relative_binds_as_app_volumes():
    text = """
name: x
services:
  w:
    image: i
    tmpfs: /run
    volumes:
      - ./src:/app
      - data:/var/data:ro
      - {type: bind, source: ./conf, target: /etc/conf, read_only: true}
      - {type: tmpfs, target: /cache}
      - {type: volume, source: pg, target: /pg, volume: {nocopy: true}}
      - /srv/shared:/shared:ro
"""
    app = parse_compose(text)
    service = app.spec.services[0]
    assert service.volumes == [
        "bind-src:/app",
        "data:/var/data:ro",
        "bind-conf:/etc/conf:ro",
        "pg:/pg",
        "/srv/shared:/shared:ro",
    ]
    assert service.tmpfs == ["/run", "/cache"] and service.host_paths == ["/srv/shared"]
    assert [w.split(":")[0] for w in app.warnings] == [
        "services.w.volumes.0",
        "services.w.volumes.2",
        "services.w.volumes.4",
    ]
    for outside in ("../secrets:/s", "~/.ssh:/s"):
        with pytest.raises(ComposeError, match="outside the project"):
            parse_compose(f"name: x\nservices:\n  w: {{image: i, volumes: ['{outside}']}}\n")


def test_an_apps_own_networks_with_aliases_and_internal():
    text = """
name: x
services:
  web: {image: i, ports: ["80"], networks: [front]}
  api:
    image: i
    networks:
      front: {aliases: [backend], ipv4_address: 10.0.0.9}
      back:
  db: {image: i, networks: [back]}
networks:
  front: {}
  back: {internal: true, driver_opts: {x: y}}
"""
    app = parse_compose(text)
    api = app.spec.services[1]
    assert api.network_names == ["front", "back"] and api.networks["front"].aliases == ["backend"]
    assert app.spec.networks["back"].internal and app.spec.used_networks == ["back", "front"]
    assert [w.split(":")[0] for w in app.warnings] == ["services.api.networks.front", "networks.back"]
    for bad, path in (
        ("networks: {x: {external: true}}\n", ("networks", "x", "external")),
        ("networks: {x: {driver: overlay}}\n", ("networks", "x", "driver")),
    ):
        with pytest.raises(ComposeError) as error:
            parse_compose("name: x\nservices:\n  w: {image: i}\n" + bad)
        assert path in [loc for loc, _ in error.value.problems]
    with pytest.raises(ComposeError, match="no network 'nope'"):
        parse_compose("name: x\nservices:\n  w: {image: i, networks: [nope]}\n")


def test_uploaded_folders_seed_the_volumes_their_binds_become():
    text = "name: x\nservices:\n  w: {image: i, volumes: ['./src:/app', './conf/:/etc/conf:ro', './empty:/e']}\n"
    app = parse_compose(text, binds={"src": "ab" * 32, "./conf": "cd" * 32})
    assert app.spec.seeds == {"bind-src": "ab" * 32, "bind-conf": "cd" * 32}
    assert [w.split(":")[0] for w in app.warnings] == ["services.w.volumes.2"]  # ./empty starts empty
    with pytest.raises(ComposeError) as error:
        parse_compose(text, binds={"nowhere": "ab" * 32})
    assert ("bind.nowhere",) in [loc for loc, _ in error.value.problems]
