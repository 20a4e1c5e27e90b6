"""How close `loadprof capacity` and `loadprof llm --capacity` come to the
truth on servers whose capacity is known, with the probes each search took
and its wall time.

  python3 scripts/capacity_truth.py [path/to/loadprof]

Rate capacity against tests/data/capacity/queue_server.py (W workers, a
service time S: W/S a second whatever the CPU), the Erlang C capacity of
an M/M/c queue for a p95, and a loadprof held to 3 requests in flight;
concurrency capacity against tests/data/llm/fake_ollama.py (P parallel
slots; each stream decoding beside others slows a step by a quarter).
Every server is on 127.0.0.1 and stops with the script.
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOADPROF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/loadprof")


def serve(script, args):
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, script), "--port", "0", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if "listening on" not in line:
        p.kill()
        sys.exit(f"{script} did not start: {line!r}")
    return p, line.split("listening on", 1)[1].strip()


def erlang_c(c, a):
    term, total = 1.0, 0.0
    for k in range(c):
        if k:
            term *= a / k
        total += term
    top = term * a / c * c / (c - a)
    return top / (total + top)


def tail(t, lam, mu, c):
    """P(response time > t) in M/M/c."""
    wait = erlang_c(c, lam / mu)
    alpha = c * mu - lam
    if abs(alpha - mu) < 1e-9:
        both = math.exp(-mu * t) * (1 + mu * t)
    else:
        both = (mu * math.exp(-alpha * t) - alpha * math.exp(-mu * t)) / (mu - alpha)
    return (1 - wait) * math.exp(-mu * t) + wait * both


def bisect(lo, hi, above):
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if above(mid) else (lo, mid)
    return lo


def mmc_capacity(c, mean_s, p95_s):
    mu = 1 / mean_s
    p95 = lambda lam: bisect(0, 100, lambda t: tail(t, lam, mu, c) > 0.05)  # noqa: E731
    return bisect(0.1, c * mu - 1e-6, lambda lam: p95(lam) < p95_s)


def rate_case(name, server_args, truth, flags):
    server, url = serve("tests/data/capacity/queue_server.py", server_args)
    try:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.monotonic()
            r = subprocess.run([LOADPROF, "capacity", f"{url}/work", *flags, "--out", d],
                               capture_output=True, text=True)
            wall = time.monotonic() - t0
            doc = json.load(open(os.path.join(d, "capacity.json")))
    finally:
        server.terminate()
        server.wait()
    lo, hi = doc["bracket"]
    found = doc["max_rate"]
    err = "" if found is None or truth is None else f"{(found - truth) / truth * 100:+.1f}%"
    print(f"{name:44} {truth_text(truth):>9} {fmt(found):>9} {err:>7} "
          f"[{fmt(lo)}, {fmt(hi)}]  {doc['limited_by'] or '-':10} {len(doc['probes']):>6} {wall:7.1f} s  exit {r.returncode}")


def llm_case(name, server_args, truth, flags):
    server, url = serve("tests/data/llm/fake_ollama.py", server_args)
    try:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.monotonic()
            r = subprocess.run([LOADPROF, "llm", "--endpoint", url, "--model", "tiny:1b", "--capacity",
                                "--no-builtin-checks", "--max-tokens", "64", *flags, "-o", d],
                               capture_output=True, text=True)
            wall = time.monotonic() - t0
            doc = json.load(open(os.path.join(d, "result.json")))
    finally:
        server.terminate()
        server.wait()
    c = doc["llm"]["models"][0]["capacity"]
    lo, hi = c["bracket"]
    found = c["max_concurrency"]
    tps = c["output_tokens_per_s"]
    print(f"{name:44} {truth:>9} {fmt(found):>9} {'':>7} [{fmt(lo)}, {fmt(hi)}]  {c['limited_by'] or '-':10} "
          f"{len(c['probes']):>6} {wall:7.1f} s  exit {r.returncode}  ({fmt(tps)} tok/s there)")


def fmt(v):
    return "-" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v)


def truth_text(t):
    return "-" if t is None else f"{t:.1f}/s"


def main():
    print(f"loadprof: {LOADPROF}")
    print(f"{'server':44} {'truth':>9} {'found':>9} {'error':>7} bracket        limited_by probes    wall")
    hold = ["--hold", "3s", "--warmup", "1s"]
    rate_case("4 workers x 50 ms, p95 < 70 ms (W/S)", ["--workers", "4", "--service-ms", "50"], 80.0,
              [*hold, "--slo", "all.p95=< 70ms", "--start-rate", "20"])
    rate_case("same, queue limit 4 answering 503", ["--workers", "4", "--service-ms", "50", "--queue-limit", "4"],
              80.0, [*hold, "--slo", "all.p95=< 2s", "--slo", "all.error_rate=< 1%", "--start-rate", "20"])
    truth = mmc_capacity(4, 0.05, 0.25)
    rate_case("M/M/4, Poisson, p95 < 250 ms (Erlang C)",
              ["--workers", "4", "--service-ms", "50", "--exponential", "--seed", "7"], truth,
              ["--poisson", "--hold", "6s", "--warmup", "1s", "--slo", "all.p95=< 250ms", "--start-rate", "20"])
    rate_case("4 x 50 ms, 4x slower for 2 s, max 60/s",
              ["--workers", "4", "--service-ms", "50", "--slow-start", "2", "--slow-factor", "4"], 60.0,
              ["--hold", "3s", "--warmup", "3s", "--slo", "all.p95=< 70ms", "--start-rate", "30", "--max-rate", "60"])
    rate_case("50 x 50 ms, loadprof held to 3 in flight", ["--workers", "50", "--service-ms", "50"], None,
              [*hold, "--slo", "all.p95=< 1s", "--start-rate", "20", "--max-in-flight", "3"])
    llm_case("LLM, 3 parallel slots, TTFT p95 < 300 ms", ["--parallel", "3", "--batch-penalty", "0",
                                                         "--models", "tiny:1b"], 3,
             ["--max-ttft", "300ms", "--max-concurrency", "32"])
    llm_case("LLM, shared decoding, decode p10 >= 67.5", ["--parallel", "16", "--speed-scale", "2",
                                                          "--models", "tiny:1b"], 6,
             ["--min-decode", "67.5", "--max-concurrency", "16"])


if __name__ == "__main__":
    main()
