#!/usr/bin/env python3
"""A small process tree to sample: a parent that starts workers, each of
which allocates memory and burns CPU for a while, then exits.

Shape over the default 12 s: the parent grows a 20 MiB cache, starts three
workers one second apart (each touches 30 MiB and spins one core for half of
every second), and frees everything at the end. Standard library only.

    python3 scripts/example-workload.py [--seconds 12] [--workers 3]
"""

import argparse
import multiprocessing as mp
import time


def worker(seconds: float, mib: int) -> None:
    block = bytearray(b"\x01" * (mib << 20))  # touched, so it is resident
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        spin_until = time.monotonic() + 0.5
        x = 0
        while time.monotonic() < spin_until:
            x += 1
        time.sleep(0.5)
    del block


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--workers", type=int, default=3)
    args = ap.parse_args()

    start = time.monotonic()
    cache = []
    procs = []
    for i in range(args.workers):
        cache.append(b"\x02" * (20 << 20) if i == 0 else b"")
        p = mp.get_context("fork").Process(
            target=worker, args=(max(1.0, args.seconds - 3 - i), 30)
        )
        p.start()
        procs.append(p)
        time.sleep(1.0)
    for p in procs:
        p.join()
    cache.clear()
    time.sleep(max(0.0, args.seconds - (time.monotonic() - start)))


if __name__ == "__main__":
    main()
