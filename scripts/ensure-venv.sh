#!/usr/bin/env bash
# The project's virtualenv, with python3-venv installed first where the distribution splits it
# out (Debian, Ubuntu): `python3 -m venv` fails without it.
set -euo pipefail
VENV="${1:-.venv}"
[ -x "$VENV/bin/python" ] && exit 0
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 is missing: install Python 3.10 or newer (apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "CRANE needs Python 3.10 or newer on the host; this is $(python3 --version)" >&2
  exit 1
fi
if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
  rm -rf "$VENV"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  version=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  echo "==> installing python3-venv (python3 -m venv needs it here)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "python${version}-venv" >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  python3 -m venv "$VENV"
fi
