#!/usr/bin/env bash
# libFuzzer runs of InterLink's hand-written parsers and generators (the
# targets are in Fuzz/, a package of its own so -sanitize=fuzzer never reaches
# the main build). Each target starts from its seed corpus in Fuzz/Corpus/
# (which also holds every input that once crashed it) and runs for SECONDS;
# the summary prints executions and crashes per target.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]    (default 60 s, every target)
#   FUZZ_CONFIG=release  build optimised (slower build, faster runs)
# New corpus entries go to Fuzz/work/<target> (not committed); crash inputs to
# Fuzz/work/crashes/. A crash makes the exit code 1: turn the input into a
# regression test and copy it into Fuzz/Corpus/<target>/regress-<what>.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-${FUZZ_SECONDS:-60}}"; shift || true
all=(http-parser yaml json-create json-logs json-pods slurm-script)
targets=("$@"); ((${#targets[@]})) || targets=("${all[@]}")
config="${FUZZ_CONFIG:-debug}"

flags=(--sanitize=fuzzer -c "$config")
# @testable imports (the targets check internal invariants) need testability in release too.
[ "$config" = release ] && flags+=(-Xswiftc -enable-testing)
log="$(mktemp)"
# SwiftPM reuses its build plan for a path dependency even when files were added
# to it (seen with 6.3.1: "cannot find 'X' in scope" after a pull); re-planning is cheap.
rm -f "Fuzz/.build/$config.yaml" "Fuzz/.build/$config/description.json"
if ! (cd Fuzz && swift build "${flags[@]}" >"$log" 2>&1); then
  grep -E 'error' "$log" | sort -u | head -20 || tail -20 "$log"
  echo "fuzz: building the fuzz targets failed (full log: $log)"; exit 1
fi
bin="Fuzz/.build/$config/interlink-fuzz"

work=Fuzz/work
mkdir -p "$work/crashes"
export SWIFT_BACKTRACE=enable=no   # libFuzzer reports the crash; the Swift backtracer only slows it
rc=0
summary=()
for t in "${targets[@]}"; do
  [ -d "Fuzz/Corpus/$t" ] || { echo "fuzz: unknown target $t (one of: ${all[*]})"; exit 2; }
  mkdir -p "$work/$t"
  dict=(); [ -f "Fuzz/Dictionaries/$t.dict" ] && dict=(-dict="Fuzz/Dictionaries/$t.dict")
  out="$work/$t.log"
  before=$(ls "$work/crashes" | grep -c "^$t-" || true)
  set +e
  FUZZ_TARGET="$t" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/crashes/$t-" "${dict[@]}" \
    "$work/$t" "Fuzz/Corpus/$t" >"$out" 2>&1
  code=$?
  set -e
  after=$(ls "$work/crashes" | grep -c "^$t-" || true)
  execs=$(grep -aoE 'stat::number_of_executed_units: [0-9]+' "$out" | tail -1 | grep -oE '[0-9]+$' || echo 0)
  corpus=$(ls "$work/$t" | wc -l)
  crashes=$((after - before))
  if [ "$code" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi   # died without an artifact: still a failure
  summary+=("$(printf '%-14s %6ss %10s execs %8s exec/s  corpus %5s  crashes %s' "$t" "$seconds" "$execs" \
    "$((execs / (seconds > 0 ? seconds : 1)))" "$corpus" "$crashes")")
  if [ "$crashes" -ne 0 ]; then
    rc=1
    echo "fuzz: $t CRASHED (log $out):"
    grep -aE 'Fatal error|ERROR: libFuzzer|SUMMARY|Test unit written' "$out" | head -5 | cut -c1-400
  fi
done
echo "fuzz summary (libFuzzer, -sanitize=fuzzer, $config build):"
printf '  %s\n' "${summary[@]}"
exit "$rc"
