"""Compose files read by Docker Compose itself (`docker compose config`) and then by CRANE:
what Compose resolves (anchors, extends, env_file, long forms, schema validation) comes out
the way Compose reads it, and a file can never make Compose read a file outside its upload.

These run the real docker-compose binary that `make deps` installs (no daemon is needed)."""

import pytest
import yaml

from crane_shared.compose import ComposeError, parse_compose
from crane_shared.compose.normalising import find_compose, normalise, upload_path

STACK = """
x-base: &base
  restart: unless-stopped
  environment: {SHARED: "1"}
services:
  web:
    <<: *base
    image: crane/hello:local
    command: sh -c "echo $$HOME ${GREETING:-hi}"
    ports: ["127.0.0.1:8080:80", {target: 9000, published: "9001", protocol: udp}]
    env_file: [conf/web.env, {path: optional.env, required: false}]
    healthcheck: {test: "wget -q localhost", interval: 1m30s}
    stop_grace_period: 1m
    x-crane: {min_scale: 1}
  base:
    image: crane/hello:local
    volumes: [data:/data, /cache]
  child:
    extends: base
    environment: {C: "3"}
  debug:
    image: crane/hello:local
    profiles: [debug]
volumes:
  data: {}
"""


def read(text, env_files=None, **uploads):
    normal = normalise(text, env_files)
    app = parse_compose(normal.text, default_name="shop", **uploads)
    app.warnings[:0] = normal.warnings
    return app


def test_compose_resolves_anchors_extends_env_files_and_long_forms():
    app = read(STACK, {"conf/web.env": b"FROM_FILE=yes\nSHARED=2\n"})
    web, base, child = (app.spec.service(name) for name in ("web", "base", "child"))
    assert [s.name for s in app.spec.services] == ["web", "base", "child"]  # the file's order, not Compose's
    assert app.spec.name == "shop"  # the file has no name: not Compose's scratch folder's
    assert web.restart == "unless-stopped"  # from the anchor
    assert web.environment == {"SHARED": "1", "FROM_FILE": "yes"}  # the service's own value wins
    assert web.command == ["sh", "-c", "echo $HOME hi"]  # $$ is a dollar sign, ${GREETING:-hi} its default
    assert web.ports == ["127.0.0.1:8080:80", "9001:9000/udp"]
    assert web.healthcheck is not None and web.healthcheck.interval == "1m30s"
    assert web.min_scale == 1  # a service's x-crane survives Compose
    assert child.volumes == base.volumes == ["data:/data", "anon-cache:/cache"]
    assert child.environment == {"C": "3"}
    assert any("debug" in w and "profiles" in w for w in app.warnings)
    assert not any("GREETING" in w for w in app.warnings)  # it has a default
    assert not any("name" in w and "not applied" in w for w in app.warnings)  # nothing Compose added


def test_compose_validates_against_the_specification_and_names_the_field():
    with pytest.raises(ComposeError) as error:
        normalise("services:\n  web: {image: x, imagee: y}\n")
    assert error.value.problems[0][0] == ("services", "web")
    assert "imagee" in error.value.problems[0][1] and "did you mean 'image'?" in error.value.problems[0][1]
    with pytest.raises(ComposeError) as error:
        normalise("services:\n  web: {image: x, enviroment: {A: b}}\nvolume: {}\n")
    problems = " ".join(message for _, message in error.value.problems)
    assert "did you mean 'environment'?" in problems or "did you mean 'volumes'?" in problems, problems
    with pytest.raises(ComposeError, match="undefined service"):
        normalise("services:\n  web: {image: x, depends_on: [db]}\n")
    with pytest.raises(ComposeError, match="need B"):
        normalise('services:\n  web: {image: x, environment: ["A=${B:?need B}"]}\n')


def test_unset_variables_and_compose_warnings_are_passed_on_without_scratch_paths():
    normal = normalise('version: "3"\nservices:\n  web: {image: x, command: "echo ${NOPE}"}\n')
    assert "variables: NOPE is not set; a blank string is used (as Compose does)" in normal.warnings
    assert any("version" in w for w in normal.warnings)
    assert not any("crane-compose-" in w for w in normal.warnings)


def test_an_uploaded_dotenv_gives_variables():
    normal = normalise("services:\n  web: {image: 'x:${TAG}'}\n", {".env": b"TAG=1.2\n"})
    assert "image: x:1.2" in normal.text and not normal.warnings


