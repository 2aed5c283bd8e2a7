#!/usr/bin/env bash
# Stop the compose suite and remove what it created: the apps the deployer started (selected by
# the suite's label, nothing else), then the suite's own containers, networks and volumes.
set -euo pipefail
SUITE="${CRANE_SUITE:-crane}"
if ! docker info >/dev/null 2>&1; then
  echo "Docker Engine is not running; nothing to stop"
  exit 0
fi
COMPOSE=(docker compose --project-directory deploy -f deploy/compose.yaml)
# The deployer first, so that it does not heal the apps while they are being removed.
"${COMPOSE[@]}" stop deployer >/dev/null 2>&1 || true
apps=$(docker ps -aq --filter "label=crane.suite=$SUITE" --filter "label=crane.app")
if [ -n "$apps" ]; then
  echo "==> removing app containers of suite $SUITE"
  docker rm -f $apps >/dev/null
fi
"${COMPOSE[@]}" down --volumes --remove-orphans
for net in $(docker network ls -q --filter "label=crane.suite=$SUITE"); do
  docker network rm "$net" >/dev/null 2>&1 || true
done
vols=$(docker volume ls -q --filter "label=crane.suite=$SUITE")
[ -z "$vols" ] || docker volume rm $vols >/dev/null
# The suite's generated NATS credentials go with its data (the next `make up` makes new ones).
rm -rf "deploy/.secrets/$SUITE"
echo "==> suite $SUITE is down"
