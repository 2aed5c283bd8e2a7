"""The suite image's wheels fit the image's Python and architecture, never the host's: a host
with another Python (3.12, 3.13, 3.10) or on another architecture still builds a working image."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from crane_images import ImagePython, native_library_folders, portable, wheel_download_args


def _values(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == option]


def test_wheels_are_fetched_for_the_images_python_not_the_hosts():
    other_minor = sys.version_info.minor + 1  # a host/image mismatch whatever this host runs
    other_machine = "aarch64" if platform.machine() == "x86_64" else "x86_64"
    args = wheel_download_args(ImagePython(3, other_minor, other_machine, (2, 36)))
    assert _values(args, "--python-version") == [f"3.{other_minor}"]
    assert _values(args, "--abi") == [f"cp3{other_minor}", "abi3", "none"]
    assert "--only-binary=:all:" in args  # nothing compiled on (and for) the host
    platforms = _values(args, "--platform")
    assert platforms and all(p.endswith(f"_{other_machine}") for p in platforms)
    assert f"manylinux_2_36_{other_machine}" in platforms and f"manylinux2014_{other_machine}" in platforms
    assert f"manylinux_2_37_{other_machine}" not in platforms  # newer than the image's C library


def test_an_older_c_library_gets_only_the_tags_it_can_load():
    platforms = _values(wheel_download_args(ImagePython(3, 11, "x86_64", (2, 17))), "--platform")
    assert "manylinux_2_17_x86_64" in platforms and "manylinux_2_34_x86_64" not in platforms
    assert "manylinux2014_x86_64" in platforms


def test_native_libraries_come_from_the_images_architecture():
    assert native_library_folders("aarch64", "x86_64") == [
        Path("/usr/lib/aarch64-linux-gnu"),
        Path("/lib/aarch64-linux-gnu"),
    ]  # fmt: skip  (never the host's own lib64 for another architecture)
    assert Path("/usr/lib64") in native_library_folders("x86_64", "x86_64")


def test_only_pure_python_wheels_built_on_the_host_go_into_the_image():
    assert portable("nkeys-0.2.1-py3-none-any.whl")
    assert not portable("bcrypt-5.0.0-cp39-abi3-manylinux_2_34_x86_64.whl")
    assert not portable("regopy-1.5.2-cp311-cp311-manylinux_2_34_x86_64.whl")
