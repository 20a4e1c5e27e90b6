#!/usr/bin/env python3
"""llama.cpp's own timings per model, from a llama_cpp.server log (verbose).

llama-cpp-python prints `llama_perf_context_print` after every completion
(prompt eval and eval time, tokens, tokens per second). The model a
completion ran on is the last one loaded (`general.name str = ...` of the
loader). The server sends none of this in its stream, so this is the only
server-side decode rate there is to compare the client's with.

Usage: llm_server_log.py SERVER.LOG [--min-eval N]
"""

import argparse
import re
import statistics
from collections import OrderedDict

NAME = re.compile(r"general\.name\s+str\s+=\s+(\S+)")
PROMPT = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
EVAL = re.compile(r"\beval time =\s*([\d.]+) ms /\s*(\d+) runs")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("--min-eval", type=int, default=32, help="only completions with at least this many decode steps")
    a = p.parse_args()
    models = OrderedDict()
    cur = None
    prompt = None
    with open(a.log, errors="replace") as f:
        for line in f:
            m = NAME.search(line)
            if m:
                cur = m.group(1)
                models.setdefault(cur, {"loads": 0, "completions": 0, "prompt": [], "eval": [], "untimed": 0})
                models[cur]["loads"] += 1
                continue
            if cur is None:
                continue
            m = PROMPT.search(line)
            if m:
                prompt = (float(m.group(1)), int(m.group(2)))
                continue
            m = EVAL.search(line)
            if m and "prompt" not in line:
                ms, n = float(m.group(1)), int(m.group(2))
                d = models[cur]
                d["completions"] += 1
                # The first completions after a load can print a prompt eval
                # time of a few microseconds for ~50-100 tokens (llama.cpp's
                # perf counters miss them); such lines are left out.
                if prompt and prompt[1] > 0 and prompt[0] >= 1.0:
                    d["prompt"].append((prompt[1], prompt[1] / prompt[0] * 1e3))
                elif prompt and prompt[1] > 1:
                    d["untimed"] += 1
                if n >= a.min_eval and ms > 0:
                    d["eval"].append(n / ms * 1e3)
                prompt = None
    if not models:
        print("no model loads found in the log (was the server started with verbose: true?)")
        return
    print(f"{'model':<10} {'loads':>5} {'completions':>11} {'prompt tok':>10} {'prompt tok/s p50':>16} "
          f"{'decode tok/s p50 (min..max, n)':>32}")
    for name, d in models.items():
        ptoks = statistics.median(n for n, _ in d["prompt"]) if d["prompt"] else float("nan")
        prate = statistics.median(r for _, r in d["prompt"]) if d["prompt"] else float("nan")
        if d["eval"]:
            ev = f"{statistics.median(d['eval']):.1f} ({min(d['eval']):.1f}..{max(d['eval']):.1f}, {len(d['eval'])})"
        else:
            ev = "-"
        print(f"{name:<10} {d['loads']:>5} {d['completions']:>11} {ptoks:>10.0f} {prate:>16.1f} {ev:>32}"
              + (f"  ({d['untimed']} prompt eval(s) without a time left out)" if d["untimed"] else ""))


if __name__ == "__main__":
    main()
