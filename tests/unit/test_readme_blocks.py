"""The README's shell blocks as the README test reads them (tests/harness/readme.py)."""

import pytest

from tests.harness.procs import REPO
from tests.harness.readme import ReadmeError, blocks, script

SAMPLE = """Intro
<!-- readme-test: skip not here -->
```sh
make up
```
text
<!-- readme-test: stream 5 -->
<!-- readme-test: expect ^event: line$ -->
```sh
curl -N x
```
```sh
ID=$(echo app-1)
echo "$ID"
```
```python
print("not a shell block")
```
"""


def test_blocks_are_read_with_what_the_lines_above_them_say():
    skipped, streamed, plain = blocks(SAMPLE)
    assert (skipped.skip, skipped.text) == ("not here", "make up\n")
    assert streamed.stream == 5 and [p.pattern for p in streamed.expect] == ["^event: line$"]
    assert plain.first_line == "ID=$(echo app-1)" and plain.skip is None and plain.stream is None
    assert plain.line == 12


def test_a_readme_test_line_it_cannot_read_is_an_error_not_a_silent_skip():
    with pytest.raises(ReadmeError, match="README.md:2"):
        blocks("<!-- readme-test: skipp typo -->\n```sh\nls\n```\n")


def test_the_script_runs_blocks_in_one_shell_and_stops_streams(tmp_path):
    import subprocess

    readme = (
        "```sh\nA=1\n```\n<!-- readme-test: stream 0.5 -->\n```sh\necho $A; sleep 30\n```\n```sh\necho after\n```\n"
    )
    runnable = blocks(readme)
    (tmp_path / "run.sh").write_text(script(runnable, str(tmp_path)))
    done = subprocess.run(["bash", str(tmp_path / "run.sh")], timeout=20)
    assert done.returncode == 0 and (tmp_path / "current").read_text() == "done\n"
    assert (tmp_path / "1.out").read_text() == "1\n" and (tmp_path / "2.out").read_text() == "after\n"
    failing = blocks("```sh\nfalse\necho not reached\n```\n```sh\necho never\n```\n")
    (tmp_path / "fail.sh").write_text(script(failing, str(tmp_path)))
    assert subprocess.run(["bash", str(tmp_path / "fail.sh")], timeout=20).returncode != 0
    assert (tmp_path / "current").read_text() == "0\n" and (tmp_path / "0.out").read_text() == ""


def test_the_readme_s_blocks_all_read():
    found = blocks((REPO / "README.md").read_text())
    assert len([b for b in found if b.skip is None]) >= 10
    assert all(b.skip for b in found if b.first_line.startswith(("make ", "crane ")))
