#!/usr/bin/env bash
# Debian packages. `run` (make up): what the image build needs: busybox-static (the demo app
# image) and, for machines that reach no registry, mmdebstrap (the local Python base image),
# prometheus and prometheus-alertmanager (their binaries go into local images). `test` (make
# test) adds hey (load for the autoscaling tests and benchmark) and chromium (the console's
# browser tests). Installs only what is missing.
set -euo pipefail
MODE="${1:-test}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
if ! (command -v busybox >/dev/null 2>&1 && ! ldd "$(command -v busybox)" >/dev/null 2>&1); then
  missing+=(busybox-static)
fi
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ "$MODE" = test ]; then
  command -v hey >/dev/null 2>&1 || missing+=(hey)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the console's browser tests
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  $SUDO apt-get update -qq
  # --no-install-recommends: no node exporter or other daemons come along.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
