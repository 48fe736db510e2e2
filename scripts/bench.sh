#!/usr/bin/env bash
# `make bench`: server and reconciler benchmarks on the mock provider, printed
# as tables. Figures are for comparing runs on the same machine, not targets.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test >/dev/null
bin=.build/release/interlink
[ -x "$bin" ] || swift build -c release --product interlink
duration="${BENCH_SECONDS:-5}"
work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/config.yaml" <<YAML
InterlinkAddress: http://127.0.0.1
InterlinkPort: $port
DataRootFolder: $work/data
Provider: mock
MockRunSeconds: 3600
YAML
"$bin" serve --config "$work/config.yaml" 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

uid=$(python3 -c 'import uuid; print(uuid.uuid4())')
pod="{\"metadata\":{\"name\":\"bench\",\"namespace\":\"default\",\"uid\":\"$uid\"},\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"busybox\"}]}}"
curl -fsS -X POST -H 'Content-Type: application/json' -d "{\"pod\":$pod}" "http://127.0.0.1:$port/create" >/dev/null
export STATUS_BODY="[$pod]"

echo "== HTTP API (mock provider, keep-alive, ${duration}s per row, wrk) =="
echo "   'vs base' compares req/s with GET /healthz (no JSON, no auth) at the same concurrency, same run"
printf '%-10s %8s %12s %10s %10s %8s\n' route clients req/s p50 p99 "vs base"
declare -A base
for route in health status ping; do
  path=/status; [ $route = ping ] && path=/pinglink; [ $route = health ] && path=/healthz
  for c in 1 64; do
    t=$(( c < 2 ? 1 : 2 ))
    out=$(wrk -t$t -c$c -d${duration}s --latency -s scripts/bench/$route.lua "http://127.0.0.1:$port$path" 2>&1)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    [ $route = health ] && base[$c]=$rps
    ratio=$(python3 -c "print(f'{float(\"$rps\")/float(\"${base[$c]}\"):.2f}x')" 2>/dev/null || echo "?")
    printf '%-10s %8s %12s %10s %10s %8s %s\n' "$path" "$c" "$rps" "$p50" "$p99" "$ratio" "${non2xx:+(non-2xx: $non2xx)}"
  done
done

echo
scripts/bench/http.sh "$duration"

echo
echo "== Reconciler (mock provider and Slurm provider with fake sbatch/squeue/scancel, in process) =="
"$bin" bench reconcile --pods "${BENCH_PODS:-100,1000,10000}"

echo
echo "== Kubernetes API requests per pod lifecycle (status patcher vs the contract API server) =="
python3 scripts/bench/kube.py "$bin" "${BENCH_KUBE_PODS:-50}"

echo
echo "== Virtual-kubelet mode: API requests per pod lifecycle and per minute at idle (interlink vk vs the contract API server) =="
python3 scripts/bench/vk.py "$bin" "${BENCH_VK_PODS:-50}" "${BENCH_VK_IDLE_PODS:-1000}" "${BENCH_VK_WINDOW:-30}"

echo
echo "== Backends (InterLink vs a plain CLI loop, same run) =="
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"; scripts/slurm.sh stop >/dev/null 2>&1 || true; scripts/dockerd.sh stop >/dev/null 2>&1 || true' EXIT
scripts/dockerd.sh start >/dev/null && eval "$(scripts/dockerd.sh env)"
python3 scripts/bench/backends.py docker
scripts/slurm.sh start >/dev/null && eval "$(scripts/slurm.sh env)"
python3 scripts/bench/backends.py slurm
