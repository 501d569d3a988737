#!/usr/bin/env bash
# Bundles the playground's editor (web/playground: CodeMirror 6 from the npm registry) into
# src/runakode/playground/static/vendor/editor.js, which the service serves itself: the browser
# fetches nothing from anywhere else. Idempotent: nothing to do when the bundle matches its
# sources. npm's packages go to build/playground-npm, never into the repository.
set -euo pipefail

cd "$(dirname "$0")/.."
readonly SOURCES=web/playground
readonly NPM_DIR=build/playground-npm
readonly BUNDLE=src/runakode/playground/static/vendor/editor.js
readonly STAMP=$BUNDLE.sources

want=$(cat "$SOURCES/package.json" "$SOURCES/package-lock.json" "$SOURCES/editor.mjs" | sha256sum | cut -d' ' -f1)
if [[ -f $BUNDLE && -f $STAMP && $(<"$STAMP") == "$want" ]]; then
    echo "playground: editor bundle up to date"
    exit 0
fi
command -v npm >/dev/null || {
    echo "build-playground: npm is missing (apt-get install npm)" >&2
    exit 1
}
started=$SECONDS
mkdir -p "$NPM_DIR" "$(dirname "$BUNDLE")"
cp "$SOURCES/package.json" "$SOURCES/package-lock.json" "$SOURCES/editor.mjs" "$NPM_DIR/"
npm ci --prefix "$NPM_DIR" --no-audit --no-fund --silent
"$NPM_DIR/node_modules/.bin/esbuild" "$NPM_DIR/editor.mjs" --bundle --minify --format=iife \
    --target=es2020 --legal-comments=linked --outfile="$BUNDLE.partial" --log-level=warning
mv "$BUNDLE.partial" "$BUNDLE"
if [[ -f $BUNDLE.partial.LEGAL.txt ]]; then
    mv "$BUNDLE.partial.LEGAL.txt" "$BUNDLE.LEGAL.txt"
fi
echo "$want" >"$STAMP"
echo "playground: editor bundled in $((SECONDS - started)) s ($(stat -c %s "$BUNDLE") bytes)"
