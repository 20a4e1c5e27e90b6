"""Flame graph speed, side by side in one run (driven by bench-flame.sh).

1. Folded -> SVG: a synthetic folded file of 100 000 distinct stacks (depth
   5-40 over a 3 000-name vocabulary, fixed seed) drawn by
   `loadprof flame render` and by `inferno-flamegraph --hash` (the
   same drawing options loadprof uses).
2. pprof -> folded: a large gzip'd profile.proto (100 000 samples over
   20 000 locations) read by `loadprof flame --pprof FILE --no-svg` (decode,
   fold, write the folded file) and by `go tool pprof -top` (decode and
   summarise), against loadprof drawing that same folded file.

Rounds alternate the tools so drift on a noisy machine hits both alike.
Prints medians of wall and CPU time and the ratios. Where valgrind is
installed it also counts the instructions of one run of each under
callgrind: a ratio that does not move with the machine's load.
"""

import argparse
import gzip
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def synth_folded(path, lines=100_000, vocab=3_000, seed=7):
    rng = random.Random(seed)
    names = [f"mod{rng.randrange(60)}::fn_{i}_{rng.randrange(10**6)}" for i in range(vocab)]
    stacks = set()
    # A shared prefix tree, as real profiles have: deeper frames branch off
    # a few common roots.
    while len(stacks) < lines:
        depth = rng.randint(5, 40)
        frames = ["main", names[rng.randrange(20)]]
        frames += [names[rng.randrange(vocab)] for _ in range(depth - 2)]
        stacks.add(";".join(frames))
    with open(path, "w") as f:
        for s in sorted(stacks):
            f.write(f"{s} {rng.randint(1, 500)}\n")


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def field_bytes(num, data):
    return varint((num << 3) | 2) + varint(len(data)) + data


def packed(num, values):
    return field_bytes(num, b"".join(varint(v) for v in values))


def synth_pprof(path, samples=100_000, locations=20_000, functions=3_000, seed=11):
    """A CPU profile shaped like Go's: samples/count and cpu/nanoseconds."""
    rng = random.Random(seed)
    strings = ["", "samples", "count", "cpu", "nanoseconds"]
    out = bytearray()
    out += field_bytes(1, field_varint(1, 1) + field_varint(2, 2))
    out += field_bytes(1, field_varint(1, 3) + field_varint(2, 4))
    func_names = []
    for i in range(functions):
        strings.append(f"github.com/acme/svc/pkg{i % 97}.(*T{i % 13}).Method{i}")
        func_names.append(len(strings) - 1)
    strings.append("/src/acme/svc/main.go")
    file_idx = len(strings) - 1
    body = bytearray()
    for i in range(locations):
        # One or two lines per location: inlined frames.
        lines = b"".join(
            field_bytes(4, field_varint(1, rng.randrange(functions) + 1) + field_varint(2, rng.randrange(1, 900)))
            for _ in range(1 if rng.random() < 0.8 else 2)
        )
        body += field_bytes(4, field_varint(1, i + 1) + field_varint(3, 0x400000 + i * 16) + lines)
    for i in range(functions):
        body += field_bytes(
            5, field_varint(1, i + 1) + field_varint(2, func_names[i]) + field_varint(3, func_names[i])
            + field_varint(4, file_idx)
        )
    roots = [rng.randrange(locations) + 1 for _ in range(30)]
    for _ in range(samples):
        depth = rng.randint(5, 40)
        locs = [rng.randrange(locations) + 1 for _ in range(depth - 1)] + [rng.choice(roots)]
        n = rng.randint(1, 5)
        out += field_bytes(2, packed(1, locs) + packed(2, [n, n * 10_000_000]))
    out += body
    for s in strings:
        out += field_bytes(6, s.encode())
    out += field_varint(10, 30_000_000_000)
    out += field_bytes(11, field_varint(1, 3) + field_varint(2, 4))
    out += field_varint(12, 10_000_000)
    with open(path, "wb") as f:
        f.write(gzip.compress(bytes(out), 1))