@pytest.mark.parametrize(
    ("text", "loc", "message"),
    [
        ("services:\n  w: {image: x, env_file: /proc/self/environ}\n", ("services", "w", "env_file", 0), "outside"),
        ("services:\n  w: {image: x, env_file: [../../etc/passwd]}\n", ("services", "w", "env_file", 0), "outside"),
        (
            "services:\n  w: {image: x, env_file: [{path: /etc/shadow, required: false}]}\n",
            ("services", "w", "env_file", 0),
            "outside",
        ),
        ("services:\n  w: {image: x, env_file: ['${HOME}/.env']}\n", ("services", "w", "env_file", 0), "variables"),
        ("services:\n  w: {image: x, env_file: [a.env]}\n", ("services", "w", "env_file", 0), "env_file.a.env"),
        (
            "services:\n  w: {image: x, extends: {file: /etc/compose.yaml, service: a}}\n",
            ("services", "w", "extends", "file"),
            "same file",
        ),
        ("include: [/etc/compose.yaml]\nservices:\n  w: {image: x}\n", ("include",), "include"),
        ("services:\n  w: {image: x, label_file: /etc/passwd}\n", ("services", "w", "label_file"), "labels"),
    ],
)
def test_a_file_cannot_make_compose_read_files_outside_its_upload(text, loc, message):
    with pytest.raises(ComposeError) as error:
        normalise(text)
    assert error.value.problems[0][0] == loc
    assert message in error.value.problems[0][1]


def test_an_env_file_nobody_names_is_refused_naming_its_part():
    with pytest.raises(ComposeError) as error:
        normalise("services:\n  w: {image: x}\n", {"stray.env": b"A=1\n"})
    assert error.value.problems[0][0] == ("env_file.stray.env",)


def test_upload_paths_stay_inside_the_project_folder():
    assert upload_path("./conf/../web.env") == "web.env"
    for bad in ("/etc/passwd", "../x", "a/../../x", "~/x", ".", "", "a\\b"):
        assert upload_path(bad) is None


def test_a_yaml_bomb_is_refused_before_compose_runs():
    bomb = "a: &a [" + ",".join(["x"] * 10) + "]\n"
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ",".join([f"*{previous}"] * 10) + "]\n"
    with pytest.raises(ComposeError, match="too large or too deep"):  # CRANE's own bound, not Compose's
        normalise(bomb + "services: {}\n")


def test_a_missing_binary_is_named():
    with pytest.raises(RuntimeError, match="CRANE_COMPOSE_BINARY"):
        find_compose("/nonexistent/docker-compose")


@pytest.mark.parametrize(
    "line",
    [
        "COMPOSE_FILE=compose.yaml:extra.env",  # merges a file CRANE never checked
        "COMPOSE_FILE: extra.env",  # the same in the colon form Compose's reader takes
        "  export COMPOSE_FILE=extra.env",
        "COMPOSE_ENV_FILES=extra.env",  # reads variables from another file
        "COMPOSE_PATH_SEPARATOR=;",
        "compose_profiles=x",
    ],
)
def test_an_uploaded_dotenv_cannot_set_compose_itself_up(line):
    with pytest.raises(ComposeError) as error:
        normalise(
            "services:\n  w: {image: 'x:${TAG}', env_file: [extra.env]}\n",
            {".env": f"TAG=1\n{line}\n".encode(), "extra.env": b"A=1\n"},
        )
    loc, message = error.value.problems[0]
    assert loc == ("env_file..env",)
    assert message.startswith("line 2: ") and "setting of Docker Compose" in message


def test_compose_reads_the_uploaded_file_alone_never_an_override_beside_it():
    # Without -f, Compose merges compose.override.yaml from the project folder: here an
    # uploaded env file of that name would have added a service and replaced an image.
    override = b"services:\n  w: {image: evil}\n  extra: {image: evil, env_file: /proc/self/status}\n"
    normal = normalise(
        "services:\n  w: {image: x, env_file: [compose.override.yaml]}\n",
        {"compose.override.yaml": override},
    )
    document = yaml.safe_load(normal.text)
    assert list(document["services"]) == ["w"] and document["services"]["w"]["image"] == "x"
    assert "env_file" not in document["services"]["w"]  # (its lines are only w's variables)


def test_dotenv_keys_are_read_in_every_form():
    text = "# c\nA=1\nB: 2\nexport C=3\n  D =4\nnot a key\n'E'=5\n"
    from crane_shared.compose.dotenv import dotenv_keys

    assert [key for _, key in dotenv_keys(text)] == ["A", "B", "C", "D", "'E'"]
