"""A replica created earlier starts only while its mounts lead where they led (host_path_gate.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crane_deployer.host_path_gate import HostPathGate, HostPathRefused


def test_a_link_put_into_a_mount_since_it_was_judged_is_refused_at_the_next_start(tmp_path: Path):
    gate = HostPathGate(bus=None, root=Path("/"))  # type: ignore[arg-type]  # (check_binds asks no one)
    data = tmp_path / "allowed" / "data"
    data.mkdir(parents=True)
    gate.check_binds("web-0", [str(data)], {})  # still where it was: fine
    data.rmdir()
    os.symlink("/etc", data)  # swapped for a link to a place CRANE never mounts
    with pytest.raises(HostPathRefused, match="never mounts"):
        gate.check_binds("web-0", [str(data)], {})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data.unlink()
    os.symlink(elsewhere, data)  # to a place nobody judged
    with pytest.raises(HostPathRefused, match="symbolic link put into it"):
        gate.check_binds("web-0", [str(data)], {})
    # ... unless the app's own path leads there now and was judged so just before.
    gate.check_binds("web-0", [str(data)], {"/srv/app-data": str(elsewhere)})
