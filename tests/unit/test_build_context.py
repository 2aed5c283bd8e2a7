"""Uploaded build contexts: what is refused before anything is unpacked, the content digest,
and unpacking into a scratch directory only."""

import io
import tarfile

import pytest

from crane_shared.build_context import ContextError, ContextLimits, ContextTooLarge, inspect_context, unpack_context


def archive(*members: tuple[str, bytes | None, bytes], mtime: float = 0) -> bytes:
    """members: (name, type, content or link target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.type = kind or tarfile.REGTYPE
            if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = payload.decode()
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


GOOD = archive(
    ("Dockerfile", None, b"FROM scratch\n"),
    ("src/app.py", None, b"print(1)\n"),
    ("src/link", tarfile.SYMTYPE, b"app.py"),
)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ((("../evil", None, b"x"),), "leaves the context"),
        ((("a/../../evil", None, b"x"),), "leaves the context"),
        ((("/etc/passwd", None, b"x"),), "absolute"),
        ((("up", tarfile.SYMTYPE, b"../../etc"),), "outside the context"),
        ((("root", tarfile.SYMTYPE, b"/"),), "absolute path"),
        ((("hard", tarfile.LNKTYPE, b"../x"),), "outside the context"),
        ((("dev", tarfile.CHRTYPE, b""),), "devices"),
    ],
)
def test_entries_that_would_leave_the_context_are_refused(members, message):
    with pytest.raises(ContextError, match=message):
        inspect_context(archive(*members))


def test_limits_are_counted_while_reading():
    with pytest.raises(ContextTooLarge, match="files"):
        inspect_context(archive(*[(f"f{i}", None, b"") for i in range(11)]), ContextLimits(max_files=10))
    with pytest.raises(ContextTooLarge, match="bytes"):
        inspect_context(archive(("big", None, b"x" * 2048)), ContextLimits(max_bytes=1024))
    with pytest.raises(ContextError, match="not a tar"):
        inspect_context(b"\x1f\x8b garbage")


def test_the_digest_is_the_content_not_the_packing():
    again = archive(
        ("Dockerfile", None, b"FROM scratch\n"),
        ("src/app.py", None, b"print(1)\n"),
        ("src/link", tarfile.SYMTYPE, b"app.py"),
        mtime=1e9,
    )
    assert inspect_context(GOOD).digest == inspect_context(again).digest
    changed = archive(("Dockerfile", None, b"FROM scratch\n"), ("src/app.py", None, b"print(2)\n"))
    assert inspect_context(GOOD).digest != inspect_context(changed).digest
    assert inspect_context(GOOD).files == 3


def test_unpacking_writes_only_inside_the_scratch_directory(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    unpack_context(GOOD, scratch)
    assert (scratch / "src" / "app.py").read_text() == "print(1)\n" and (scratch / "src" / "link").is_symlink()
    with pytest.raises(ContextError):
        unpack_context(archive(("../outside", None, b"x")), scratch)
    assert not (tmp_path / "outside").exists()
