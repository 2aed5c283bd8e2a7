"""Layering rules from STYLE.md, checked on the source: services talk only through the bus,
so no service imports another, and shared/ imports no service."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICE_PACKAGES = {path.name: path for path in REPO.glob("services/*/crane_*") if path.is_dir()}


def imported_roots(package: Path) -> set[str]:
    roots = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                roots |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
    return roots


def test_all_five_services_are_there():
    assert set(SERVICE_PACKAGES) == {
        "crane_api",
        "crane_deployer",
        "crane_monitor_config",
        "crane_alert_bridge",
        "crane_policy",
    }


@pytest.mark.parametrize("name", sorted(SERVICE_PACKAGES))
def test_no_service_imports_another(name):
    others = set(SERVICE_PACKAGES) - {name}
    assert not imported_roots(SERVICE_PACKAGES[name]) & others


def test_shared_imports_no_service():
    assert not imported_roots(REPO / "shared" / "crane_shared") & set(SERVICE_PACKAGES)


def test_only_the_deployer_talks_to_docker():
    for name, package in SERVICE_PACKAGES.items():
        if name != "crane_deployer":
            assert "docker" not in imported_roots(package), name
    assert "docker" not in imported_roots(REPO / "shared" / "crane_shared")


DEPLOYER = SERVICE_PACKAGES["crane_deployer"]
# The Docker Engine backend of the runtime seam (runtime.py): the only modules that may use the
# Docker SDK. Everything else reaches the platform through a Runtime.
DOCKER_BACKEND = {"engine.py", "docker_events.py", "build_box.py", "scan_sandbox.py", "trivy.py"}
# Pure cores: decisions from values, no platform, no bus, no store, no network.
PURE = {
    "crane_deployer": ["plan.py", "crashloop.py", "ordering.py", "container_spec.py", "image_labels.py", "naming.py",
                       "runtime.py"],
    "crane_policy": ["episodes.py", "scaling_memory.py", "admission.py"],
}  # fmt: skip
IMPURE_ROOTS = {"docker", "nats", "httpx", "aiohttp", "requests"}


def module_imports(source: Path) -> set[str]:
    """Every module ``source`` imports, absolute and relative (``.engine`` as ``engine``)."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module if node.level == 0 else node.module.split(".")[0])
    return names


def test_only_the_docker_backend_uses_the_docker_sdk():
    users = {p.name for p in DEPLOYER.glob("*.py") if any(m.split(".")[0] == "docker" for m in module_imports(p))}
    assert users <= DOCKER_BACKEND, users - DOCKER_BACKEND
    reconciler = module_imports(DEPLOYER / "reconciler.py")
    assert "engine" not in reconciler and "runtime" in reconciler  # it knows the seam, not the backend


@pytest.mark.parametrize(("package", "name"), [(p, n) for p, names in PURE.items() for n in names])
def test_pure_cores_touch_no_platform_bus_store_or_network(package, name):
    imports = module_imports(SERVICE_PACKAGES[package] / name)
    assert not {m for m in imports if m.split(".")[0] in IMPURE_ROOTS}, imports
    assert not imports & {"crane_shared.bus", "crane_shared.store", "crane_shared.service", "engine"}, imports


def test_the_cli_reads_a_dotenv_and_fills_variables_with_the_services_own_code():
    """The crane CLI is a distribution of its own (it cannot import crane_shared), so it has the
    two Compose readers as links to shared/'s files: one home, never a copy that drifts."""
    for name in ("dotenv", "interpolation"):
        linked = REPO / "cli" / "crane_cli" / f"compose_{name}.py"
        assert linked.is_symlink(), linked
        assert linked.resolve() == (REPO / "shared" / "crane_shared" / "compose" / f"{name}.py").resolve()
        assert module_imports(linked) <= {"__future__", "re", "collections.abc"}  # standalone: stdlib only
