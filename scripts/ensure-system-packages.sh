#!/usr/bin/env bash
# Debian packages the tests and the offline image build use: busybox-static (the demo and test
# HTTP image), mmdebstrap (the local Python base image), prometheus and prometheus-alertmanager
# (real Prometheus, promtool, Alertmanager, amtool) and hey (load for the autoscaling tests and
# benchmark). Installs only what is missing.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
if ! (command -v busybox >/dev/null 2>&1 && ! ldd "$(command -v busybox)" >/dev/null 2>&1); then
  missing+=(busybox-static)
fi
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v hey >/dev/null 2>&1 || missing+=(hey)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  $SUDO apt-get update -qq
  # --no-install-recommends: no node exporter or other daemons come along.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
