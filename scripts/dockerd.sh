#!/usr/bin/env bash
# A private dockerd for the Docker provider's tests, isolated from any system
# daemon: its own data root, socket, exec root and pid file under $ROOT, no
# iptables, no bridge, vfs storage (works in any container). It also builds a
# tiny local test image from Debian's busybox-static, since no registry is
# reachable in tests.
#
# Usage: scripts/dockerd.sh start|stop|env|status
#   ROOT = $INTERLINK_TEST_ROOT/docker (INTERLINK_TEST_ROOT defaults to /tmp/interlink-test)
#   start: idempotent; waits until `docker version` answers, then builds the image if missing.
#   stop:  SIGTERM, wait, then SIGKILL; safe when not running.
#   env:   prints the exports the tests read (eval "$(scripts/dockerd.sh env)").
set -euo pipefail

ROOT="${INTERLINK_TEST_ROOT:-/tmp/interlink-test}/docker"
SOCK="$ROOT/docker.sock"
PIDFILE="$ROOT/docker.pid"
LOG="$ROOT/dockerd.log"
IMAGE="${INTERLINK_TEST_IMAGE_NAME:-interlink-test/busybox:latest}"
DOCKER="${DOCKER_CLI:-docker}"
DOCKERD="${DOCKERD:-dockerd}"
START_TIMEOUT="${DOCKERD_START_TIMEOUT:-60}"

export DOCKER_HOST="unix://$SOCK"

die() { echo "dockerd.sh: $*" >&2; exit 1; }

running_pid() {
  # Prints the daemon's pid when the pid file names a live dockerd.
  [ -f "$PIDFILE" ] || return 1
  local pid; pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

answers() { "$DOCKER" version >/dev/null 2>&1; }

build_image() {
  "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  local busybox=/bin/busybox
  [ -x "$busybox" ] || die "$busybox not found: install Debian's busybox-static (scripts/install-deps.sh test)"
  ROOTFS="$(mktemp -d "$ROOT/rootfs.XXXXXX")"
  # Always remove the scratch tree, whatever happens below.
  trap 'rm -rf "$ROOTFS"' EXIT
  local rootfs="$ROOTFS"
  # mktemp makes the directory 0700: the image's / must be traversable by any user.
  chmod 755 "$rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/root"
  chmod 1777 "$rootfs/tmp"
  cp "$busybox" "$rootfs/bin/busybox"
  # `--install -s DIR` would install into the host; chroot so the links land in the rootfs.
  chroot "$rootfs" /bin/busybox --install -s /bin
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | "$DOCKER" import -c 'CMD ["/bin/sh"]' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null \
    || die "docker import of $IMAGE failed"
  echo "dockerd.sh: built $IMAGE" >&2
}

start() {
  command -v "$DOCKERD" >/dev/null || die "$DOCKERD not found (install docker.io: scripts/install-deps.sh test)"
  command -v "$DOCKER" >/dev/null || die "$DOCKER CLI not found on PATH"
  mkdir -p "$ROOT/data" "$ROOT/exec"
  if running_pid >/dev/null; then
    answers || wait_until_up
  else
    rm -f "$SOCK" "$PIDFILE"
    # setsid: the daemon must not die with the shell (or test run) that started it.
    setsid "$DOCKERD" --data-root "$ROOT/data" -H "unix://$SOCK" --exec-root "$ROOT/exec" \
      --pidfile "$PIDFILE" --iptables=false --ip6tables=false --bridge=none \
      --storage-driver=vfs >>"$LOG" 2>&1 </dev/null &
    wait_until_up
  fi
  build_image
}

wait_until_up() {
  local waited=0
  until answers; do
    if [ "$waited" -ge "$((START_TIMEOUT * 4))" ]; then
      echo "dockerd.sh: dockerd did not answer on $SOCK within ${START_TIMEOUT}s; last lines of $LOG:" >&2
      tail -n 30 "$LOG" >&2 || true
      exit 1
    fi
    sleep 0.25; waited=$((waited + 1))
  done
}

stop() {
  local pid
  pid="$(running_pid)" || { rm -f "$PIDFILE"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "dockerd.sh: dockerd $pid ignored SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) printf 'export INTERLINK_TEST_DOCKER_HOST=%q; export INTERLINK_TEST_IMAGE=%q\n' "unix://$SOCK" "$IMAGE" ;;
  status) if running_pid >/dev/null && answers; then echo "running ($DOCKER_HOST)"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
