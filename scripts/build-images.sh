#!/usr/bin/env bash
# Builds the sandbox images locally: no container registry is reachable.
# Usage: build-images.sh [LANG...]   (default: every sandbox/images/<lang>/ but base)
# An image is rebuilt only when the sha256 of its inputs differs from its runakode.inputs label.
set -euo pipefail

SELF=$(readlink -f "$0")
readonly SELF
cd "$(dirname "$0")/../sandbox"

# The newer docker CLI on some hosts has no buildx plugin, so only the legacy builder works with both.
export DOCKER_BUILDKIT=0

readonly BASE=runakode-base
readonly LABEL=runakode.inputs
readonly LOG=/var/tmp/runakode-images.log
readonly LOG_DIR=/var/tmp/runakode-images
# Image builds at once: downloads and dpkg overlap well even on two cores.
readonly JOBS=${RUNAKODE_BUILD_JOBS:-4}
# The shared apt download cache: every image's apt-get goes through it, so a package several
# images need (or a rebuilt image needs again) is downloaded once. Loopback only.
readonly CACHE_PORT=3142
readonly CACHE_DIR=/var/cache/runakode-apt
readonly CACHE_PID=/run/runakode-apt-cache.pid
export LOG_DIR SELF

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

cache_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$CACHE_PORT") 2>/dev/null
}

# Sets APT_PROXY to the shared download cache, starting apt-cacher-ng when none listens yet
# (then stop_download_cache ends it); without apt-cacher-ng, images download on their own.
start_download_cache() {
    APT_PROXY=
    if ! cache_port_open; then
        if ! command -v apt-cacher-ng >/dev/null; then
            echo "images: apt-cacher-ng missing, each image downloads its own packages"
            return
        fi
        mkdir -p "$CACHE_DIR" /var/log/runakode-apt-cache
        # Its Debian backend is the host's own mirror (by default it picks one of its list).
        apt-cacher-ng -c /etc/apt-cacher-ng ForeGround=0 BindAddress=127.0.0.1 \
            "Port=$CACHE_PORT" "CacheDir=$CACHE_DIR" LogDir=/var/log/runakode-apt-cache \
            "PidFile=$CACHE_PID" ExThreshold=60 \
            "Remap-debrep=file:deb_mirror*.gz /debian ; ${MIRROR%/}/" >/dev/null 2>&1 || true
        local tries=0
        until cache_port_open; do
            ((++tries < 20)) || die "apt-cacher-ng did not listen on 127.0.0.1:$CACHE_PORT"
            sleep 0.25
        done
        STARTED_CACHE=1
    fi
    APT_PROXY=http://127.0.0.1:$CACHE_PORT
    export APT_PROXY
}

