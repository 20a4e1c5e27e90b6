#!/usr/bin/env python3
"""What a two-step flow costs loadprof, and the same flow in Locust, side by
side in one run.

nginx (`return 200` with a JSON body for POST /login and GET /item,
access_log off, one worker per core) on 127.0.0.1, on a free port with its
own config in a temp dir. Three parts:

1. CPU per request, interleaved rounds at 50 users for SECONDS each:
   loadprof on GET /item alone (quick mode), loadprof on the flow (a profile
   with one [scenarios.flow] whose login step captures the token that the
   item step sends), and Locust (FastHttpUser, wait_time constant(0)) on the
   same flow. CPU is the tool's own user + system time from wait4's rusage;
   requests are result.json's load.totals.requests for loadprof and the sum
   over both steps of Locust's final stats (--json-file; its stats csv,
   also written, lags up to a second behind the end). Each step counts as a
   request in both. Medians of the rounds.
2. loadprof's peak RSS running the flow with a 1 s think time at 1 user and
   at each of USERS (2,000 and 10,000) for MEM_SECONDS: VmRSS and VmHWM of
   /proc/PID/status, sampled every 0.2 s. Memory per user is
   (peak RSS at N - peak RSS at 1 user) / N.
3. The same for Locust (wait_time constant(1)) at LOCUST_USERS (2,000 by
   default), and the ratios loadprof/locust.

A run that fails (non-zero exit, or no result to read) is reported with the
tail of its stderr, and the rest goes on.

Usage: bench_flows.py LOADPROF [--seconds 10] [--rounds 3] [--mem-seconds 15]
                     [--users 2000,10000] [--locust-users 2000]
"""
import argparse, csv, json, os, resource, signal, socket, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import free_port, wait_port  # noqa: E402

NGINX_CONF = """
worker_processes auto;
worker_rlimit_nofile 65536;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 65536; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location = /login {{ default_type application/json; return 200 '{{"access_token":"tok123","user":"u"}}'; }}
    location = /item {{ default_type application/json; return 200 '{{"id":1,"name":"thing"}}'; }}
  }}
}}
"""

PROFILE = """\
[load]
base_url = "{url}"
duration = "{seconds}s"

[scenarios.flow]
executor = "constant-users"
users = {users}
session = "user"
{think}
  [[scenarios.flow.steps]]
  name = "login"
  method = "POST"
  path = "/login"
  json = {{ user = "u", password = "p" }}
  capture.token = {{ json = "/access_token" }}

  [[scenarios.flow.steps]]
  name = "item"
  path = "/item"
  headers = {{ Authorization = "Bearer {{{{token}}}}" }}
"""

LOCUSTFILE = """\
from locust import FastHttpUser, constant, task


class Flow(FastHttpUser):
    wait_time = constant({wait})

    @task
    def flow(self):
        r = self.client.post("/login", json={{"user": "u", "password": "p"}}, name="login")
        token = r.json()["access_token"]
        self.client.get("/item", headers={{"Authorization": "Bearer " + token}}, name="item")
"""


