#!/usr/bin/env bash
# Prepares this host for runakode: packages, Docker with gVisor, RabbitMQ, PostgreSQL, sandbox
# images, .venv.
# Idempotent: every step is skipped quickly when already done. Run as root (make setup).
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

readonly DAEMON_JSON=/etc/docker/daemon.json
readonly DOCKERD_LOG=/var/log/runakode-dockerd.log
readonly RABBITMQ_LOG=/var/log/runakode-rabbitmq.log
readonly VENV_STAMP=.venv/.runakode-pyproject.sha256

log() {
    printf '%s\n' "$*"
}

die() {
    printf 'setup: %s\n' "$*" >&2
    exit 1
}

# Polls CMD... once per 0.5 s until it succeeds or SECONDS_MAX have passed.
wait_for() {
    local seconds_max=$1 deadline
    shift
    deadline=$((SECONDS + seconds_max))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

venv_usable() {
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1
}

install_packages() {
    local missing=() policy=/usr/sbin/policy-rc.d
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v runsc >/dev/null || missing+=(runsc)
    command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    # The image builds' shared apt download cache (scripts/build-images.sh).
    command -v apt-cacher-ng >/dev/null || missing+=(apt-cacher-ng)
    # Builds the sandboxes' static spawn helper (sandbox/images/base/spawn.c).
    command -v gcc >/dev/null || missing+=(gcc)
    [[ -f /usr/include/stdio.h ]] || missing+=(libc6-dev)
    postgres_installed || missing+=(postgresql)
    command -v python3 >/dev/null || missing+=(python3)
    venv_usable || missing+=(python3-venv)
    # The tests drive the npm Piston client (piston-client) with node.
    command -v npm >/dev/null || missing+=(npm)
    # The playground's browser tests (Playwright drives Debian's chromium, headless).
    command -v chromium >/dev/null || missing+=(chromium)
    if ((${#missing[@]} == 0)); then
        log "packages: present"
        return
    fi
    log "packages: installing ${missing[*]}"
    # Without systemd, a package's postinst may start its service itself: dockerd would
    # come up with the default bridge, which must never exist here. 101 = "action forbidden".
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Prints "changed" or "unchanged"; other keys of an existing daemon.json are kept.
# --oci-seccomp: runsc ignores a container's seccomp profile without it, and the sandboxes' own
# profile (src/runakode/sandboxes/seccomp.py) is what refuses namespaces inside them.
write_daemon_json() {
    python3 - "$DAEMON_JSON" "$(command -v runsc)" <<'EOF'
import json, os, sys

path, runsc = sys.argv[1], sys.argv[2]
want = {"path": runsc, "runtimeArgs": ["--platform=ptrace", "--network=none", "--oci-seccomp"]}
try:
    with open(path) as f:
        text = f.read()
except FileNotFoundError:
    text = ""
conf = json.loads(text) if text.strip() else {}
if conf.get("runtimes", {}).get("runsc") == want:
    print("unchanged")
    sys.exit()
conf.setdefault("runtimes", {})["runsc"] = want
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path + ".tmp", "w") as f:
    json.dump(conf, f, indent=2)
    f.write("\n")
os.replace(path + ".tmp", path)
print("changed")
EOF
}

# The runsc runtime as the running engine reports it, in the engine's own JSON form.
engine_runsc() {
    docker info --format '{{json .Runtimes.runsc}}' 2>/dev/null
}

wanted_runsc() {
    printf '{"path":"%s","runtimeArgs":["--platform=ptrace","--network=none","--oci-seccomp"]}' \
        "$(command -v runsc)"
}

test_engine_runsc() {
    [[ $(engine_runsc) == "$(wanted_runsc)" ]]
}

dockerd_pid() {
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null) || return 1
    [[ -n $pid && -d /proc/$pid ]] && [[ $(cat "/proc/$pid/comm") == dockerd ]] && echo "$pid"
}

start_dockerd() {
    # No bridge and no iptables rules: sandboxes run with --network=none, and this host
    # must never route traffic to private address ranges.
    setsid nohup dockerd --bridge=none --iptables=false --ip-forward=false \
        >>"$DOCKERD_LOG" 2>&1 </dev/null &
    wait_for 30 docker info || die "dockerd did not answer within 30 s (see $DOCKERD_LOG)"
}

ensure_docker() {
    local changed pid
    changed=$(write_daemon_json)
    log "gvisor: daemon.json $changed"
    if docker info >/dev/null 2>&1; then
        log "docker: running"
    elif dockerd_pid >/dev/null; then
        log "docker: waiting for the running dockerd"
        wait_for 30 docker info || die "dockerd is running but does not answer"
    else
        log "docker: starting dockerd"
        start_dockerd
    fi
    if [[ $(engine_runsc) != "$(wanted_runsc)" ]]; then
        pid=$(dockerd_pid) || die "runsc missing from the engine and no dockerd pid to reload"
        log "gvisor: reloading dockerd"
        kill -HUP "$pid"
        wait_for 15 test_engine_runsc || die "dockerd did not pick up the runsc runtime"
    fi
}

# PostgreSQL, for API and workers on several hosts (store.url: postgresql://...); the tests use
# it for real. Debian's cluster listens on 127.0.0.1 only (listen_addresses = 'localhost').
readonly PG_ROLE=runakode
readonly PG_DATABASE=runakode

postgres_installed() {
    command -v pg_ctlcluster >/dev/null && [[ -n $(postgres_cluster) ]]
}

# "VERSION NAME" of the first cluster Debian's tools know of.
postgres_cluster() {
    pg_lsclusters --no-header 2>/dev/null | awk 'NR == 1 { print $1, $2 }'
}

postgres_ready() {
    su postgres -c "psql -qtAc 'SELECT 1'" >/dev/null 2>&1
}

psql_admin() {
    su postgres -c "psql -v ON_ERROR_STOP=1 -qtA $(printf '%q ' "$@")"
}

ensure_postgres() {
    local cluster
    cluster=$(postgres_cluster)
    [[ -n $cluster ]] || die "postgresql is installed but has no cluster (pg_createcluster)"
    if postgres_ready; then
        log "postgres: running"
    else
        log "postgres: starting cluster $cluster"
        # shellcheck disable=SC2086 # two words on purpose: version and name
        pg_ctlcluster $cluster start || die "postgres did not start (see /var/log/postgresql/)"
        wait_for 30 postgres_ready || die "postgres did not answer within 30 s"
    fi
    if [[ $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE'") != 1 ]]; then
        log "postgres: creating role $PG_ROLE"
        psql_admin -c "CREATE ROLE $PG_ROLE LOGIN PASSWORD '$PG_ROLE'"
    fi
    if [[ $(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'") != 1 ]]; then
        log "postgres: creating database $PG_DATABASE"
        psql_admin -c "CREATE DATABASE $PG_DATABASE OWNER $PG_ROLE"
    fi
}

rabbitmq_port_open() {
    (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null
}

ensure_rabbitmq() {
    # epmd may be started by rabbitmqctl as well as by the server: keep it on loopback either way.
    export ERL_EPMD_ADDRESS=127.0.0.1
    if rabbitmq_port_open; then
        log "rabbitmq: running"
        return
    fi
    if rabbitmqctl -q ping >/dev/null 2>&1; then
        # The node is up with its app stopped (as after `rabbitmqctl stop_app`).
        log "rabbitmq: starting the stopped app"
        rabbitmqctl -q start_app >/dev/null 2>&1 || true
    else
        log "rabbitmq: starting rabbitmq-server"
        # Loopback only: AMQP, the Erlang distribution port and epmd.
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
            setsid rabbitmq-server -detached >>"$RABBITMQ_LOG" 2>&1 </dev/null
        # -detached returns before the node exists, and await_startup fails on a missing node.
        wait_for 30 rabbitmqctl -q ping || die "rabbitmq node did not come up (see /var/log/rabbitmq/)"
    fi
    timeout 90 rabbitmqctl -q await_startup --timeout 60 >/dev/null ||
        die "rabbitmq did not start (see /var/log/rabbitmq/)"
    wait_for 10 rabbitmq_port_open || die "rabbitmq is up but 127.0.0.1:5672 is closed"
}

setup_venv() {
    local want
    if [[ ! -f pyproject.toml ]]; then
        log "venv: no pyproject.toml, skipped"
        return
    fi
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [[ -x .venv/bin/python && -f $VENV_STAMP && $(<"$VENV_STAMP") == "$want" ]]; then
        log "venv: up to date"
        return
    fi
    log "venv: installing .[dev,bench] into .venv"
    [[ -x .venv/bin/python ]] || python3 -m venv .venv
    .venv/bin/pip install -q -e '.[dev,bench]'
    echo "$want" >"$VENV_STAMP"
}

# The images of $LANGUAGES (make setup LANGUAGES=python,go,c), else of the config's
# supportedLanguages (every language by default).
build_images() {
    local recipes
    recipes=$(.venv/bin/python -m runakode.image_recipes) || die "no languages to build"
    # shellcheck disable=SC2086 # one recipe per word
    LANGUAGES= bash scripts/build-images.sh $recipes
}

main() {
    ((EUID == 0)) || die "run as root"
    install_packages
    ensure_docker
    ensure_rabbitmq
    ensure_postgres
    setup_venv
    build_images
    bash scripts/install-piston-client.sh
    bash scripts/build-playground.sh
}

main "$@"
