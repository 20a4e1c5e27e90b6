"""Load workers side by side on one agreed start (`--start-at`), as the
pods of a Kubernetes Indexed Job run them: their start skews, the merged
rate against the asked one, how evenly their arrivals interleave at the
server, and the merged p99 against one process sending the whole rate.

  python3 scripts/workers_check.py [path/to/loadprof] [--workers 8] [--rate 400] [--duration 10]

The workers are started one second apart; the agreed start is a second
after the last. The server (tests/data/workers/arrivals_server.py) answers
at once and records each arrival. Everything runs on 127.0.0.1 and stops
by itself.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("loadprof", nargs="?", default=os.path.join(ROOT, "target/debug/loadprof"))
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--rate", type=float, default=400.0)
    p.add_argument("--duration", type=int, default=10)
    a = p.parse_args()
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/data/workers/arrivals_server.py"),
                               "--port", "0"], stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().split("listening on", 1)[1].strip()
    try:
        with tempfile.TemporaryDirectory() as d:
            n = a.workers
            at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=n + 1)
            at_text = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            procs = []
            for i in range(n):
                procs.append(subprocess.Popen(
                    [a.loadprof, "load", f"{url}/hit?w={i}", "--rate", str(a.rate), "-d", f"{a.duration}s",
                     "--worker-count", str(n), "--worker-index", str(i), "--start-at", at_text,
                     "-o", f"{d}/w{i}/result.json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                time.sleep(1)
            for pr in procs:
                pr.wait()
            skews = [json.load(open(f"{d}/w{i}/result.json"))["load"]["start_skew_ms"] for i in range(n)]
            subprocess.run([a.loadprof, "merge", *[f"{d}/w{i}/result.json" for i in range(n)],
                            "-o", f"{d}/merged.json"], check=True, capture_output=True)
            merged = json.load(open(f"{d}/merged.json"))["load"]
            arrivals = json.load(urllib.request.urlopen(f"{url}/arrivals"))
            arrivals.sort()
            gaps = [b[0] - x[0] for x, b in zip(arrivals, arrivals[1:])]
            in_turn = sum(1 for x, b in zip(arrivals, arrivals[1:]) if int(b[1]) == (int(x[1]) + 1) % n)
            first = arrivals[0][0] - at.timestamp()
            subprocess.run([a.loadprof, "load", f"{url}/hit?w=single", "--rate", str(a.rate), "-d",
                            f"{a.duration}s", "-o", f"{d}/single/result.json"], check=True, capture_output=True)
            single = json.load(open(f"{d}/single/result.json"))["load"]
    finally:
        server.terminate()
        server.wait()
    asked = a.rate * a.duration
    print(f"{n} workers started 1 s apart, {a.rate:g}/s in all for {a.duration} s, start at {at_text}")
    print("start skew per worker (ms): " + ", ".join(f"{s:.2f}" for s in skews))
    print(f"  largest |skew| {max(abs(s) for s in skews):.2f} ms; first arrival at the server "
          f"{first * 1e3:+.1f} ms from the agreed instant")
    req = merged["totals"]["requests"]
    print(f"merged: {req} requests ({(req - asked) / asked * 100:+.2f}% of {asked:g}), "
          f"{merged['totals']['rps']:.1f}/s ({(merged['totals']['rps'] - a.rate) / a.rate * 100:+.2f}% of {a.rate:g}/s)")
    print(f"arrivals at the server: median gap {statistics.median(gaps) * 1e3:.2f} ms "
          f"(even spacing {1e3 / a.rate:.2f} ms); {in_turn / len(gaps) * 100:.0f}% follow the previous worker's; "
          f"{sum(1 for g in gaps if g < 0.001) / len(gaps) * 100:.1f}% within 1 ms of the one before")
    m, s = merged["latency"], single["latency"]
    print(f"latency merged vs one process: p50 {m['p50_ms']:.3f} vs {s['p50_ms']:.3f} ms, "
          f"p99 {m['p99_ms']:.3f} vs {s['p99_ms']:.3f} ms (ratio {m['p99_ms'] / s['p99_ms']:.2f})")


if __name__ == "__main__":
    main()
