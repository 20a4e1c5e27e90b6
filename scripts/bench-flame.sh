#!/usr/bin/env bash
# Flame graph speed: loadprof vs the inferno CLI drawing the same synthetic
# 100k-line folded file, and loadprof vs `go tool pprof` reading the same
# large pprof profile (see bench_flame.py). Installs the inferno CLI
# (cargo install, into target/bench-tools) and Go (Debian golang-go) when
# missing.
# Usage: scripts/bench-flame.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v go >/dev/null || [ ! -x /usr/bin/time ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go time >/dev/null
fi
inferno=$(command -v inferno-flamegraph || true)
if [ -z "$inferno" ]; then
  inferno=target/bench-tools/bin/inferno-flamegraph
  [ -x "$inferno" ] || cargo install inferno --locked --root target/bench-tools
fi
cargo build --release --locked -q
python3 scripts/bench_flame.py target/release/loadprof "$inferno" --rounds "${1:-5}"
