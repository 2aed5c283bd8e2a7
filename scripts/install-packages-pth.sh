#!/bin/sh
# install-packages-pth.sh PYTHON ROOT: make every folder of ROOT/crane-packages.txt importable
# by PYTHON (a venv's python), through a .pth file in its site-packages.
set -eu
python=$1
root=$(cd "$2" && pwd)
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$root/crane-packages.txt" | sed "s|^|$root/|" > "$site/crane-packages.pth"
