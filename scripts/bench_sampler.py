#!/usr/bin/env python3
"""Driver for scripts/bench-sampler.sh: runs loadprof and psrecord side by
side on one process tree and prints CPU cost and real sampling rate.

CPU is read from each sampler's own /proc/PID/task/*/schedstat (nanoseconds,
all threads) between 2 s after start and 1 s before the end, so interpreter
start-up and imports do not count; the whole-run figure from wait4() is
printed beside it.
"""

import argparse
import os
import signal
import subprocess
import tempfile
import time


def cpu_ns(pid: int) -> int:
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


# Children of the "active" tree wake every 10 ms, so each one has run
# between any two samples and every per-process read is taken.
ACTIVE_CHILD = "python3 -c 'import time\nwhile True: time.sleep(0.01)'"


def start_tree(children: int, active: bool) -> subprocess.Popen:
    child = ACTIVE_CHILD if active else "sleep 100000"
    tree = subprocess.Popen(
        ["bash", "-c", f"for i in $(seq {children}); do {child} & done; wait"],
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{tree.pid}/task/{tree.pid}/children") as f:
            if len(f.read().split()) >= children:
                return tree
        time.sleep(0.05)
    raise SystemExit("the benchmark tree did not start")


def real_rate(times: list) -> float:
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def loadprof_times(path: str) -> list:
    with open(path) as f:
        next(f)
        return [float(line.split(",", 1)[0]) for line in f if line.strip()]


def psrecord_times(path: str) -> list:
    with open(path) as f:
        return [float(l.split()[0]) for l in f if l.strip() and not l.startswith("#")]


def run_pair(args, root: int, hz: int, tmp: str) -> dict:
    interval_ms = 1000 // hz
    lp_csv = os.path.join(tmp, f"loadprof-{hz}.csv")
    ps_log = os.path.join(tmp, f"psrecord-{hz}.txt")
    cmds = {
        "loadprof": [args.loadprof, "sample", "--pid", str(root), "--interval", f"{interval_ms}ms",
                     "--duration", f"{args.seconds}s", "-o", lp_csv],
        "psrecord": [args.psrecord, str(root), "--interval", str(interval_ms / 1000),
                     "--duration", str(args.seconds), "--include-children", "--log", ps_log],
    }
    procs = {name: subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for name, cmd in cmds.items()}
    time.sleep(2.0)
    first = {n: (time.monotonic(), cpu_ns(p.pid)) for n, p in procs.items()}
    time.sleep(args.seconds - 3.0)
    last = {n: (time.monotonic(), cpu_ns(p.pid)) for n, p in procs.items()}
    out = {}
    for name, p in procs.items():
        _, status, usage = os.wait4(p.pid, 0)
        wall = last[name][0] - first[name][0]
        steady = (last[name][1] - first[name][1]) / 1e9 / wall * 100
        whole = (usage.ru_utime + usage.ru_stime) / args.seconds * 100
        times = loadprof_times(lp_csv) if name == "loadprof" else psrecord_times(ps_log)
        out[name] = {"cpu": steady, "whole": whole, "rate": real_rate(times), "n": len(times)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadprof", required=True)
    ap.add_argument("--psrecord", required=True)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--children", type=int, default=20)
    args = ap.parse_args()
    bench(args, active=False)
    bench(args, active=True)


def bench(args, active: bool) -> None:
    tree = start_tree(args.children, active)
    kind = "python children waking every 10 ms" if active else "sleep children"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"\ntree: 1 bash + {args.children} {kind} (pid {tree.pid}); "
                  f"{args.seconds} s per rate; {os.cpu_count()} cpus; load {os.getloadavg()[0]:.2f}")
            print(f"{'rate':>6} {'sampler':>9} {'CPU % (steady)':>15} {'CPU % (whole)':>14} "
                  f"{'samples':>8} {'real Hz':>9} {'rate err':>9}")
            verdicts = []
            for hz in (10, 100):
                r = run_pair(args, tree.pid, hz, tmp)
                for name in ("loadprof", "psrecord"):
                    m = r[name]
                    err = (m["rate"] - hz) / hz * 100
                    print(f"{hz:>4}Hz {name:>9} {m['cpu']:>15.3f} {m['whole']:>14.3f} "
                          f"{m['n']:>8} {m['rate']:>9.3f} {err:>8.2f}%")
                lp, ps = r["loadprof"], r["psrecord"]
                ratio = ps["cpu"] / lp["cpu"] if lp["cpu"] > 0 else float("inf")
                budget = 0.25 if hz == 10 else 2.5
                rate_err = abs(lp["rate"] - hz) / hz * 100
                print(f"       psrecord/loadprof CPU ratio: {ratio:.1f}x")
                verdicts.append((f"{hz} Hz: loadprof CPU {lp['cpu']:.3f} % <= {budget} %", lp["cpu"] <= budget))
                verdicts.append((f"{hz} Hz: loadprof rate error {rate_err:.2f} % <= 1 %", rate_err <= 1.0))
                if hz == 10:
                    verdicts.append((f"10 Hz: psrecord uses {ratio:.1f}x loadprof's CPU (>= 15x)", ratio >= 15))
            if active:
                print("  (targets are set on the sleeping tree; this one shows the cost when every process runs)")
                return
            print()
            for text, ok in verdicts:
                print(f"  [{'ok' if ok else 'MISS'}] {text}")
    finally:
        os.killpg(tree.pid, signal.SIGKILL)
        tree.wait()


if __name__ == "__main__":
    main()
