#!/usr/bin/env bash
# Installs the Debian and PyPI packages that building, running and testing
# InterLink need. Idempotent: it only calls apt-get when something is missing.
# Usage: scripts/install-deps.sh [build|test|image|all]   (default: build)
set -euo pipefail
what="${1:-build}"

build_pkgs=(libcurl4-openssl-dev pkg-config libssl-dev)
test_pkgs=(docker.io slurm-wlm munge busybox-static wrk curl iproute2 openssl debootstrap)

pkgs=("${build_pkgs[@]}")
case "$what" in
  build) ;;
  image) pkgs+=(debootstrap) ;;
  test|all) pkgs+=("${test_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|image|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Debian's docker.io ships its own client; the machine's newer static CLI
  # in /usr/local/bin stays first on PATH, which is what we want.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$what" = test ] || [ "$what" = all ]; then
  python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q PyYAML
  # Kubernetes' own schemas for the manifest and status-patch tests (pinned).
  kv_version=1.37.0
  python3 -m pip show kubernetes-validate 2>/dev/null | grep -q "^Version: $kv_version$" \
    || python3 -m pip install -q "kubernetes-validate==$kv_version"
  # kubectl renders the kustomizations; Debian's kubernetes-client is the fallback.
  if ! command -v kubectl >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
  fi
  # Spec validation and schema-driven testing (scripts/schemathesis.sh), pinned.
  python3 -m pip show schemathesis 2>/dev/null | grep -qx 'Version: 4.32.5' \
    && python3 -m pip show openapi-spec-validator 2>/dev/null | grep -qx 'Version: 0.9.0' \
    || python3 -m pip install -q "schemathesis==4.32.5" "openapi-spec-validator==0.9.0"
fi
