#!/usr/bin/env bash
# Records the two real traces under tests/data/leak/: a Python HTTP server
# that keeps 2 KiB per request, and one whose cache fills and plateaus, each
# sampled once a second by `loadprof sample` for 4 minutes under 50 req/s
# from `loadprof load`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin=target/release/loadprof
record() {
  local mode=$1 port=$2
  "$bin" sample --interval 1s -d 240s -o "tests/data/leak/python-$mode.csv" -- python3 tests/data/leak/server.py "$port" "$mode" >/dev/null &
  local sampler=$!
  sleep 3
  "$bin" load "http://127.0.0.1:$port/" --rate 50 -d 230s -o "target/leak-$mode/result.json" >/dev/null
  wait "$sampler"
}
record leak 18501 &
record cache 18502 &
wait
