#!/usr/bin/env bash
# Installs the npm Piston client (piston-client) that tests/integration/test_piston_api.py
# drives with node, into build/piston-client (or $1). Idempotent: nothing to do when present.
set -euo pipefail

cd "$(dirname "$0")/.."
readonly VERSION=1.0.2
readonly DIR=${1:-build/piston-client}
readonly MANIFEST=$DIR/node_modules/piston-client/package.json

if [[ -f $MANIFEST ]] && grep -q "\"version\": \"$VERSION\"" "$MANIFEST"; then
    echo "piston-client: $VERSION present in $DIR"
    exit 0
fi
command -v npm >/dev/null || {
    echo "install-piston-client: npm is missing (apt-get install nodejs npm)" >&2
    exit 1
}
mkdir -p "$DIR"
npm install --prefix "$DIR" --no-audit --no-fund --no-save --silent "piston-client@$VERSION"
echo "piston-client: $VERSION installed in $DIR"
