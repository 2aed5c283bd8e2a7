"""The crane CLI's pure parts: .dockerignore as Docker reads it, deterministic context archives,
what a project folder uploads, the multipart body and the SSE reader."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from crane_cli.api import read_sse
from crane_cli.config import Credentials, credentials_path, load, save
from crane_cli.dockerignore import DockerIgnore
from crane_cli.multipart import encode
from crane_cli.packing import pack
from crane_cli.project import ProjectError, interpolate, read_project


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        ("node_modules", "node_modules/x/y.js", True),
        ("*.log", "app.log", True),
        ("*.log", "logs/app.log", False),  # * stops at a folder, as in Docker
        ("**/*.log", "logs/deep/app.log", True),
        ("**/*.log", "app.log", True),
        ("/secret.txt", "secret.txt", True),
        ("./build/", "build/out.o", True),
        ("*.md\n!README.md", "README.md", False),
        ("*.md\n!README.md", "CHANGES.md", True),
        ("!README.md\n*.md", "README.md", True),  # the last match decides
        ("# comment\n\n", "anything", False),
        ("src/[ab].py", "src/a.py", True),
        ("src/[!ab].py", "src/a.py", False),
        ("src/?.py", "src/c.py", True),
        ("docs", "docsite/index.html", False),
    ],
)
def test_dockerignore_reads_patterns_as_docker_does(patterns, path, ignored):
    assert DockerIgnore(patterns).ignores(path) is ignored


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return sorted(m.name for m in archive.getmembers() if not m.isdir())


def test_a_packed_context_leaves_out_what_dockerignore_says_but_keeps_the_dockerfile(tmp_path):
    _tree(tmp_path, {
        "Dockerfile": "FROM x\n", ".dockerignore": "secret.txt\nnode_modules\nDockerfile\n*.log\n",
        "app.py": "print()\n", "secret.txt": "hunter2", "node_modules/big/a.js": "x", "debug.log": "x",
    })  # fmt: skip
    packed = pack(tmp_path)
    assert _names(packed.data) == [".dockerignore", "Dockerfile", "app.py"]
    assert packed.files == 3


def test_packing_the_same_files_twice_gives_the_same_bytes(tmp_path):
    _tree(tmp_path, {"a.txt": "1", "b/c.txt": "2"})
    first = pack(tmp_path).data
    os.utime(tmp_path / "a.txt", (1, 1))
    assert pack(tmp_path).data == first


def test_links_stay_links_and_sockets_are_left_out(tmp_path):
    _tree(tmp_path, {"real.txt": "x"})
    (tmp_path / "link").symlink_to("/etc/passwd")
    (tmp_path / "dirlink").symlink_to(tmp_path)
    with tarfile.open(fileobj=io.BytesIO(pack(tmp_path).data)) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert members["link"].issym() and members["link"].linkname == "/etc/passwd"  # CRANE refuses it, naming it
    assert members["dirlink"].issym()  # never followed: no loop, nothing outside read


def test_a_project_uploads_its_compose_file_contexts_secrets_env_files_and_dotenv(tmp_path):
    _tree(tmp_path, {
        "compose.yaml": (
            "services:\n"
            "  web:\n    build: ./web\n    env_file: [conf/web.env, {path: missing.env, required: false}]\n"
            "    volumes: ['./static:/srv', 'data:/data']\n"
            "  api:\n    build: {context: '${API_DIR}', dockerfile: Dockerfile.api}\n"
            "secrets:\n  db_password:\n    file: ./db_password.txt\n"
            "configs:\n  app:\n    content: inline\n"
            "volumes:\n  data: {}\n"
        ),
        ".env": "API_DIR=./api\n",
        "web/Dockerfile": "FROM x\n", "api/Dockerfile.api": "FROM x\n", "conf/web.env": "A=1\n",
        "db_password.txt": "s3cret", "static/index.html": "hi",
    })  # fmt: skip
    project = read_project(tmp_path)
    parts = {p.name: p for p in project.parts}
    assert sorted(parts) == sorted([
        "compose", "env_file..env", "build.web", "build.api", "env_file.conf/web.env",
        "bind.static", "secret.db_password",
    ])  # fmt: skip
    assert parts["secret.db_password"].data == b"s3cret"
    assert _names(parts["build.api"].data) == ["Dockerfile.api"]
    assert project.name == tmp_path.name.lower().replace(".", "")


def test_composes_own_settings_in_dotenv_stay_at_home_and_are_named(tmp_path):
    _tree(tmp_path, {
        "compose.yaml": "services:\n  web: {image: 'x:${TAG}'}\n",
        ".env": "COMPOSE_PROJECT_NAME=shop\nTAG=1\nexport COMPOSE_FILE=a.yaml\n",
    })  # fmt: skip
    said = []
    project = read_project(tmp_path, say=said.append)
    dotenv = next(p for p in project.parts if p.name == "env_file..env")
    assert dotenv.data == b"TAG=1\n"
    assert [line.split(":")[0] for line in said] == [".env line 1", ".env line 3"]


def test_a_project_names_the_field_whose_file_is_missing(tmp_path):
    _tree(tmp_path, {"compose.yaml": "services:\n  web:\n    build: ./nowhere\n"})
    with pytest.raises(ProjectError, match=r"services\.web\.build\.context: ./nowhere does not exist"):
        read_project(tmp_path)
    _tree(tmp_path, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file: gone.env\n"})
    with pytest.raises(ProjectError, match=r"services\.web\.env_file: gone.env"):
        read_project(tmp_path)
    with pytest.raises(ProjectError, match="no compose file"):
        read_project(tmp_path / "web" if (tmp_path / "web").exists() else tmp_path.parent / "nonexistent-folder")


def test_interpolation_follows_composes_defaults():
    values = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET:-d}-${EMPTY:-e}-${EMPTY-f}-$SET-$$SET", values) == "v-d-e--v-$SET"


def test_the_multipart_body_carries_each_part_under_its_name(tmp_path):
    _tree(tmp_path, {"compose.yaml": "services: {web: {image: x}}\n", "s.txt": 'a"b'})
    project = read_project(tmp_path, name="demo")
    body, content_type = encode(project.parts)
    boundary = content_type.split("boundary=")[1]
    assert body.count(f"--{boundary}".encode()) == len(project.parts) + 1
    assert b'name="compose"' in body and body.endswith(f"--{boundary}--\r\n".encode())


def test_sse_messages_are_read_with_ids_events_and_multiline_data():
    lines = iter(["id: 4", "event: app.created", 'data: {"a":', "data: 1}", "", ": keepalive", "", "data: x", ""])
    messages = list(read_sse(lines))
    assert [(m.id, m.event, m.data) for m in messages] == [("4", "app.created", '{"a":\n1}'), (None, "message", "x")]


def test_the_saved_login_is_readable_by_its_owner_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    save(Credentials("http://h:1", "me@x.org", "tok"))
    assert stat.S_IMODE(credentials_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(credentials_path().parent.stat().st_mode) == 0o700
    assert load() == Credentials("http://h:1", "me@x.org", "tok")
    credentials_path().write_text("{broken")
    assert load() is None
