#!/usr/bin/env bash
# How long a newcomer waits for `cargo build --release --locked` on a fresh
# clone (registry already downloaded), for each release profile setting
# side by side in one run, and where the time goes (`--timings`: the
# slowest units). Each variant builds the same commit in a clone of its
# own, one after the other, so they do not compete for the cores.
# Usage: scripts/bench-build.sh [VARIANT...]
#   a variant is NAME=LTO/CODEGEN_UNITS, e.g. fat=fat/1 thin=thin/16 off=false/16
#   (default: the profile in Cargo.toml, then fat/1, thin/16 and false/16)
# Prints each variant's wall time and its ratio to the first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fetch --locked -q
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(as-is=keep fat=fat/1 thin=thin/16 off=false/16)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
first=""
printf '%-8s %-10s %9s %7s   %s\n' variant profile "wall s" ratio "slowest units (s)"
for v in "${variants[@]}"; do
  name=${v%%=*}
  setting=${v#*=}
  dir="$work/$name"
  git clone -q . "$dir"
  if [ "$setting" != keep ]; then
    lto=${setting%/*}
    cgu=${setting#*/}
    [ "$lto" = false ] || lto="\"$lto\""
    python3 - "$dir/Cargo.toml" "$lto" "$cgu" <<'EOF'
import re, sys
path, lto, cgu = sys.argv[1:]
text = open(path).read()
body = f"[profile.release]\ncodegen-units = {cgu}\nlto = {lto}\n"
text, n = re.subn(r"\[profile\.release\]\n(?:[^\[\n][^\n]*\n)*", body, text)
if n == 0:
    text += "\n" + body
open(path, "w").write(text)
EOF
  fi
  profile=$(awk '/^\[profile.release\]/{f=1;next} /^\[/{f=0} f&&/=/{gsub(/ /,"");printf "%s ",$0}' "$dir/Cargo.toml")
  start=$(date +%s.%N)
  (cd "$dir" && cargo build --release --locked --timings -q 2>/dev/null)
  end=$(date +%s.%N)
  wall=$(echo "$end - $start" | bc)
  [ -n "$first" ] || first=$wall
  slowest=$(python3 - "$dir"/target/cargo-timings/cargo-timing-*.html <<'EOF'
import json, re, sys
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", open(sys.argv[1]).read(), re.S).group(1))
units.sort(key=lambda u: -u["duration"])
print(", ".join(f"{u['name']}{' (bin)' if 'bin' in u.get('target', '') else ''} {u['duration']:.0f}" for u in units[:4]))
EOF
)
  printf '%-8s %-10s %9.1f %7.2f   %s\n' "$name" "$(echo "$profile" | sed 's/codegen-units=/cgu=/;s/lto=//')" "$wall" "$(echo "$wall / $first" | bc -l)" "$slowest"
  [ -z "${KEEP_BINARIES:-}" ] || cp "$dir/target/release/loadprof" "$KEEP_BINARIES/loadprof-$name"
done
