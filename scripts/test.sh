#!/usr/bin/env bash
# `make test`: installs what the tests need, builds, starts a private dockerd
# and a one-node Slurm, runs every test (unit and integration), stops the
# services again and prints a summary. Exit code is swift test's.
set -euo pipefail
cd "$(dirname "$0")/.."
export INTERLINK_TEST_ROOT="${INTERLINK_TEST_ROOT:-/tmp/interlink-test}"

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
scripts/install-deps.sh test

step "build (debug, with tests)"
buildlog="$(mktemp)"
if ! swift build --build-tests >"$buildlog" 2>&1; then
  grep -E 'error|warning: unre' "$buildlog" | head -50 || tail -50 "$buildlog"
  echo "build failed (full log: $buildlog)"; exit 1
fi
tail -1 "$buildlog"
export INTERLINK_TEST_BINARY="$PWD/.build/debug/interlink"

step "kustomizations (kubectl kustomize + kubernetes-validate --strict)"
scripts/validate-manifests.sh

cleanup() {
  step "stopping test services"
  scripts/slurm.sh stop || true
  scripts/dockerd.sh stop || true
}
trap cleanup EXIT

step "starting dockerd (private, $INTERLINK_TEST_ROOT/docker)"
scripts/dockerd.sh start
eval "$(scripts/dockerd.sh env)"

step "container image (scripts/image.sh; the base is cached in .build/image)"
INTERLINK_TEST_KUBE_IMAGE="$(DOCKER_HOST="$INTERLINK_TEST_DOCKER_HOST" scripts/image.sh)"
export INTERLINK_TEST_KUBE_IMAGE
echo "$INTERLINK_TEST_KUBE_IMAGE"

step "starting a one-node Slurm ($INTERLINK_TEST_ROOT/slurm)"
scripts/slurm.sh start
eval "$(scripts/slurm.sh env)"

step "running tests"
log="$(mktemp)"
set +e
filter='^(✘|✔ Suite|􀢄|.*error:|.*Test run with)|recorded an issue|skipped'
# Three passes, each one test at a time: on 2 cores, tests side by side (real
# binaries, a shared dockerd, one Slurm with 8 CPUs, 1,000-connection load tests)
# queued each other's jobs past their deadlines and starved the timing of the
# in-process tests; in-process and provider tests first, then the end-to-end
# tests, then the load tests.
swift test --skip-build --no-parallel --skip IntegrationTests --skip VirtualKubeletTests --skip HTTPLoadTests 2>&1 | tee "$log" | grep -E "$filter"
rc=${PIPESTATUS[0]}
step "running the end-to-end tests (IntegrationTests, VirtualKubeletTests), one at a time"
swift test --skip-build --no-parallel --filter IntegrationTests --filter VirtualKubeletTests 2>&1 | tee -a "$log" | grep -E "$filter"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
step "running the load and slow-client tests (HTTPLoadTests)"
swift test --skip-build --no-parallel --filter HTTPLoadTests 2>&1 | tee -a "$log" | grep -E "$filter"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
set -e

# Issue 18, points 1-3: the published spec, the live server against it, a fuzz smoke.
step "openapi-spec-validator docs/openapi.yaml"
openapi-spec-validator docs/openapi.yaml || rc=1
python3 scripts/check-spec-fixtures.py || rc=1
step "schemathesis against the live server (mock provider, bounded)"
scripts/schemathesis.sh 25 45 || rc=1
step "fuzz smoke (libFuzzer, ${FUZZ_SMOKE_SECONDS:-5} s per target)"
scripts/fuzz.sh "${FUZZ_SMOKE_SECONDS:-5}" || rc=1

step "summary"
passed=$(grep -cE '^✔ Test .* passed after' "$log" || true)
failed=$(grep -E '^✘ Test .* failed after' "$log" | grep -cv '^✘ Test run with' || true)
skipped=$(grep -c '^➜ Test .* skipped' "$log" || true)
grep -E 'Test run with' "$log" | tail -1 || true
if [ "$failed" -gt 0 ]; then
  echo "failing tests:"; grep -E '^✘ Test ' "$log" | sed 's/^/  /'
  # Each issue with what follows it (the expectation's own message and the
  # test's comment lines), so a failure in CI can be read from the summary.
  echo "issue details:"
  awk '/recorded an issue/ { print "  " $0; n = 40; next }
       n > 0 && /^(✔|✘|◇|➜|􀟈|􀢄|Test Suite|Test Case)/ { n = 0 }
       n > 0 { print "    " substr($0, 1, 1000); n-- }' "$log" | head -400
fi
echo "full log: $log"
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
