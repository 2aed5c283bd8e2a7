"""Host paths judged where they lead: symlinks resolved as the host would, through the host's
filesystem seen at a root (a temporary folder stands for the host here)."""

import os

import pytest

from crane_shared.host_paths import Unresolvable, denied, resolve_under


@pytest.fixture
def host(tmp_path):
    """/srv/shared with links: one to the host's /, one to /etc, one relative out, one inside."""
    (tmp_path / "srv/shared/data").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    os.symlink("/", tmp_path / "srv/shared/root")
    os.symlink("/etc", tmp_path / "srv/shared/config")
    os.symlink("../../etc", tmp_path / "srv/shared/up")
    os.symlink("data", tmp_path / "srv/shared/here")
    os.symlink("loop-b", tmp_path / "srv/shared/loop-a")
    os.symlink("loop-a", tmp_path / "srv/shared/loop-b")
    return tmp_path


def test_symlinks_are_followed_as_the_host_would(host):
    assert resolve_under(host, "/srv/shared/data") == "/srv/shared/data"
    assert resolve_under(host, "/srv/shared/here/x") == "/srv/shared/data/x"
    assert resolve_under(host, "/srv/shared/root") == "/"
    assert resolve_under(host, "/srv/shared/root/etc/shadow") == "/etc/shadow"
    assert resolve_under(host, "/srv/shared/config") == "/etc"
    assert resolve_under(host, "/srv/shared/up/passwd") == "/etc/passwd"
    assert resolve_under(host, "/srv/shared/../../etc") == "/etc"
    assert resolve_under(host, "/srv/shared/missing/deeper") == "/srv/shared/missing/deeper"
    with pytest.raises(Unresolvable):
        resolve_under(host, "/srv/shared/loop-a")


def test_some_places_are_never_mounted():
    for path in ("/", "/etc", "/etc/shadow", "/proc/1", "/sys", "/dev/sda", "/var/run/docker.sock", "/run/x"):
        assert denied(path), path
    assert denied("/home/ada/docker.sock")
    for path in ("/srv/shared", "/etcetera", "/home/ada/data", "/var/lib/crane"):
        assert denied(path) is None, path