def timed(cmd, env=None, stdout=None):
    """Wall seconds and CPU seconds (user+sys) of one command; its standard
    output goes to the file `stdout` (or nowhere)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(stdout or os.devnull, "wb") as out:
        r = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def instructions(cmd, work, stdout=None):
    """Instructions one run of `cmd` executes, counted by callgrind."""
    out_file = os.path.join(work, "callgrind.out")
    with open(stdout or os.devnull, "wb") as out:
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}"] + cmd,
                           stdout=out, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit(f"callgrind failed on {' '.join(cmd)}\n{r.stderr.decode()[-2000:]}")
    for line in r.stderr.decode().splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    sys.exit("callgrind printed no instruction count")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loadprof")
    ap.add_argument("inferno")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-flame-")
    folded = os.path.join(work, "synth100k.folded")
    pb = os.path.join(work, "large.pb.gz")
    synth_folded(folded)
    synth_pprof(pb)
    print(f"inputs: {folded} ({os.path.getsize(folded) / 2**20:.1f} MiB, 100000 lines); "
          f"{pb} ({os.path.getsize(pb) / 2**20:.1f} MiB gzip, 100000 samples, 20000 locations)")

    go = shutil.which("go")
    goenv = dict(os.environ, HOME=work, PPROF_TMPDIR=work)
    cases = {
        "loadprof render": [a.loadprof, "flame", "render", folded, "-o", os.path.join(work, "l.svg")],
        "inferno-flamegraph": [a.inferno, "--hash", folded],
                "loadprof --pprof --no-svg (decode+fold)": [a.loadprof, "flame", "--pprof", pb, "--no-svg", "--folded",
                                                    os.path.join(work, "p.folded")],
        "loadprof render (pprof's folded)": [a.loadprof, "flame", "render", os.path.join(work, "p.folded"),
                                             "-o", os.path.join(work, "p2.svg")],
        "inferno-flamegraph (pprof's folded)": [a.inferno, "--hash", os.path.join(work, "p.folded")],
    }
    if go:
        cases["go tool pprof -top"] = ["go", "tool", "pprof", "-top", pb]
    # Make p.folded before the rounds start.
    timed(cases["loadprof --pprof --no-svg (decode+fold)"])
    results = {k: [] for k in cases}
    for _ in range(a.rounds):
        for name, cmd in cases.items():
            out = os.path.join(work, "i.svg") if name.startswith("inferno-flamegraph") else None
            results[name].append(timed(cmd, env=goenv if name.startswith("go") else None, stdout=out))

    def med(name, i):
        return statistics.median(r[i] for r in results[name])

    print(f"\nmedians of {a.rounds} alternating rounds (wall s / CPU s):")
    for name in cases:
        print(f"  {name:40s} {med(name, 0):7.3f} / {med(name, 1):7.3f}")
    lw, iw = med("loadprof render", 0), med("inferno-flamegraph", 0)
    lc, ic = med("loadprof render", 1), med("inferno-flamegraph", 1)
    print(f"\nfolded -> SVG: loadprof / inferno CLI = {lw / iw:.2f}x wall, {lc / ic:.2f}x CPU (target <= 1.0x)")
    decode = med("loadprof --pprof --no-svg (decode+fold)", 0)
    draw = med("loadprof render (pprof's folded)", 0)
    inf_draw = med("inferno-flamegraph (pprof's folded)", 0)
    print(f"pprof decode+fold / drawing the same stacks = {decode:.3f} / {draw:.3f} s wall = "
          f"{decode / draw:.2f}x with loadprof, {decode / inf_draw:.2f}x with the inferno CLI (target < 1.0x)")
    if go:
        g = med("go tool pprof -top", 0)
        print(f"pprof read: loadprof decode+fold / go tool pprof -top = {decode / g:.2f}x wall")
    if shutil.which("valgrind"):
        li = instructions(cases["loadprof render"], work)
        ii = instructions(cases["inferno-flamegraph"], work, stdout=os.path.join(work, "i.svg"))
        di = instructions(cases["loadprof --pprof --no-svg (decode+fold)"], work)
        ri = instructions(cases["loadprof render (pprof's folded)"], work)
        print(f"\ninstructions (callgrind, one run each):")
        print(f"  folded -> SVG: loadprof {li / 1e9:.3f} G / inferno CLI {ii / 1e9:.3f} G = {li / ii:.3f}x")
        print(f"  pprof decode+fold {di / 1e9:.3f} G / drawing the same stacks {ri / 1e9:.3f} G = {di / ri:.3f}x")
    else:
        print("\n(valgrind is not installed: no instruction counts)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
