"""The archive a scan sandbox gets, streamed from disk (scan_sandbox.py), read back as tar reads it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from crane_deployer.scan_sandbox import NOBODY, read_report, scan_archive, scan_members


def test_the_archive_holds_the_image_read_only_and_the_scans_own_writable_places(tmp_path: Path):
    image = tmp_path / "image.tar"
    image.write_bytes(b"x" * 1_000_001)  # not a multiple of the tar block
    db = tmp_path / "trivy.db"
    db.write_bytes(b"db")
    stream = b"".join(scan_archive(scan_members(image, [db])))
    with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile(members["image.tar"]).read() == image.read_bytes()  # type: ignore[union-attr]
        assert tar.extractfile(members["cache/db/trivy.db"]).read() == b"db"  # type: ignore[union-attr]
    assert (members["image.tar"].uid, members["image.tar"].mode) == (0, 0o444)  # the scan cannot change it
    for directory in ("tmp", "home", "out", "cache", "cache/db"):
        assert members[directory].isdir() and members[directory].uid == NOBODY and members[directory].mode == 0o700
    assert stream.endswith(b"\0" * 1024)


def test_a_report_is_the_one_file_of_the_answer_and_an_empty_answer_is_no_report():
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("report.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    assert read_report(archive.getvalue()) == b"{}"
    empty = io.BytesIO()
    tarfile.open(fileobj=empty, mode="w").close()
    with pytest.raises(ValueError, match="no report"):
        read_report(empty.getvalue())
