#!/usr/bin/env bash
# Build the web console (console/ -> console/dist) with npm, from its lockfile. Without Node.js
# 20 or newer the suite runs without a console, and this says so.
set -euo pipefail
cd "$(dirname "$0")/../console"
if ! command -v npm >/dev/null 2>&1 || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
  echo "==> no Node.js 20+ here: the suite runs without its web console (install nodejs and npm, then make up again)" >&2
  mkdir -p dist
  exit 0
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing the console's npm packages (package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "==> building the web console"
npm run build --silent >/dev/null
