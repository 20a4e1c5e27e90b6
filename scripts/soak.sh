#!/usr/bin/env bash
# Soak: loadprof's own memory over a long run. `loadprof load` drives nginx
# on loopback at a steady rate, and `loadprof sample` samples a busy Python
# process tree at 10 Hz, both for DURATION (default 1h), side by side; every
# minute this prints each one's RSS and its anonymous part (heap and
# stacks: what loadprof allocates; the rest is mapped files, such as the
# binary's own pages, which the kernel may drop and read back at any time),
# and at the end the growth of each from the first minute to the last (the
# goal is under 2 MB).
# Usage: scripts/soak.sh [DURATION] [RATE]   e.g. scripts/soak.sh 1h 500
#   LOADPROF_BIN=path soaks that binary instead of building target/release.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-1h}
rate=${2:-500}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
bin=${LOADPROF_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -q
  bin=$PWD/target/release/loadprof
fi
work=$(mktemp -d)
port=18491
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
error_log $work/error.log;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
EOF
nginx -c "$work/nginx.conf" -p "$work"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  nginx -c "$work/nginx.conf" -p "$work" -s stop 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# A target that keeps its tree busy: a parent with two children that churn.
python3 -c '
import os, time
for _ in range(2):
    if os.fork() == 0:
        while True:
            _ = [bytes(4096) for _ in range(256)]
            time.sleep(0.01)
while True:
    time.sleep(1)
' &
target=$!
pids+=("$target")
"$bin" load "http://127.0.0.1:$port/" --rate "$rate" -c 64 -d "$duration" -o "$work/load.json" >/dev/null 2>&1 &
load=$!
pids+=("$load")
"$bin" sample --pid "$target" --interval 100ms --duration "$duration" -o "$work/samples.csv" >/dev/null 2>&1 &
sample=$!
pids+=("$sample")
# KiB of a status field (VmRSS, RssAnon) of a process, 0 once it is gone.
field() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
printf '%8s %14s %10s %16s %10s\n' minute "load RSS KiB" anon "sample RSS KiB" anon
first=(); last=(0 0 0 0); minute=0
while kill -0 "$load" 2>/dev/null || kill -0 "$sample" 2>/dev/null; do
  sleep 60
  minute=$((minute + 1))
  now=("$(field "$load" VmRSS)" "$(field "$load" RssAnon)" "$(field "$sample" VmRSS)" "$(field "$sample" RssAnon)")
  [ "${now[0]}" = 0 ] && [ "${now[2]}" = 0 ] && break
  printf '%8d %14s %10s %16s %10s\n' "$minute" "${now[@]}"
  [ ${#first[@]} -gt 0 ] || first=("${now[@]}")
  for i in 0 1 2 3; do [ "${now[$i]:-0}" = 0 ] || last[$i]=${now[$i]}; done
done
wait "$load" || echo "loadprof load exited with $?"
wait "$sample" || echo "loadprof sample exited with $?"
echo
echo "growth from minute 1 to the end (goal: < 2048 KiB): load RSS $((last[0] - first[0])) KiB, anon $((last[1] - first[1])) KiB; sample RSS $((last[2] - first[2])) KiB, anon $((last[3] - first[3])) KiB"
python3 - "$work/load.json" <<'EOF'
import json, sys
load = json.load(open(sys.argv[1]))["load"]
d = load["totals"]
print(f"load: {d['requests']} requests, {d['errors']} errors, {d['rps']:.1f}/s")
# The open model starts a worker (a connection and its buffers) whenever
# every started one is busy, up to -c: a burst of slow answers raises the
# memory once, to the most requests that were in flight together.
print(f"load: {load['workers']} workers started (at most {load['max_in_flight']})")
EOF
echo "sample: $(($(wc -l <"$work/samples.csv") - 1)) rows"
