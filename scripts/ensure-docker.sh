#!/usr/bin/env bash
# Make sure a Docker Engine answers: install Debian's docker.io if dockerd is missing, start it
# if it is not running, and wait until `docker info` works. Safe to run when it already runs.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if docker info >/dev/null 2>&1; then
  exit 0
fi
# A running Engine this user may not use: say so at once instead of waiting for it.
answer=$(docker info 2>&1 || true)
if [ "$(id -u)" -ne 0 ] && [ -S /var/run/docker.sock ] && grep -qi "permission denied" <<<"$answer"; then
  echo "Docker is running but $(id -un) may not use it: run 'sudo usermod -aG docker $(id -un)', log out and in again, and retry (or run make as root)." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "Docker Engine is not running and $(id -un) is not root and has no sudo: start Docker (or install it) as root, then retry." >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "==> installing Docker Engine (Debian package docker.io)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    $SUDO systemctl start docker
  else
    echo "==> starting dockerd (log: /var/log/dockerd.log)"
    $SUDO sh -c 'setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &'
  fi
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "==> Docker Engine $(docker info --format '{{.ServerVersion}}') is running"
    exit 0
  fi
  sleep 1
done
echo "Docker Engine did not start; see /var/log/dockerd.log" >&2
exit 1
