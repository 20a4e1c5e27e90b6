#!/usr/bin/env python3
"""Generator efficiency of loadprof, wrk and oha, side by side in one run.

nginx (`return 200 "ok\\n"`, access_log off, one worker) on 127.0.0.1; each
tool runs at 50 connections for 10 s, three interleaved rounds. For each run
the tool's own CPU time (user + system, from wait4's rusage) is divided by
the requests it completed (user + system time from /usr/bin/time); peak
RSS is time's maximum resident set size. Prints medians and the
ratios loadprof/wrk and loadprof/oha. Then one longer loadprof run checks
that its RSS stays flat (sampled from /proc every second).

With --before BINARY, a second loadprof (an earlier build) runs in the
same rounds and the ratio of their CPU per request is printed: how much a
change costs the load engine.

Usage: bench_load.py LOADPROF OHA [--seconds 10] [--rounds 3] [--long 60] [--before BINARY]
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, time

PORT = 18481
NGINX_CONF = """
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type text/plain; return 200 "ok\\n"; }}
  }}
}}
"""


def run(cmd):
    """Runs cmd under /usr/bin/time; returns (stdout, cpu seconds, peak RSS
    bytes). (wait4's ru_maxrss would carry this Python process's own RSS
    across fork and exec, so the small `time` program sits in between.)"""
    with tempfile.NamedTemporaryFile("r") as t:
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", t.name] + cmd,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if p.returncode != 0:
            sys.exit(f"{cmd[0]} failed with status {p.returncode}")
        user, system, max_kib = t.read().split()[-3:]
    return p.stdout.decode(), float(user) + float(system), int(max_kib) * 1024


def wrk_requests(out):
    return int(re.search(r"(\d+) requests in", out).group(1))


def oha_requests(out):
    d = json.loads(out)
    return sum(d["statusCodeDistribution"].values())


def loadprof_requests(out):
    return json.loads(out)["load"]["totals"]["ok"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loadprof")
    ap.add_argument("oha")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--long", type=int, default=60)
    ap.add_argument("--before", help="an earlier loadprof binary to compare with")
    a = ap.parse_args()
    url = f"http://127.0.0.1:{PORT}/"
    d = tempfile.mkdtemp(prefix="bench-load-")
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(NGINX_CONF.format(dir=d, port=PORT))
    subprocess.run(["nginx", "-c", f"{d}/nginx.conf", "-p", d], check=True)
    time.sleep(0.3)
    s = str(a.seconds)
    tools = {
        "wrk": (["wrk", "-t2", "-c50", f"-d{s}s", url], wrk_requests),
        "oha": ([a.oha, "-z", f"{s}s", "-c", "50", "--no-tui", "--output-format", "json", url], oha_requests),
        "loadprof": ([a.loadprof, "load", url, "-c", "50", "-d", f"{s}s", "--json", "-o", f"{d}/result.json"],
                     loadprof_requests),
    }
    if a.before:
        tools["before"] = ([a.before, "load", url, "-c", "50", "-d", f"{s}s", "--json", "-o", f"{d}/before.json"],
                           loadprof_requests)
    res = {t: [] for t in tools}
    try:
        for r in range(a.rounds):
            for t, (cmd, count) in tools.items():
                out, cpu, rss = run(cmd)
                n = count(out)
                res[t].append((cpu / n * 1e6, n / a.seconds, rss))
                print(f"round {r + 1} {t:9} {n / a.seconds:10.0f} req/s  {cpu / n * 1e6:6.2f} CPU-us/req  "
                      f"peak RSS {rss / 2**20:7.1f} MiB", flush=True)
        print()
        print(f"{'tool':9} {'CPU-us/req':>11} {'req/s':>10} {'peak RSS MiB':>13}   (medians of {a.rounds} rounds)")
        med = {}
        for t, rows in res.items():
            med[t] = [statistics.median(x) for x in zip(*rows)]
            cpu, rps, rss = med[t]
            print(f"{t:9} {cpu:11.2f} {rps:10.0f} {rss / 2**20:13.1f}")
        print()
        lp = med["loadprof"]
        print(f"loadprof/wrk CPU per request: {lp[0] / med['wrk'][0]:.2f}   (target <= 1.00)")
        print(f"loadprof/oha CPU per request: {lp[0] / med['oha'][0]:.2f}   (target <= 0.80)")
        print(f"loadprof peak RSS at 50 connections: {lp[2] / 2**20:.1f} MiB   (target <= 15)")
        if a.before:
            print(f"loadprof/before CPU per request: {lp[0] / med['before'][0]:.3f}   (target <= 1.03)")
        if a.long > 0:
            cmd = [a.loadprof, "load", url, "-c", "50", "-d", f"{a.long}s", "-o", f"{d}/long.json"]
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rss = []
            while p.poll() is None:
                time.sleep(1)
                try:
                    with open(f"/proc/{p.pid}/status") as f:
                        kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
                    rss.append(kb / 1024)
                except (OSError, StopIteration):
                    pass
            if len(rss) >= 4:
                early = statistics.median(rss[2:5])
                late = statistics.median(rss[-4:-1])
                print(f"loadprof RSS over a {a.long} s run: {early:.1f} MiB at 3 s, {late:.1f} MiB at the end, "
                      f"max {max(rss):.1f} MiB (flat: {late <= early * 1.1 + 1})")
    finally:
        subprocess.run(["nginx", "-c", f"{d}/nginx.conf", "-p", d, "-s", "stop"])


if __name__ == "__main__":
    main()
