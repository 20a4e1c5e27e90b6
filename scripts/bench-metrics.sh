#!/usr/bin/env bash
# What watching a run costs: loadprof's scrape cost per series against
# Prometheus's on the same exposition text, and the load engine's CPU per
# request with --listen (read every second) against without, side by side
# against nginx on loopback (see bench_metrics.py). Installs nginx and
# prometheus (Debian) when missing.
# Usage: scripts/bench-metrics.sh [SECONDS] [ROUNDS] [SERIES] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v prometheus >/dev/null || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release --locked -q
python3 scripts/bench_metrics.py target/release/loadprof --seconds "${1:-15}" --rounds "${2:-3}" \
  --series "${3:-20000}" --rate "${4:-3000}"