stop_download_cache() {
    local pid
    [[ -n ${STARTED_CACHE:-} ]] || return 0
    pid=$(cat "$CACHE_PID" 2>/dev/null) || return 0
    [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
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
    mirror=$MIRROR
    echo "images: building $BASE (debootstrap, about a minute)"
    dir=$(mktemp -d /var/tmp/runakode-base.XXXXXX)
    ROOTFS=$dir
    # debootstrap downloads through the shared cache too.
    run_logged env ${APT_PROXY:+http_proxy=$APT_PROXY} bash images/base/rootfs.sh "$dir" "$mirror"
    old=$(image_id "$BASE")
    tar -C "$dir" --numeric-owner -c . |
        docker import --change "LABEL $LABEL=$want" --change 'ENV LANG=C.UTF-8' - "$BASE" >/dev/null
    remove_rootfs "$dir"
    ROOTFS=
    [[ -n $old && $old != "$(image_id "$BASE")" ]] && echo "$old" >>"$REPLACED"
    return 0
}

# The image a Dockerfile builds on: runakode-<layer> for a shared layer under sandbox/layers/.
parent_layer() {
    local from
    from=$(awk 'toupper($1) == "FROM" { print $2; exit }' "$1")
    [[ $from == runakode-* && $from != "$BASE" ]] || return 0
    [[ -f layers/${from#runakode-}/Dockerfile ]] || die "$1: no sandbox/layers/${from#runakode-}/"
    echo "${from#runakode-}"
}

# build_image NAME TAG DOCKERFILE INPUTS...: builds TAG from DOCKERFILE (with the launcher's
# tail appended for a language) unless the sha256 of its inputs and its parent's id is the one
# it carries. Runs in parallel with others: its log is its own, replaced ids go to $REPLACED.
build_image() {
    local name=$1 tag=$2 dockerfile=$3 want old parent log started
    shift 3
    parent=$(awk 'toupper($1) == "FROM" { print $2; exit }' "$dockerfile")
    want=$({
        hash_files "$@"
        echo "parent $(image_id "$parent")"
    } | sha256sum | cut -d' ' -f1)
    if [[ $(image_inputs "$tag") == "$want" ]]; then
        echo "images: $tag up to date"
        return
    fi
    echo "images: building $tag"
    started=$SECONDS
    old=$(image_id "$tag")
    log=$LOG_DIR/$name.log
    if ! {
        cat "$dockerfile"
        if [[ $tag == *-runner ]]; then cat launcher/Dockerfile.tail; fi
    } | docker build --network host --force-rm --label "$LABEL=$want" \
        ${APT_PROXY:+--build-arg "APT_PROXY=$APT_PROXY"} -t "$tag" -f - . >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "building $tag failed (full log: $log)"
    fi
    [[ -n $old && $old != "$(image_id "$tag")" ]] && echo "$old" >>"$REPLACED"
    echo "images: $tag built in $((SECONDS - started)) s"
}

build_layer() {
    build_image "layer-$1" "runakode-$1" "layers/$1/Dockerfile" "layers/$1"
}

build_language() {
    local lang=$1
    [[ $lang != base && -f images/$lang/Dockerfile ]] || die "no sandbox/images/$lang/Dockerfile"
    # What an image needs from elsewhere than Debian is fetched on the host first.
    if [[ -x images/$lang/fetch.sh ]]; then
        images/"$lang"/fetch.sh || die "$lang: fetch.sh failed"
    fi
    build_image "$lang" "$lang-runner" "images/$lang/Dockerfile" "images/$lang" launcher
}

# Runs "$0 --one KIND NAME" for each NAME, JOBS at a time; fails when any failed.
build_all() {
    local kind=$1
    shift
    (($# > 0)) || return 0
    printf '%s\n' "$@" | xargs -P "$JOBS" -I{} bash "$SELF" --one "$kind" {}
}

# The languages to build: arguments, else $LANGUAGES (comma-separated), else every
# sandbox/images/<lang>/.
wanted_languages() {
    local lang
    if (($# > 0)); then
        printf '%s\n' "$@"
    elif [[ -n ${LANGUAGES:-} ]]; then
        tr ', ' '\n\n' <<<"$LANGUAGES" | sed '/^$/d'
    else
        for lang in images/*/; do
            lang=$(basename "$lang")
            [[ $lang != base ]] && echo "$lang"
        done
    fi
}

# On any exit of the main process: what it started or left half done.
cleanup() {
    [[ -n ${ROOTFS:-} ]] && remove_rootfs "$ROOTFS"
    stop_download_cache
    rm -f "$REPLACED"
}

main() {
    local langs layers=() first=() second=() layer lang i old status=0
    mapfile -t langs < <(wanted_languages "$@")
    for lang in "${langs[@]}"; do
        [[ -f images/$lang/Dockerfile ]] || die "no sandbox/images/$lang/Dockerfile"
        layer=$(parent_layer "images/$lang/Dockerfile")
        while [[ -n $layer ]]; do
            [[ " ${layers[*]} " == *" $layer "* ]] || layers+=("$layer")
            layer=$(parent_layer "layers/$layer/Dockerfile")
        done
    done
    # Layers on the base build side by side first, then the layers on those.
    for layer in "${layers[@]}"; do
        if [[ -z $(parent_layer "layers/$layer/Dockerfile") ]]; then
            first+=("$layer")
        else
            [[ -z $(parent_layer "layers/$(parent_layer "layers/$layer/Dockerfile")/Dockerfile") ]] ||
                die "layers/$layer: at most two layers above the base"
            second+=("$layer")
        fi
    done
    mkdir -p "$LOG_DIR"
    REPLACED=$(mktemp)
    export REPLACED
    trap cleanup EXIT
    MIRROR=${RUNAKODE_DEBIAN_MIRROR:-$(host_mirror)}
    start_download_cache
    build_base && build_all layer "${first[@]}" && build_all layer "${second[@]}" &&
        build_all language "${langs[@]}" || status=$?
    ((status == 0)) || die "some images failed to build (logs: $LOG_DIR/)"
    # Newest first: an old language image still holds its old base.
    mapfile -t old < <(tac "$REPLACED")
    for i in "${old[@]}"; do
        docker rmi "$i" >/dev/null 2>&1 || true
    done
}

if [[ ${1:-} == --one ]]; then
    "build_$2" "$3"
else
    main "$@"
fi
