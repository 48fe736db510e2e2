#!/usr/bin/env bash
# Schema-driven testing of the live API: starts the real binary (`serve` on the
# mock provider, a temp config, a free port, a bearer token) and runs
# schemathesis with docs/openapi.yaml against it. Fails on any 5xx, crash
# (the server must still answer /healthz afterwards and exit 0 on SIGTERM) or
# answer that does not conform to the spec.
# Usage: scripts/schemathesis.sh [MAX_EXAMPLES] [MAX_SECONDS]   (defaults 25, 90)
#   INTERLINK_BINARY  the binary to test (default .build/debug/interlink)
#   SCHEMATHESIS_PHASES  default examples,coverage,fuzzing; make fuzz adds stateful
#                     (create, then status/logs/delete of that pod, by the spec's links)
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-25}"
max_time="${2:-90}"
binary="${INTERLINK_BINARY:-$PWD/.build/debug/interlink}"
[ -x "$binary" ] || { echo "schemathesis.sh: no binary at $binary (swift build first)" >&2; exit 2; }
command -v schemathesis >/dev/null || { echo "schemathesis.sh: schemathesis is not installed (scripts/install-deps.sh test)" >&2; exit 2; }

dir="$(mktemp -d /tmp/il-schemathesis-XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
token="st-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$token" >"$dir/token"
cat >"$dir/InterLinkConfig.yaml" <<YAML
InterlinkAddress: http://127.0.0.1
InterlinkPort: $port
DataRootFolder: $dir/data
Provider: mock
MockRunSeconds: 1
ReconcileIntervalSeconds: 0.5
VKTokenFile: $dir/token
InstanceName: st-${port}
YAML

"$binary" serve --config "$dir/InterLinkConfig.yaml" >"$dir/server.log" 2>&1 &
pid=$!
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap 'stop; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "server exited at start:"; cat "$dir/server.log"; exit 1; }
  sleep 0.1
done

# Checks: everything except
# - positive_data_acceptance: a schema-valid pod can still be refused with 400
#   for what JSON Schema cannot say (container names used twice, a volume
#   source InterLink does not support, Tail and Bytes both set); /getLogs of a
#   pod never created is 404;
# - use_after_free / ensure_resource_availability: /create is idempotent and
#   /status answers unknown pods with empty containers, by design (WIRE.md).
# --mode all sends schema-valid and schema-violating bodies; the examples and
# coverage phases add the edge values of each schema.
set +e
# From the temp dir: schemathesis keeps a cache (.schemathesis/) in its working directory.
repo="$PWD"
(cd "$dir" && SCHEMATHESIS_HOOKS= schemathesis run "$repo/docs/openapi.yaml" \
  --url "http://127.0.0.1:$port" \
  -H "Authorization: Bearer $token" \
  --checks all \
  --exclude-checks positive_data_acceptance,use_after_free,ensure_resource_availability \
  --mode all --phases "${SCHEMATHESIS_PHASES:-examples,coverage,fuzzing}" \
  --max-examples "$examples" --max-time "$max_time" \
  --seed 18 --request-timeout 10 --workers 1 \
  --suppress-health-check all --warnings off \
  --report junit --report-dir "$dir/report") 2>&1 | tee "${SCHEMATHESIS_OUT:-$dir/schemathesis.out}" | grep -vE '^\s*$'
rc=${PIPESTATUS[0]}
set -e

if ! kill -0 "$pid" 2>/dev/null; then
  echo "schemathesis.sh: the server died during the run:"; tail -40 "$dir/server.log"; exit 1
fi
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "schemathesis.sh: /healthz no longer answers"; exit 1; }
if grep -q '"level":"error"' "$dir/server.log"; then
  echo "schemathesis.sh: the server logged errors:"; grep '"level":"error"' "$dir/server.log" | head -20; rc=1
fi
kill -TERM "$pid"; code=0; wait "$pid" || code=$?
[ "$code" -eq 0 ] || { echo "schemathesis.sh: the server exited $code on SIGTERM"; rc=1; }
trap 'rm -rf "$dir"' EXIT
exit "$rc"
