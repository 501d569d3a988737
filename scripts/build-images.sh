#!/usr/bin/env bash
# Builds the sandbox images locally: no container registry is reachable.
# Usage: build-images.sh [LANG...]   (default: every sandbox/images/<lang>/ but base)
# An image is rebuilt only when the sha256 of its inputs differs from its runakode.inputs label.
set -euo pipefail

cd "$(dirname "$0")/../sandbox"

# The newer docker CLI on some hosts has no buildx plugin, so only the legacy builder works with both.
export DOCKER_BUILDKIT=0

readonly BASE=runakode-base
readonly LABEL=runakode.inputs
readonly LOG=/var/tmp/runakode-images.log
replaced=()

die() {
    printf 'build-images: %s\n' "$*" >&2
    exit 1
}

image_id() {
    docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true
}

image_inputs() {
    docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true
}

# Paths are part of the hash so that renaming an input counts as a change.
hash_files() {
    find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
}

run_logged() {
    if ! "$@" >"$LOG" 2>&1; then
        tail -n 40 "$LOG" >&2
        die "failed: $* (full log: $LOG)"
    fi
}

# The bookworm main mirror the host itself uses: its name must never be written into the repo.
host_mirror() {
    python3 - <<'EOF'
import glob, re, sys

def deb822():
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            paragraphs = re.split(r"\n\s*\n", f.read())
        for paragraph in paragraphs:
            fields, key = {}, None
            for line in paragraph.splitlines():
                if line.startswith("#"):
                    continue
                if line[:1] in (" ", "\t") and key:
                    fields[key] += " " + line.strip()
                    continue
                name, sep, value = line.partition(":")
                if sep:
                    key = name.strip().lower()
                    fields[key] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            yield tuple(fields.get(k, "").split() for k in ("types", "uris", "suites", "components"))

def one_line():
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 4:
                yield [words[0]], [words[1]], [words[2]], words[3:]

for types, uris, suites, components in (*deb822(), *one_line()):
    if "deb" in types and "bookworm" in suites and "main" in components and uris:
        print(uris[0])
        break
else:
    sys.exit("build-images: no 'deb ... bookworm main' source in the host's apt sources")
EOF
}

remove_rootfs() {
    local dir=$1 mount
    # debootstrap leaves /proc and /sys mounted in the target when it fails half way.
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r mount; do umount -l "$mount"; done
    rm -rf --one-file-system "$dir"
}

build_base() {
    local want old dir mirror
    want=$(hash_files images/base | sha256sum | cut -d' ' -f1)
    if [[ $(image_inputs "$BASE") == "$want" ]]; then
        echo "images: $BASE up to date"
        return
    fi
    mirror=${RUNAKODE_DEBIAN_MIRROR:-$(host_mirror)}
    echo "images: building $BASE (debootstrap, about a minute)"
    dir=$(mktemp -d /var/tmp/runakode-base.XXXXXX)
    # shellcheck disable=SC2064 # expand $dir now: it is local to this function
    trap "remove_rootfs '$dir'" EXIT
    run_logged bash images/base/rootfs.sh "$dir" "$mirror"
    old=$(image_id "$BASE")
    tar -C "$dir" --numeric-owner -c . |
        docker import --change "LABEL $LABEL=$want" --change 'ENV LANG=C.UTF-8' - "$BASE" >/dev/null
    remove_rootfs "$dir"
    trap - EXIT
    [[ -n $old && $old != "$(image_id "$BASE")" ]] && replaced+=("$old")
    return 0
}

build_language() {
    local lang=$1 image=$1-runner want old
    [[ $lang != base && -f images/$lang/Dockerfile ]] || die "no sandbox/images/$lang/Dockerfile"
    want=$({
        hash_files "images/$lang" launcher
        echo "base $(image_id "$BASE")"
    } | sha256sum | cut -d' ' -f1)
    if [[ $(image_inputs "$image") == "$want" ]]; then
        echo "images: $image up to date"
        return
    fi
    echo "images: building $image"
    old=$(image_id "$image")
    run_logged docker build --network host --force-rm --label "$LABEL=$want" \
        -t "$image" -f "images/$lang/Dockerfile" .
    [[ -n $old && $old != "$(image_id "$image")" ]] && replaced+=("$old")
    return 0
}

main() {
    local langs=("$@") lang i
    if ((${#langs[@]} == 0)); then
        for lang in images/*/; do
            lang=$(basename "$lang")
            [[ $lang != base ]] && langs+=("$lang")
        done
    fi
    build_base
    for lang in "${langs[@]}"; do
        build_language "$lang"
    done
    # Newest first: an old language image still holds its old base.
    for ((i = ${#replaced[@]} - 1; i >= 0; i--)); do
        docker rmi "${replaced[i]}" >/dev/null 2>&1 || true
    done
}

main "$@"
