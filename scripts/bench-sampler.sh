#!/usr/bin/env bash
# Sampler overhead, loadprof against psrecord, side by side in one run.
#
# Starts a tree of 1 bash parent + 20 sleep children and samples it with
# `loadprof sample` and `psrecord --include-children` at the same time, for
# SECONDS (default 20) at 10 Hz and then at 100 Hz. Prints each sampler's CPU
# use as % of one core and the sampling rate it really achieved, and the
# ratios against the targets (<= 0.25 % at 10 Hz, <= 2.5 % at 100 Hz, rate
# within 1 %, >= 15x less CPU than psrecord at 10 Hz). Then does the same on
# a tree whose 20 children wake every 10 ms, where no per-process read can be
# skipped.
#
#   scripts/bench-sampler.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
cargo build --release --quiet
venv=${BENCH_VENV:-target/bench-venv}
if [ ! -x "$venv/bin/psrecord" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet psrecord psutil
fi
exec python3 scripts/bench_sampler.py --loadprof target/release/loadprof \
  --psrecord "$venv/bin/psrecord" --seconds "$secs"
