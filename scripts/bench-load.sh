#!/usr/bin/env bash
# Generator CPU per request and memory of loadprof vs wrk and oha, against
# nginx on loopback (see bench_load.py). Installs nginx and wrk (Debian) and
# oha (cargo install, into target/bench-tools) when missing.
# Usage: scripts/bench-load.sh [SECONDS] [ROUNDS] [LONG_SECONDS]
# BEFORE=path/to/loadprof also runs an earlier build in the same rounds and
# prints the ratio of CPU per request (the cost of a change).
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null || [ ! -x /usr/bin/time ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk time >/dev/null
fi
oha=$(command -v oha || true)
if [ -z "$oha" ]; then
  oha=target/bench-tools/bin/oha
  [ -x "$oha" ] || cargo install oha --locked --root target/bench-tools
fi
cargo build --release --locked -q
python3 scripts/bench_load.py target/release/loadprof "$oha" --seconds "${1:-10}" --rounds "${2:-3}" --long "${3:-60}" \
  ${BEFORE:+--before "$BEFORE"}
