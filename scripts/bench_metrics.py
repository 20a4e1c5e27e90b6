#!/usr/bin/env python3
"""What watching costs, side by side in one run.

nginx on 127.0.0.1 (a free port, its own config in a temp dir) serves
GET /ok (a 200) and GET /metrics: a static Prometheus text of SERIES series
(counters with 4 labels and histogram buckets, as an exporter writes them).

1. Scrape cost per series. For SECONDS each, interleaved ROUNDS:
   - `loadprof run` of a profile loading /ok at 5/s, without [metrics];
   - the same profile with [metrics] scraping /metrics every second;
   - Prometheus (Debian's) scraping /metrics every second, and the same
     Prometheus with nothing to scrape.
   loadprof's CPU is its own user + system time from wait4's rusage;
   Prometheus's is utime + stime of /proc/PID/stat over the same seconds,
   from its first scrape. The cost per series and scrape is the CPU with
   scraping minus the CPU without, over scrapes x series. Medians.
2. The live endpoint's cost under load: `loadprof load` of /ok at RATE/s
   for SECONDS, without and with --listen while a scraper reads /metrics
   and /live.json every second; CPU per request (rusage / requests in
   result.json). The 15 s loadprof serves after the load are cut short by
   SIGINT once it says so (they cost no CPU to speak of, but time).
   Interleaved ROUNDS, medians, and the ratio with/without (goal <= 1.02).

Usage: bench_metrics.py LOADPROF [--seconds 15] [--rounds 3] [--series 20000] [--rate 3000]
"""
import argparse, json, os, resource, signal, statistics, subprocess, sys, tempfile, threading, time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import free_port, wait_port  # noqa: E402

NGINX_CONF = """
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location = /ok {{ return 200 'ok'; }}
    location = /metrics {{ default_type 'text/plain; version=0.0.4'; alias {dir}/metrics.txt; }}
  }}
}}
"""


def exposition(series):
    """SERIES series: a counter family and a histogram family, with labels."""
    lines = ["# HELP app_requests_total Requests.", "# TYPE app_requests_total counter"]
    n = 0
    i = 0
    while n < series // 2:
        lines.append(
            f'app_requests_total{{route="/r{i % 97}",method="GET",status="{200 + i % 5}",pod="p{i}"}} {i * 7}'
        )
        n += 1
        i += 1
    lines += ["# HELP app_latency_seconds Latency.", "# TYPE app_latency_seconds histogram"]
    bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf"]
    j = 0
    while n < series:
        for b in bounds:
            lines.append(f'app_latency_seconds_bucket{{route="/r{j}",le="{b}"}} {j * 3}')
            n += 1
        lines.append(f'app_latency_seconds_count{{route="/r{j}"}} {j * 3}')
        lines.append(f'app_latency_seconds_sum{{route="/r{j}"}} {j * 0.7}')
        n += 2
        j += 1
    return "\n".join(lines) + "\n", n


def run_child(args, on_line=None):
    """Runs a command; returns (exit code, CPU seconds, stderr tail)."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if on_line:
        for line in p.stdout:
            on_line(line, p)
    _, err = p.communicate()
    return p.returncode, err


def cpu_of(fn):
    """CPU seconds the children started in fn used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prometheus(tmp, port, target, seconds):
    """CPU seconds Prometheus spent over `seconds` from its first scrape."""
    d = tempfile.mkdtemp(dir=tmp)
    cfg = os.path.join(d, "p.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n")
        if target:
            f.write(f"scrape_configs:\n  - job_name: x\n    static_configs:\n      - targets: ['{target}']\n")
    pport = free_port()
    p = subprocess.Popen(
        ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={d}/tsdb", f"--web.listen-address=127.0.0.1:{pport}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(pport, what="prometheus")
        time.sleep(3)  # past start-up and the first scrape
        c0 = proc_cpu(p.pid)
        time.sleep(seconds)
        return proc_cpu(p.pid) - c0
    finally:
        p.terminate()
        p.wait()


def loadprof_run(lp, tmp, url, seconds, metrics):
    d = tempfile.mkdtemp(dir=tmp)
    prof = os.path.join(d, "p.toml")
    with open(prof, "w") as f:
        f.write(f'name = "bench"\n[load]\nbase_url = "{url}"\nrate = 5\nduration = "{seconds}s"\n'
                '[[load.request]]\npath = "/ok"\n[leak]\nsettle = "1s"\n')
        if metrics:
            f.write(f'[metrics]\nscrape = ["{url}/metrics"]\ninterval = "1s"\nmax_series = 1000000\nmax_bytes = "64MB"\n')
    out = os.path.join(d, "out")
    (code, err), cpu = cpu_of(lambda: run_child([lp, "run", prof, "--out", out]))
    if code not in (0, 1):
        print(f"  loadprof run failed ({code}): {err[-500:]}")
        return None
    doc = json.load(open(os.path.join(out, "result.json")))
    scrapes = doc.get("metrics", {}).get("scrapes", [{}])[0].get("scrapes", 0) if metrics else 0
    return cpu, scrapes, doc.get("metrics", {}).get("series_count", 0)


def loadprof_load(lp, tmp, url, rate, seconds, listen):
    out = os.path.join(tempfile.mkdtemp(dir=tmp), "result.json")
    args = [lp, "load", f"{url}/ok", "--rate", str(rate), "-d", f"{seconds}s", "-o", out]
    stop = threading.Event()
    if listen:
        port = free_port()
        args += ["--listen", str(port)]

        def scrape():
            while not stop.is_set():
                for path in ("/metrics", "/live.json"):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).read()
                    except OSError:
                        pass
                stop.wait(1.0)

        threading.Thread(target=scrape, daemon=True).start()

    share = []

    def on_line(line, p):
        if line.startswith("live: serving"):
            stop.set()
            share.append(listen_share(p.pid))
            p.send_signal(signal.SIGINT)

    (code, err), cpu = cpu_of(lambda: run_child(args, on_line))
    stop.set()
    if code != 0:
        print(f"  loadprof load failed ({code}): {err[-500:]}")
        return None
    doc = json.load(open(out))
    return cpu / doc["load"]["totals"]["requests"], (share[0] if share else None)


