#!/usr/bin/env bash
# Runs every fuzz target under fuzz/ for SECONDS each (default 600), two at
# a time, with libFuzzer through cargo fuzz (installed into target/ when
# missing). A crash stops that target and leaves its input in
# fuzz/artifacts/TARGET/; keep each one as a unit test beside the code it
# broke. Prints each target's runs, coverage and outcome at the end.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
root=$PWD
cargo_fuzz=$(command -v cargo-fuzz || true)
if [ -z "$cargo_fuzz" ]; then
  cargo_fuzz=$root/target/fuzz-tools/bin/cargo-fuzz
  [ -x "$cargo_fuzz" ] || cargo install cargo-fuzz --locked --root "$root/target/fuzz-tools"
fi
# cargo fuzz builds with sanitizer flags that need a nightly compiler;
# RUSTC_BOOTSTRAP lets the stable one accept them.
export RUSTC_BOOTSTRAP=1
cd fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <("$cargo_fuzz" list)
"$cargo_fuzz" build -O "${targets[@]/#/--bin=}" >/dev/null 2>&1 || "$cargo_fuzz" build -O
logs=$(mktemp -d)
run() {
  local t=$1
  mkdir -p "corpus/$t" "artifacts/$t"
  # -rss_limit_mb: a parser that lets input grow memory without bound is a finding.
  if "$cargo_fuzz" run -O "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=1024 \
      -timeout=10 -max_len=65536 -print_final_stats=1 >"$logs/$t.log" 2>&1; then
    echo "$t ok" >"$logs/$t.status"
  else
    echo "$t FOUND: see fuzz/artifacts/$t/" >"$logs/$t.status"
  fi
}
running=0
for t in "${targets[@]}"; do
  run "$t" &
  running=$((running + 1))
  if [ "$running" -ge 2 ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
printf '%-15s %10s %8s %8s  %s\n' target runs "cov" corpus outcome
for t in "${targets[@]}"; do
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$logs/$t.log" | tail -1 | grep -o '[0-9]*' || echo "?")
  corpus=$(ls "corpus/$t" | wc -l)
  printf '%-15s %10s %8s %8s  %s\n' "$t" "$runs" "$cov" "$corpus" "$(cut -d' ' -f2- "$logs/$t.status")"
done
if grep -q FOUND "$logs"/*.status; then
  for t in "${targets[@]}"; do grep -q FOUND "$logs/$t.status" && tail -30 "$logs/$t.log"; done
  exit 1
fi