def proc_kib(pid):
    """VmRSS and VmHWM of pid in KiB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            v = {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("VmRSS:", "VmHWM:"))}
        return v["VmRSS"], v["VmHWM"]
    except (OSError, KeyError, ValueError, IndexError):
        return None


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:]).rstrip() or "(empty)"
    except OSError:
        return "(none)"


class Failed(Exception):
    pass


def run(label, cmd, logs, limit, count, ok=(0,)):
    """Runs cmd with stdout and stderr in files; returns (cpu seconds, peak
    RSS bytes, requests, failed requests). CPU is from wait4's rusage of the
    child; peak RSS is the largest of its VmRSS samples and its last VmHWM
    (the high-water mark of the process's own memory: unlike ru_maxrss it
    does not carry this Python process's RSS across fork and exec); count()
    reads the requests from the run's result. Raises Failed on an exit status
    not in ok, after limit seconds, or when there is no result to read."""
    name = label.replace(" ", "-")
    err = f"{logs}/{name}.stderr"
    with open(f"{logs}/{name}.stdout", "w") as o, open(err, "w") as e:
        p = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    peak = 0
    killed = False
    end = time.time() + limit
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        kib = proc_kib(p.pid)
        if kib:
            peak = max(peak, *kib)
        if not killed and time.time() > end:
            p.send_signal(signal.SIGKILL)
            killed = True
        time.sleep(0.2)
    p.returncode = os.waitstatus_to_exitcode(status)
    if killed:
        raise Failed(f"run {label} killed after {limit:.0f} s; last lines of its stderr:\n{tail(err)}")
    if p.returncode not in ok:
        raise Failed(f"run {label} failed with status {p.returncode}; last lines of its stderr:\n{tail(err)}")
    try:
        n, errors = count()
    except (OSError, KeyError, ValueError, StopIteration) as e:
        raise Failed(f"run {label}: no result to read ({e!r}); last lines of its stderr:\n{tail(err)}")
    if n == 0:
        raise Failed(f"run {label} completed no requests; last lines of its stderr:\n{tail(err)}")
    return ru.ru_utime + ru.ru_stime, peak * 1024, n, errors


def loadprof_requests(path):
    with open(path) as f:
        t = json.load(f)["load"]["totals"]
    return t["requests"], t["errors"]


def locust_requests(prefix):
    """Locust's requests and failures over all steps: from --json-file's
    final stats where this Locust has it, else from the Aggregated row of its
    stats csv (written every second while it runs, not at the end, so it
    misses up to the last second's requests)."""
    if os.path.exists(f"{prefix}.json"):
        with open(f"{prefix}.json") as f:
            entries = json.load(f)
        return sum(e["num_requests"] for e in entries), sum(e["num_failures"] for e in entries)
    with open(f"{prefix}_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    return int(row["Request Count"]), int(row["Failure Count"])


def fail(e):
    print(f"  {e}".replace("\n", "\n    "), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loadprof")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mem-seconds", type=int, default=15)
    ap.add_argument("--users", default="2000,10000", help="loadprof's user counts for the memory runs")
    ap.add_argument("--locust-users", default="2000", help="Locust's user counts for the memory runs")
    a = ap.parse_args()
    users = [int(x) for x in a.users.split(",") if x]
    locust_users = [int(x) for x in a.locust_users.split(",") if x]

    has_locust = subprocess.run([sys.executable, "-c", "import locust"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode == 0
    need = 4 * max(users + (locust_users if has_locust else [])) + 1000
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile != resource.RLIM_INFINITY and nofile < need:
        print(f"warning: open file limit is {nofile}, below 4 * users + 1000 = {need} "
              f"(it could not be raised: runs with more users than it allows will fail)")

    d = tempfile.mkdtemp(prefix="bench-flows-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(NGINX_CONF.format(dir=d, port=port))
    subprocess.run(["nginx", "-c", f"{d}/nginx.conf", "-p", d], check=True)
    try:
        bench(a, d, url, port, users, locust_users, has_locust, nofile)
    finally:
        subprocess.run(["nginx", "-c", f"{d}/nginx.conf", "-p", d, "-s", "stop"], stderr=subprocess.DEVNULL)


def bench(a, d, url, port, users, locust_users, has_locust, nofile):
    loadprof = os.path.abspath(a.loadprof)

    def profile(name, n, seconds, think):
        path = f"{d}/{name}.toml"
        with open(path, "w") as f:
            f.write(PROFILE.format(url=url, seconds=seconds, users=n,
                                   think='think_time = "1s"\n' if think else ""))
        return path

    def locustfile(wait):
        path = f"{d}/locustfile_wait{wait}.py"
        with open(path, "w") as f:
            f.write(LOCUSTFILE.format(wait=wait))
        return path

    json_file = has_locust and "--json-file" in subprocess.run(
        [sys.executable, "-m", "locust", "--help"], capture_output=True, text=True).stdout

    def locust_cmd(file, n, seconds, prefix):
        return [sys.executable, "-m", "locust", "-f", file, "--headless", "-u", str(n), "-r", str(n),
                "-t", f"{seconds}s", "--host", url, "--only-summary", "--csv", prefix, "--loglevel", "WARNING"] + \
            (["--json-file", prefix] if json_file else [])

    wait_port(port, 10, "nginx")
    print(f"nginx on {url} ({os.cpu_count()} workers), temp dir {d}, open file limit {nofile}")
    if has_locust:
        v = subprocess.run([sys.executable, "-c", "import locust; print(locust.__version__)"],
                           capture_output=True, text=True).stdout.strip()
        print(f"Locust {v}; its memory runs at {a.locust_users} users "
              f"(10,000 Locust users take long to spawn on a small machine: pass LOCUST_USERS to change)")
        if not json_file:
            print("this Locust has no --json-file: its requests come from its stats csv, which misses "
                  "up to the last second of each run")
    else:
        print("Locust part skipped: locust is not installed for this python3 (pip install locust)")
    print(flush=True)
    s = a.seconds
    flow = profile("flow", 50, s, False)
    # Each entry: round -> (command, how to count its requests, exit statuses that
    # may still carry a result: Locust exits 1 when any request failed).
    tools = {
        "loadprof-single": lambda r: (
            [loadprof, "load", f"{url}/item", "-c", "50", "-d", f"{s}s", "-o", f"{d}/single-{r}/result.json"],
            lambda: loadprof_requests(f"{d}/single-{r}/result.json"), (0,)),
        "loadprof-flow": lambda r: (
            [loadprof, "load", "--profile", flow, "-o", f"{d}/flow-{r}/result.json"],
            lambda: loadprof_requests(f"{d}/flow-{r}/result.json"), (0,)),
    }
    if has_locust:
        lf0 = locustfile(0)
        tools["locust-flow"] = lambda r: (locust_cmd(lf0, 50, s, f"{d}/locust-cpu-{r}"),
                                          lambda: locust_requests(f"{d}/locust-cpu-{r}"), (0, 1))
    res = {t: [] for t in tools}
    failed = set()
    for r in range(a.rounds):
        for t, make in tools.items():
            if t in failed:
                continue
            cmd, count, ok = make(r + 1)
            try:
                cpu, rss, n, errors = run(f"{t} round {r + 1}", cmd, d, s + 60, count, ok)
            except Failed as e:
                fail(e)
                failed.add(t)
                if r + 1 < a.rounds:
                    print(f"  {t}: skipped in the later rounds", flush=True)
                continue
            res[t].append((cpu / n * 1e6, n / s, rss))
            note = f"  ({errors} of them failed)" if errors else ""
            print(f"round {r + 1} {t:15} {n / s:9.0f} req/s  {cpu / n * 1e6:6.2f} CPU-us/req  "
                  f"peak RSS {rss / 2**20:7.1f} MiB{note}", flush=True)
    print()
    print(f"{'run':15} {'CPU-us/req':>11} {'req/s':>10} {'peak RSS MiB':>13}   (medians of {a.rounds} rounds, 50 users)")
    med = {}
    for t, rows in res.items():
        if not rows:
            print(f"{t:15} {'failed':>11}")
            continue
        med[t] = [statistics.median(x) for x in zip(*rows)]
        cpu, rps, rss = med[t]
        print(f"{t:15} {cpu:11.2f} {rps:10.0f} {rss / 2**20:13.1f}")
    print()

    def ratio(x, y):
        return f"{med[x][0] / med[y][0]:.2f}" if x in med and y in med else f"n/a ({x if x not in med else y} failed)"

    print(f"flow/single CPU per request: {ratio('loadprof-flow', 'loadprof-single')}   (target <= 1.20)")
    if has_locust:
        print(f"loadprof/locust CPU per request (flow): {ratio('loadprof-flow', 'locust-flow')}")
    print(flush=True)

    # Memory per user: the flow with a 1 s think time, at 1 user and at N.
    ms = a.mem_seconds
    peaks = {}

    def series(tool, counts, make):
        for n in [1] + counts:
            cmd, count, ok = make(n)
            try:
                cpu, rss, reqs, errors = run(f"{tool} {n} users", cmd, d, ms + 90 + n / 50, count, ok)
            except Failed as e:
                fail(e)
                if n == 1:
                    print(f"  {tool}: no 1-user baseline, skipping its runs at {counts} users", flush=True)
                    return
                continue
            peaks[(tool, n)] = rss
            note = f", {errors} failed" if errors else ""
            print(f"{tool:8} {n:6} users: peak RSS {rss / 2**20:8.1f} MiB  "
                  f"({reqs / ms:.0f} req/s{note})", flush=True)

    series("loadprof", users, lambda n: (
        [loadprof, "load", "--profile", profile(f"mem-{n}", n, ms, True), "-o", f"{d}/mem-{n}/result.json"],
        lambda: loadprof_requests(f"{d}/mem-{n}/result.json"), (0,)))
    if has_locust:
        lf1 = locustfile(1)
        series("locust", locust_users, lambda n: (locust_cmd(lf1, n, ms, f"{d}/locust-mem-{n}"),
                                                  lambda: locust_requests(f"{d}/locust-mem-{n}"), (0, 1)))
    print()

    def per_user(tool, n):
        if (tool, n) in peaks and (tool, 1) in peaks:
            return (peaks[(tool, n)] - peaks[(tool, 1)]) / n / 1024
        return None

    for n in users:
        kib = per_user("loadprof", n)
        v = f"{kib:.1f} KiB" if kib is not None else "n/a (run failed)"
        print(f"loadprof memory per user at {n} users: {v}   (target <= 32 KiB per user)")
    if has_locust:
        for n in locust_users:
            kib = per_user("locust", n)
            v = f"{kib:.1f} KiB" if kib is not None else "n/a (run failed)"
            print(f"locust memory per user at {n} users: {v}")
        for n in locust_users:
            lp, lo = per_user("loadprof", n), per_user("locust", n)
            v = f"{lp / lo:.2f}" if lp is not None and lo else "n/a (a run failed or is missing)"
            print(f"loadprof/locust memory per user at {n} users: {v}")


if __name__ == "__main__":
    main()