def listen_share(pid):
    """The share of the process's CPU its live server's thread used."""
    total = proc_cpu(pid)
    mine = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != "loadprof-listen":
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            mine += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return mine / total if total else None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loadprof")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--series", type=int, default=20000)
    ap.add_argument("--rate", type=int, default=3000)
    a = ap.parse_args()
    lp = os.path.abspath(a.loadprof)
    with tempfile.TemporaryDirectory() as tmp:
        text, n = exposition(a.series)
        with open(os.path.join(tmp, "metrics.txt"), "w") as f:
            f.write(text)
        # nginx's workers run as an unprivileged user: let them read the file.
        os.chmod(tmp, 0o755)
        os.chmod(os.path.join(tmp, "metrics.txt"), 0o644)
        port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=tmp, port=port))
        nginx = subprocess.Popen(["nginx", "-c", conf, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        try:
            wait_port(port, what="nginx")
            url = f"http://127.0.0.1:{port}"
            print(f"1. scrape cost: {n} series ({len(text) / 1e6:.1f} MB of text) every 1 s for {a.seconds} s, {a.rounds} rounds")
            lp_costs, prom_costs = [], []
            for r in range(a.rounds):
                base = loadprof_run(lp, tmp, url, a.seconds, False)
                withm = loadprof_run(lp, tmp, url, a.seconds, True)
                p_idle = prometheus(tmp, port, None, a.seconds)
                p_scr = prometheus(tmp, port, f"127.0.0.1:{port}", a.seconds)
                if base and withm and withm[1]:
                    c = (withm[0] - base[0]) / (withm[1] * n) * 1e6
                    lp_costs.append(c)
                    print(f"  round {r + 1}: loadprof {withm[0]:.2f} s CPU with [metrics], {base[0]:.2f} s without, "
                          f"{withm[1]} scrapes, {withm[2]} series kept: {c:.2f} us per series and scrape")
                pc = (p_scr - p_idle) / (a.seconds * n) * 1e6
                prom_costs.append(pc)
                print(f"  round {r + 1}: prometheus {p_scr:.2f} s CPU scraping, {p_idle:.2f} s idle: {pc:.2f} us per series and scrape")
            lm, pm = med(lp_costs), med(prom_costs)
            print(f"  median: loadprof {lm:.2f} us, prometheus {pm:.2f} us per series and scrape; loadprof/prometheus {lm / pm:.2f}")
            print(f"2. --listen under load: {a.rate}/s for {a.seconds} s, /metrics and /live.json read every second, {a.rounds} rounds")
            plain, live, shares = [], [], []
            for r in range(a.rounds):
                # Alternate which goes first, so a drift in the machine's load
                # falls on both.
                order = (False, True) if r % 2 == 0 else (True, False)
                got = {w: loadprof_load(lp, tmp, url, a.rate, a.seconds, w) for w in order}
                p, l = got[False], got[True]
                if p and l:
                    plain.append(p[0])
                    live.append(l[0])
                    shares.append(l[1])
                    print(f"  round {r + 1}: {p[0] * 1e6:.2f} us CPU per request without, {l[0] * 1e6:.2f} with --listen "
                          f"({l[0] / p[0]:.3f}); the live server's thread used {l[1] * 100:.2f}% of loadprof's CPU")
            print(f"  median CPU per request: without {med(plain) * 1e6:.2f} us, with --listen {med(live) * 1e6:.2f} us; "
                  f"with/without {med(live) / med(plain):.3f} (goal <= 1.02); the live server's own share "
                  f"{med(shares) * 100:.2f}% of loadprof's CPU")
        finally:
            nginx.terminate()
            nginx.wait()


if __name__ == "__main__":
    main()
