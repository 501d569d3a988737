#!/usr/bin/env bash
# The service's own image (deploy/Dockerfile), tagged runakode:latest: the wheels of runakode
# and its dependencies are made here, with this host's pip and its settings, so the build
# itself needs no network and no certificate but the host's. Run `make setup` first.
set -euo pipefail

cd "$(dirname "$0")/.."
readonly WHEELS=build/service-wheels
readonly TAG=${1:-runakode:latest}

[[ -f src/runakode/playground/static/vendor/editor.js ]] || {
    echo "build-service-image: the playground's editor is not built: run make setup" >&2
    exit 1
}
rm -rf "$WHEELS"
.venv/bin/pip wheel --quiet --wheel-dir "$WHEELS" .
docker build --network host -f deploy/Dockerfile -t "$TAG" .
echo "service image: $TAG"
