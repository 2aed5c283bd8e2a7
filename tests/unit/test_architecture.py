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
