#!/usr/bin/env bash
# Recipe of the runakode-base root filesystem, run by scripts/build-images.sh.
# Usage: rootfs.sh DIR MIRROR
# build-images.sh hashes this directory: any change here rebuilds every sandbox image.
set -euo pipefail

dir=$1
mirror=$2

includes=python3
# apt inside the language images needs the CA bundle to reach an https mirror.
[[ $mirror == https:* ]] && includes+=,ca-certificates

# debootstrap writes "deb $mirror bookworm main" to the rootfs sources.list, which is
# what lets the language Dockerfiles apt-get install with `docker build --network host`.
debootstrap --variant=minbase --include="$includes" bookworm "$dir" "$mirror"

# minbase has no useradd; a fixed uid/gid lets the service run as 10001:10001 without lookups.
echo 'runner:x:10001:' >>"$dir/etc/group"
echo 'runner:x:10001:10001:runakode sandbox:/work:/usr/sbin/nologin' >>"$dir/etc/passwd"
install -d -m 0755 -o 10001 -g 10001 "$dir/work"
install -d -m 0755 "$dir/opt/runakode"
# The launcher runs each program through this small helper, so that the program's measured
# peak memory is its own (spawn.c says why). Static: the rootfs needs no compiler.
gcc -static -O2 -s -Wall -Wextra -Werror -o "$dir/opt/runakode/runakode-spawn" "$(dirname "$0")/spawn.c"
chmod 0755 "$dir/opt/runakode/runakode-spawn"

# Keep what the language images apt-get install later slim as well.
cat >"$dir/etc/dpkg/dpkg.cfg.d/runakode-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF
cat >"$dir/etc/apt/apt.conf.d/runakode-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF

# How every image recipe installs Debian packages: through the build's shared download cache
# (APT_PROXY: apt-cacher-ng on the build host's loopback) when the build has one, leaving no
# package lists or downloaded archives in the layer.
cat >"$dir/usr/local/sbin/runakode-install" <<'EOF'
#!/bin/sh
set -e
proxy=${APT_PROXY:+Acquire::http::Proxy=$APT_PROXY}
# Some packages' post-install scripts expect the man directories this slim base removed.
mkdir -p /usr/share/man/man1
apt-get -qq ${proxy:+-o "$proxy"} update
DEBIAN_FRONTEND=noninteractive apt-get -qq -y ${proxy:+-o "$proxy"} install "$@" >/dev/null
rm -rf /var/lib/apt/lists/* /var/cache/apt/*
EOF
chmod 0755 "$dir/usr/local/sbin/runakode-install"

rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/*
find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
find "$dir/var/log" -type f -delete
