#!/usr/bin/env bash
# `make image`: builds the container image interlink:<version> and prints its
# name. Needs root (debootstrap) and a docker daemon (DOCKER_HOST is honoured).
#   1. a Debian 12 minbase root filesystem with libcurl4, ca-certificates, the
#      docker CLI, the Slurm client tools and munge, plus a non-root user, made
#      with debootstrap and imported with `docker import` (cached by content);
#   2. the release binary with the Swift stdlib linked statically;
#   3. Dockerfile: binary + config on that base, running as user 10001.
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(sed -n 's/^let version = "\(.*\)"$/\1/p' Sources/interlink/main.swift)"
[ -n "$version" ] || { echo "image: cannot read the version from Sources/interlink/main.swift" >&2; exit 1; }
name="interlink:$version"
log() { echo "image: $*" >&2; }

packages="libcurl4,ca-certificates,docker.io,adduser,passwd,munge,slurm-client,tzdata"
mirror="$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
mirror="${mirror:-http://deb.debian.org/debian}"
base_tag="interlink-base:bookworm-$(printf '%s' "$packages" | sha256sum | cut -c1-12)"
work="${INTERLINK_IMAGE_WORK:-.build/image}"
mkdir -p "$work"

if ! docker image inspect "$base_tag" >/dev/null 2>&1; then
  tarball="$work/${base_tag//[:\/]/_}.tar"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { log "debootstrap is missing (scripts/install-deps.sh test)"; exit 1; }
    rootfs="$(mktemp -d "$work/rootfs.XXXXXX")"
    chmod 755 "$rootfs"  # the chroot's /: package scripts run as other users (munge)
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap --variant=minbase bookworm ($packages) from $mirror"
    debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; tail -40 "$rootfs/debootstrap/debootstrap.log" >&2 2>/dev/null; exit 1; }
    # The non-root user the image runs as, and the directories it writes.
    echo "interlink:x:10001:10001:InterLink:/var/lib/interlink:/usr/sbin/nologin" >>"$rootfs/etc/passwd"
    echo "interlink:x:10001:" >>"$rootfs/etc/group"
    # munge made a key while installing: a key baked into an image would be
    # shared by everyone who pulls it. Mount the site's key at /etc/munge.
    rm -f "$rootfs/etc/munge/munge.key"
    mkdir -p "$rootfs/var/lib/interlink" "$rootfs/etc/interlink"
    chown 10001:10001 "$rootfs/var/lib/interlink"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . >"$tarball"
    rm -rf "$rootfs"; trap - EXIT
  fi
  log "docker import $base_tag"
  docker import "$tarball" "$base_tag" >/dev/null
fi

log "swift build -c release --static-swift-stdlib"
swift build -c release --static-swift-stdlib --product interlink >"$work/swift-build.log" 2>&1 \
  || { grep -E 'error' "$work/swift-build.log" | head -20 >&2; exit 1; }
# The Docker provider's probe helper (static C), found beside the executable.
swift build -c release --product interlink-probe >>"$work/swift-build.log" 2>&1 \
  || { grep -E 'error' "$work/swift-build.log" | head -20 >&2; exit 1; }

ctx="$(mktemp -d "$work/context.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc/interlink"
cp .build/release/interlink "$ctx/rootfs/usr/local/bin/interlink"
cp .build/release/interlink-probe "$ctx/rootfs/usr/local/bin/interlink-probe"
cp kustomizations/base/InterLinkConfig.yaml "$ctx/rootfs/etc/interlink/InterLinkConfig.yaml"
cp Dockerfile "$ctx/Dockerfile"
# Same base, binary, config and Dockerfile as the image we have: nothing to do.
content="$( (echo "$base_tag"; cd "$ctx" && find . -type f | sort | xargs sha256sum) | sha256sum | cut -c1-16)"
if [ "$(docker image inspect "$name" --format '{{index .Config.Labels "interlink.content"}}' 2>/dev/null)" = "$content" ]; then
  log "$name is up to date"
else
  log "docker build $name"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$base_tag" --build-arg "CONTENT=$content" -t "$name" "$ctx" >/dev/null
fi
echo "$name"
