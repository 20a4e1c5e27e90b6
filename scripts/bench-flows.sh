#!/usr/bin/env bash
# CPU per request of a two-step flow with a capture (POST /login, then GET
# /item with the captured token) against a plain single request, loadprof's
# memory per virtual user at 2,000 and 10,000 users, and the same flow in
# Locust (FastHttpUser), against nginx on loopback (see bench_flows.py).
# Installs nginx (Debian) when missing; Locust is optional (pip install locust),
# its part is skipped without it.
# Usage: scripts/bench-flows.sh [SECONDS] [ROUNDS] [MEM_SECONDS] [LOCUST_USERS]
# LOCUST_USERS: Locust's user counts for the memory runs (default 2000; e.g.
# 2000,10000, slow to spawn on a small machine). USERS=2000,10000 sets
# loadprof's.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
users=${USERS:-2000,10000}
locust_users=${4:-2000}
# Each user holds a connection in loadprof (or Locust) and one in nginx.
max=$(tr ',' '\n' <<<"$users,$locust_users" | sort -n | tail -1)
need=$((4 * max + 1000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
# The flow part needs the current tree; where it does not compile just now
# an existing build is used, and named.
log=$(mktemp)
if ! cargo build --release --locked -q 2>"$log"; then
  [ -x target/release/loadprof ] || { cat "$log" >&2; exit 1; }
  echo "warning: cargo build --release failed (first error: $(grep -m1 '^error' "$log")); benchmarking" \
    "the existing target/release/loadprof, built $(date -r target/release/loadprof '+%F %T')" >&2
fi
rm -f "$log"
python3 scripts/bench_flows.py target/release/loadprof --seconds "${1:-10}" --rounds "${2:-3}" \
  --mem-seconds "${3:-15}" --users "$users" --locust-users "$locust_users"
