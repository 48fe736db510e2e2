#!/usr/bin/env bash
# `make bench`, HTTP part: GET /status (the VK's request, one pod) at 1, 64 and
# 1,000 keep-alive connections, plain and TLS, against the release binary and,
# in the same run, against scripts/bench/baseline.c answering the same fixed
# bytes (the response our server gave). Prints req/s, p50, p99 for both, the
# ratio ours/baseline, and our server's RSS before and after each row.
# Usage: scripts/bench/http.sh [seconds]   (needs wrk, openssl, a C compiler)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-${BENCH_SECONDS:-5}}"
bin=.build/release/interlink
[ -x "$bin" ] || swift build -c release --product interlink >/dev/null
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cc="${CC:-cc}"; command -v "$cc" >/dev/null || cc=clang
"$cc" -O2 -o "$work/baseline" scripts/bench/baseline.c -lpthread -lssl -lcrypto
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null

uid=$(python3 -c 'import uuid; print(uuid.uuid4())')
pod="{\"metadata\":{\"name\":\"bench\",\"namespace\":\"default\",\"uid\":\"$uid\"},\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"busybox\"}]}}"
export STATUS_BODY="[$pod]"

# start_interlink NAME SCHEME -> sets port_NAME, pid_NAME
start_interlink() {
  local name=$1 scheme=$2 port; port=$(free_port)
  local tls=""
  [ "$scheme" = https ] && tls=$'TLS:\n  Enabled: true\n  CertFile: '"$work/cert.pem"$'\n  KeyFile: '"$work/key.pem"
  cat >"$work/$name.yaml" <<YAML
InterlinkAddress: $scheme://127.0.0.1
InterlinkPort: $port
DataRootFolder: $work/data-$name
Provider: mock
MockRunSeconds: 3600
MaxConnections: 4000
ErrorsOnlyLogging: true
$tls
YAML
  "$bin" serve --config "$work/$name.yaml" 2>"$work/$name.log" &
  local pid=$!; pids+=("$pid")
  for _ in $(seq 100); do curl -fsSk "$scheme://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsSk -X POST -H 'Content-Type: application/json' -d "{\"pod\":$pod}" "$scheme://127.0.0.1:$port/create" >/dev/null
  printf -v "port_$name" %s "$port"; printf -v "pid_$name" %s "$pid"
}

start_interlink plain http
start_interlink tls https
# The fixed bytes: exactly what our server answers to the VK's /status (status line, headers, body).
python3 - "$port_plain" "$work/response" <<'PY'
import os, socket, sys
port, out = int(sys.argv[1]), sys.argv[2]
body = os.environ["STATUS_BODY"].encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /status HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
data = b""
while b"\r\n\r\n" not in data: data += s.recv(65536)
head, rest = data.split(b"\r\n\r\n", 1)
length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
while len(rest) < length: rest += s.recv(65536)
open(out, "wb").write(head + b"\r\n\r\n" + rest[:length])
PY
bport_plain=$(free_port); "$work/baseline" "$bport_plain" "$work/response" & pids+=($!)
bport_tls=$(free_port); "$work/baseline" "$bport_tls" "$work/response" "$work/cert.pem" "$work/key.pem" & pids+=($!)
sleep 0.3

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# measure URL CONNECTIONS -> "req/s p50 p99 errors"
measure() {
  local url=$1 c=$2 t=2; [ "$c" -lt 2 ] && t=1
  local out; out=$(wrk -t$t -c"$c" -d"${duration}s" --latency --timeout 10s -s scripts/bench/status.lua "$url" 2>&1)
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Socket errors/ {gsub(",",""); s+=$4+$6+$8+$10} /Non-2xx/ {s+=$NF} END {print s+0}' <<<"$out")
  echo "${rps:-0} ${p50:--} ${p99:--} ${errs:-0}"
}

echo "== /status throughput: InterLink vs a minimal C server answering the same bytes (same run, ${duration}s per cell, wrk) =="
printf '%-6s %6s | %10s %9s %9s %6s | %10s %9s %9s | %6s | %s\n' mode conns "req/s" p50 p99 errors "base req/s" p50 p99 ratio "RSS KiB before -> after"
for mode in plain tls; do
  scheme=http; [ $mode = tls ] && scheme=https
  ours_port=port_$mode; base_port=bport_$mode; pid=pid_$mode
  for c in 1 64 1000; do
    before=$(rss "${!pid}")
    read -r rps p50 p99 errs < <(measure "$scheme://127.0.0.1:${!ours_port}/status" "$c")
    after=$(rss "${!pid}")
    read -r brps bp50 bp99 _ < <(measure "$scheme://127.0.0.1:${!base_port}/status" "$c")
    ratio=$(python3 -c "print(f'{float(\"$rps\")/float(\"$brps\"):.2f}x')" 2>/dev/null || echo "?")
    printf '%-6s %6s | %10s %9s %9s %6s | %10s %9s %9s | %6s | %s -> %s\n' "$mode" "$c" "$rps" "$p50" "$p99" "$errs" "$brps" "$bp50" "$bp99" "$ratio" "$before" "$after"
  done
done
echo "   ratio = our req/s / baseline req/s; the baseline does no HTTP parsing, JSON or status lookup."
