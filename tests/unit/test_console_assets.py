"""The console's static files: only what is inside its folder, whatever the path or a link says."""

from __future__ import annotations

from crane_api.console import asset


def test_only_files_inside_the_console_folder_are_served(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html>")
    (dist / "assets" / "app.js").write_text("js")
    (tmp_path / "secret.txt").write_text("no")
    (dist / "assets" / "leak.js").symlink_to(tmp_path / "secret.txt")  # a link out of the folder
    assert asset(dist, "assets/app.js") == (dist / "assets" / "app.js").resolve()
    assert asset(dist, "index.html") is not None
    for outside in ("../secret.txt", "assets/../../secret.txt", "/etc/passwd", "assets/leak.js", "assets", ""):
        assert asset(dist, outside) is None, outside
