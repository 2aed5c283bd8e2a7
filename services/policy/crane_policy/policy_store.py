"""The policies CRANE ships (policies/*.rego), put in the crane_policies bucket on first start
(crane_shared.policies); admins change them there through the API."""

from __future__ import annotations

from pathlib import Path

DEFAULTS_DIR = Path(__file__).parent / "policies"


def default_policies() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(DEFAULTS_DIR.glob("*.rego")) if not p.stem.endswith("_test")}
