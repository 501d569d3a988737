#!/usr/bin/env bash
# Run on the build host by scripts/build-images.sh before this image builds: Node's type
# declarations, which Debian does not package, from the npm registry the host's npm uses.
set -euo pipefail
readonly PACKAGES=(@types/node@18.19.130 undici-types@5.26.5)
dir=$(dirname "$0")/.fetched
[[ -f $dir/types-node-18.19.130.tgz && -f $dir/undici-types-5.26.5.tgz ]] && exit 0
command -v npm >/dev/null || { echo "typescript: npm is needed to fetch @types/node" >&2; exit 1; }
mkdir -p "$dir"
npm pack --silent --pack-destination "$dir" "${PACKAGES[@]}" >/dev/null
