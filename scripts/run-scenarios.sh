#!/usr/bin/env bash
# Runs every scenario profile under profiles/ for real against the test
# suite's servers, each on a free port, and prints each run's verdict.
#
#   scripts/run-scenarios.sh          # shortened runs (about 4 minutes in all)
#   scripts/run-scenarios.sh --full   # the profiles' own durations (about 25 minutes)
#
# slo-gate runs twice: the second run is judged against the first as its
# baseline. nightly-leak runs against the API with --leak as well, which
# must fail. Output folders go to out/scenarios/<profile>/.
set -euo pipefail
cd "$(dirname "$0")/.."

full=0
[ "${1:-}" = "--full" ] && full=1

cargo build --release --locked -q
bin=target/release/loadprof
py=$(python3 -c 'import sys; print(sys.executable)')
python3 -c 'import aiohttp' 2>/dev/null || python3 -m pip install -q aiohttp 2>/dev/null ||
  python3 -m pip install -q --break-system-packages aiohttp
command -v py-spy >/dev/null || PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
mkdir -p target/scenarios
GO111MODULE=off GOFLAGS= go build -o target/scenarios/goserver tests/data/flame/goserver.go

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

results=()
# run_profile NAME OUTDIR SHORT_SETS -- TARGET_COMMAND... [-- EXTRA ARGS]
run_profile() {
  local name=$1 out=$2 short=$3
  shift 3
  local port; port=$(free_port)
  local cmd=() extra=()
  [ "$1" = "--" ] && shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cmd+=("\"${1//PORT/$port}\""); shift; done
  [ "${1:-}" = "--" ] && { shift; extra=("$@"); }
  local sets=(--set "target.command=[$(IFS=,; echo "${cmd[*]}")]"
    --set "target.ready_url=http://127.0.0.1:$port/health"
    --set "load.base_url=http://127.0.0.1:$port")
  if grep -q '^pprof_url' "profiles/$name.toml"; then
    sets+=(--set "flame.pprof_url=http://127.0.0.1:$port/debug/pprof/profile")
  fi
  if grep -q '^scrape' "profiles/$name.toml"; then
    sets+=(--set "metrics.scrape=[\"http://127.0.0.1:$port/metrics\"]")
  fi
  if [ $full = 0 ]; then
    for s in $short; do sets+=(--set "$s"); done
  fi
  echo "== $name -> $out"
  set +e
  "$bin" run "profiles/$name.toml" --out "$out" "${sets[@]}" "${extra[@]}" >"$out.log" 2>&1
  local code=$?
  set -e
  local verdict
  verdict=$(grep '^verdict:' "$out.log" | tail -1 || true)
  results+=("$(printf '%-28s exit %-3s %s' "$(basename "$out")" "$code" "${verdict:-see $out.log}")")
  tail -n 25 "$out.log" | sed 's/^/   /'
}

o=out/scenarios
rm -rf "$o" && mkdir -p "$o"
api="tests/data/scenarios/api_server.py"
rag="tests/data/scenarios/rag_server.py"

run_profile rag-smoke "$o/rag-smoke" "load.duration=20s load.spawn_rate=10" -- "$py" "$rag" --port PORT
run_profile api-baseline-50qps "$o/api-baseline-50qps" \
  "load.duration=30s flame.start_after=5s flame.duration=15s leak.warmup=5s leak.settle=5s leak.min_window=20s" \
  -- "$py" "$api" --port PORT
run_profile api-stress-100qps "$o/api-stress-100qps" \
  "load.duration=30s flame.start_after=5s flame.duration=15s leak.warmup=5s leak.settle=5s leak.min_window=20s" \
  -- "$py" "$api" --port PORT
run_profile slo-gate "$o/slo-gate-first" "load.iterations=60" -- "$py" "$api" --port PORT
run_profile slo-gate "$o/slo-gate-second" "load.iterations=60" -- "$py" "$api" --port PORT \
  -- --baseline "$o/slo-gate-first/result.json"
run_profile agent-core-gate "$o/agent-core-gate" "load.duration=20s flame.start_after=5s flame.duration=10s" \
  -- target/scenarios/goserver -port PORT
# The console logs in with the test server's password.
export LOADPROF_PASSWORD=${LOADPROF_PASSWORD:-s3cret}
run_profile prism-console "$o/prism-console" \
  "load.duration=20s scenarios.quantum.stages=[{target=10,duration=\"20s\"}] scenarios.jobs.iterations=10" \
  -- "$py" tests/data/scenarios/console_server.py --port PORT
run_profile nightly-leak "$o/nightly-leak" \
  "load.duration=60s leak.warmup=10s leak.settle=10s leak.min_window=30s" -- "$py" "$api" --port PORT
run_profile nightly-leak "$o/nightly-leak-leaking" \
  "load.duration=60s leak.warmup=10s leak.settle=10s leak.min_window=30s" -- "$py" "$api" --port PORT --leak

# The breaking point is a search, not a run: `loadprof capacity`.
port=$(free_port)
echo "== api-breaking-point -> $o/api-breaking-point"
short=(--hold 4s --warmup 2s --max-time 3m)
[ $full = 1 ] && short=()
set +e
"$bin" capacity profiles/api-breaking-point.toml --out "$o/api-breaking-point" "${short[@]}" \
  --set "target.command=[\"$py\", \"$api\", \"--port\", \"$port\"]" \
  --set "target.ready_url=http://127.0.0.1:$port/health" --set "load.base_url=http://127.0.0.1:$port" \
  >"$o/api-breaking-point.log" 2>&1
code=$?
set -e
results+=("$(printf '%-28s exit %-3s %s' api-breaking-point "$code" "$(grep '^capacity:' "$o/api-breaking-point.log" | tail -1)")")
tail -n 25 "$o/api-breaking-point.log" | sed 's/^/   /'

"$bin" report --trend "$o"/*/result.json --html "$o/trend.html" >/dev/null
echo
echo "scenario                     exit verdict (nightly-leak-leaking must fail: exit 1)"
printf '%s\n' "${results[@]}"
echo "trend: $o/trend.html"
