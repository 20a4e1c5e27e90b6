#!/usr/bin/env python3
"""Coordinated omission, side by side: loadprof's open model and oha at
200 req/s for 20 s against stall_server.py (answers in ~1 ms, but holds
every response for 1 s once every 5 s).

The true open-loop distribution follows from the pattern: 4/5 of the
requests take the base latency b (~1 ms); the 1/5 that arrive during a
stall wait uniformly 0..1000 ms more. So p50 = b, p90 = b + 500 ms,
p99 = b + 950 ms. Prints each tool's p50/p90/p99 and its error against
that truth, and how long loadprof took from launch to its first request.

Usage: bench_co.py LOADPROF OHA [--rate 200] [--seconds 20]
"""
import argparse, json, os, subprocess, sys, tempfile, time

PORT = 18482


def truth(q, base_ms):
    return base_ms if q <= 0.8 else base_ms + 1000.0 * (q - 0.8) / 0.2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loadprof")
    ap.add_argument("oha")
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=20)
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    d = tempfile.mkdtemp(prefix="bench-co-")
    url = f"http://127.0.0.1:{PORT}/"
    dur = f"{a.seconds}s"

    def server(log=None):
        cmd = [sys.executable, f"{here}/stall_server.py", str(PORT)] + (["--log", log] if log else [])
        p = subprocess.Popen(cmd)
        time.sleep(0.5)
        return p

    rows = []
    # loadprof, open model (corrected by default) — also timing its start-up.
    log = f"{d}/first.txt"
    srv = server(log)
    try:
        launched = time.time()
        out = subprocess.run([a.loadprof, "load", url, "--rate", str(a.rate), "-d", dur, "--json",
                              "-o", f"{d}/result.json"], capture_output=True, check=True).stdout
        first_ms = (float(open(log).read()) - launched) * 1000
        load = json.loads(out)["load"]
        for name, key in [("loadprof (default)", "latency"), ("loadprof uncorrected", "latency_uncorrected")]:
            l = load[key]
            rows.append((name, l["p50_ms"], l["p90_ms"], l["p99_ms"], load["totals"]["requests"]))
    finally:
        srv.kill()
    for label, extra in [("oha -q", []), ("oha -q --latency-correction", ["--latency-correction"])]:
        srv = server()
        try:
            out = subprocess.run([a.oha, "-q", str(a.rate), "-z", dur, "-c", "50", "--no-tui",
                                  "--output-format", "json"] + extra + [url],
                                 capture_output=True, check=True).stdout
            d_ = json.loads(out)
            p = d_["latencyPercentiles"]
            n = sum(d_["statusCodeDistribution"].values())
            rows.append((label, p["p50"] * 1000, p["p90"] * 1000, p["p99"] * 1000, n))
        finally:
            srv.kill()

    base = rows[0][1]  # the base latency as loadprof measured it (p50)
    t90, t99 = truth(0.90, base), truth(0.99, base)
    print(f"truth for this pattern: p50 = {base:.1f} ms, p90 = {t90:.0f} ms, p99 = {t99:.0f} ms")
    print(f"{'tool':30} {'requests':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'p90 err':>8} {'p99 err':>8}")
    for name, p50, p90, p99, n in rows:
        e90 = (p90 - t90) / t90 * 100
        e99 = (p99 - t99) / t99 * 100
        print(f"{name:30} {n:8} {p50:8.1f} {p90:8.1f} {p99:8.1f} {e90:7.1f}% {e99:7.1f}%")
    print(f"loadprof's first request arrived {first_ms:.0f} ms after launch (target < 100 ms)")


if __name__ == "__main__":
    main()
