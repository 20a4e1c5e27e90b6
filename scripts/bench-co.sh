#!/usr/bin/env bash
# Coordinated omission: loadprof's open model vs oha (with and without
# --latency-correction) against a server that stalls 1 s every 5 s; prints
# p50/p90/p99 and each one's error against the true distribution
# (see bench_co.py). Installs oha (cargo install) when missing.
# Usage: scripts/bench-co.sh [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
oha=$(command -v oha || true)
if [ -z "$oha" ]; then
  oha=target/bench-tools/bin/oha
  [ -x "$oha" ] || cargo install oha --locked --root target/bench-tools
fi
cargo build --release --locked -q
python3 scripts/bench_co.py target/release/loadprof "$oha" --rate "${1:-200}" --seconds "${2:-20}"
