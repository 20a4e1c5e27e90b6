#!/usr/bin/env bash
# What heap tracking costs the target, per profiler (memray on an aiohttp
# service, pprof on a Go server, jemalloc on nginx), and what folding a
# large memray capture costs loadprof (see bench_heap.py). Installs what is
# missing: gdb, nginx, jemalloc and jeprof, time (Debian); memray (PyPI).
# Usage: scripts/bench-heap.sh [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v gdb >/dev/null || missing+=(gdb)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v jeprof >/dev/null || missing+=(libjemalloc2 libjemalloc-dev binutils)
command -v go >/dev/null || missing+=(golang-go)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -c 'import memray, aiohttp' 2>/dev/null || python3 -m pip install -q memray aiohttp
cargo build --release --locked -q
python3 scripts/bench_heap.py target/release/loadprof --rate "${1:-100}" --seconds "${2:-15}"
