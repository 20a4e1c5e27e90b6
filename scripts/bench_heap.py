"""What heap tracking costs a target, per profiler, and what folding a large
capture costs loadprof. Driven by scripts/bench-heap.sh.

For each profiler a target is loaded at a fixed rate twice, side by side in
one run: once alone, once while `loadprof flame --heap` tracks it for the
whole load. The table gives answers per second and p95 of each, and their
ratios (tracked / alone). Then a Python program with many distinct stacks
is tracked and folded: loadprof's wall time, CPU and peak memory (its own
and its helpers', from /usr/bin/time), and the profile's size.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import free_port, wait_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(cmd, env=None):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def load(loadprof, url, rate, seconds, work):
    out = os.path.join(work, f"load-{time.time_ns()}.json")
    subprocess.run(
        [loadprof, "load", url, "--rate", str(rate), "-d", f"{seconds}s", "-o", out],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    doc = json.load(open(out))["load"]
    t = doc["totals"]
    return t["rps"], doc["latency"]["p95_ms"], t["errors"]


def heap_cmd(loadprof, seconds, work, name):
    folded = os.path.join(work, f"{name.split()[0]}.folded")
    return [loadprof, "flame", "--heap", "-d", f"{seconds}s", "--no-svg", "--folded", folded]


def measure(loadprof, name, port, path, alone, tracked, rate, seconds, work):
    """Loads the target alone (`alone(port)` starts it), then while it is
    tracked (`tracked(port)` starts it and the tracker, returning both; for
    a command the tracker is the target's parent)."""
    url = f"http://127.0.0.1:{port}{path}"
    rows = []
    for is_tracked in (False, True):
        if is_tracked:
            target, tracker = tracked(port)
        else:
            target, tracker = alone(port), None
        wait_port(port)
        time.sleep(2)
        rows.append(load(loadprof, url, rate, seconds, work))
        if tracker is not None:
            # The window ends (Ctrl-C) while the target still runs: the
            # profiler detaches, or reads the end of the window, from it.
            os.killpg(tracker.pid, signal.SIGINT)
            _, err = tracker.communicate(timeout=300)
            if tracker.returncode not in (0, 130):
                print(f"  {name}: loadprof flame --heap failed: {err.decode()[-400:]}", file=sys.stderr)
        stop(target)
        time.sleep(1)
    (r0, p0, e0), (r1, p1, e1) = rows
    print(
        f"| {name} | {rate} | {r0:.1f} | {r1:.1f} | {r1 / r0:.3f} | {p0:.2f} | {p1:.2f} | {p1 / p0:.2f} | {e0} / {e1} |"
    )


def tracker(cmd):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


BIG = r"""
import sys, time
kept = []
def leaf(depth, n):
    if depth == 0:
        kept.append(bytearray(n))
        return
    return branch(depth - 1, n)
def branch(depth, n):
    return leaf(depth, n)
end = time.time() + float(sys.argv[1])
i = 0
while time.time() < end:
    for d in range(40):
        leaf(d, 1000 + (i % 7) * 100)
    i += 1
    if len(kept) > 400000:
        kept.clear()
"""


def fold_cost(loadprof, seconds, work):
    """Tracks a separately started program (so the times below are
    loadprof's, memray's attach and detach, and its reader's, not the
    target's) that allocates through many distinct stacks."""
    script = os.path.join(work, "big.py")
    open(script, "w").write(BIG)
    folded = os.path.join(work, "big.folded")
    target = start([sys.executable, script, str(seconds + 60)])
    time.sleep(1)
    r = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", loadprof, "flame", "--heap", "--json", "-d", f"{seconds}s", "--no-svg", "--folded", folded, "--pid", str(target.pid)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stop(target)
    if r.returncode != 0:
        print(f"folding: loadprof flame --heap failed: {r.stderr[-600:]}")
        return
    last = r.stderr.strip().splitlines()[-1].split()
    elapsed, user, sys_, maxrss = float(last[0]), float(last[1]), float(last[2]), int(last[3])
    doc = json.loads(r.stdout) if r.returncode == 0 else {}
    size = os.path.getsize(folded) if os.path.exists(folded) else 0
    print(
        f"folding: a {seconds}s memray capture of {doc.get('samples', 0):,} allocations still held, "
        f"{doc.get('total_bytes', 0) / 2**20:.0f} MiB, in {doc.get('stacks', 0)} stacks ({size / 1024:.0f} KiB folded): "
        f"loadprof flame --heap took {elapsed:.1f}s ({elapsed - seconds:.1f}s after the window), "
        f"CPU {user + sys_:.1f}s (user {user:.1f}, sys {sys_:.1f}), peak RSS {maxrss / 1024:.1f} MiB "
        f"(the largest of loadprof and its helpers: gdb, memray's reader)"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loadprof")
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=15)
    a = ap.parse_args()
    loadprof = os.path.abspath(a.loadprof)
    work = tempfile.mkdtemp()
    py = sys.executable
    print(f"target at a fixed rate for {a.seconds}s, alone and while `loadprof flame --heap` tracks it (one run, side by side)\n")
    print("| profiler (target) | rate | rps alone | rps tracked | ratio | p95 ms alone | p95 ms tracked | ratio | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    long = a.seconds + 600
    service = os.path.join(ROOT, "tests/data/heap/service.py")

    def python_service(port):
        return start([py, service, str(port)])

    def memray_tracked(port):
        t = python_service(port)
        wait_port(port)
        return t, tracker(heap_cmd(loadprof, long, work, "memray") + ["--pid", str(t.pid)])

    measure(loadprof, "memray (aiohttp /churn, 1.5 MB a request)", free_port(), "/churn", python_service, memray_tracked, a.rate, a.seconds, work)
    goserver = os.path.join(work, "goserver")
    subprocess.run(
        ["go", "build", "-o", goserver, os.path.join(ROOT, "tests/data/flame/goserver.go")],
        check=True,
        env={**os.environ, "GO111MODULE": "off", "GOPROXY": "off", "GOCACHE": os.path.join(work, "gocache")},
    )

    def go(port):
        return start([goserver, "-port", str(port)])

    def pprof_tracked(port):
        t = go(port)
        wait_port(port)
        return t, tracker(heap_cmd(loadprof, long, work, "pprof") + ["--pprof", f"http://127.0.0.1:{port}"])

    measure(loadprof, "pprof (Go /churn, 1 MiB a request)", free_port(), "/churn", go, pprof_tracked, a.rate, a.seconds, work)
    if shutil.which("nginx") and shutil.which("jeprof"):

        def nginx_cmd(port):
            conf = os.path.join(work, f"nginx-{port}.conf")
            open(conf, "w").write(
                f"worker_processes 1; daemon off; error_log {work}/error.log; pid {work}/nginx-{port}.pid;\n"
                f"events {{ worker_connections 1024; }}\n"
                f"http {{ access_log off; server {{ listen 127.0.0.1:{port}; location / {{ default_type text/plain; return 200 \"ok\\n\"; }} }} }}\n"
            )
            return ["nginx", "-c", conf, "-p", work]

        def jemalloc_tracked(port):
            t = tracker(heap_cmd(loadprof, long, work, "jemalloc") + ["--"] + nginx_cmd(port))
            return t, t

        measure(loadprof, "jemalloc (nginx, started by loadprof)", free_port(), "/", lambda port: start(nginx_cmd(port)), jemalloc_tracked, a.rate * 10, a.seconds, work)
    else:
        print("| jemalloc | skipped: nginx or jeprof missing | | | | | | | |")
    print()
    fold_cost(loadprof, 10, work)
    shutil.rmtree(work, ignore_errors=True)


main()
