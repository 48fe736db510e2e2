#!/usr/bin/env bash
# Renders the kustomizations (the base quick start and every overlay) and
# validates each object against Kubernetes' own schema, strictly (unknown
# fields are errors). Used by scripts/test.sh and Tests/KubeClientTests.
set -euo pipefail
cd "$(dirname "$0")/.."
k8s_version="${K8S_SCHEMA_VERSION:-1.33.0}"
status=0
for dir in kustomizations kustomizations/overlays/*/; do
  dir="${dir%/}"
  out="$(mktemp)"
  if ! kubectl kustomize "$dir" >"$out"; then
    echo "manifests: kubectl kustomize $dir failed"; status=1; continue
  fi
  if kubernetes-validate --strict --quiet -k "$k8s_version" "$out"; then
    echo "manifests: $dir: $(grep -c '^kind:' "$out") objects valid (Kubernetes $k8s_version, strict)"
  else
    echo "manifests: $dir: invalid objects (above)"; status=1
  fi
  rm -f "$out"
done
exit "$status"
