#!/usr/bin/env python3
"""Compares two builds of a benchmark program, run alternately so that both see the same machine.

    python3 bench/compare_builds.py ROUNDS OLD_BINARY NEW_BINARY [FILTER] [MIN_TIME]

Each round runs OLD then NEW (Google Benchmark, JSON output); the table gives each row's median
CPU time over the rounds for both and the ratio new/old. Rows that only one build has show NaN on
the other side. Example, a build of the previous commit against this one:

    python3 bench/compare_builds.py 3 /tmp/old/kiln_bench build/bench/kiln_bench 'BM_Chain|BM_Compile'
"""
import collections
import json
import math
import statistics
import subprocess
import sys

UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def run(binary, flt, min_time):
    out = subprocess.run([binary, f"--benchmark_filter={flt}", "--benchmark_format=json",
                          f"--benchmark_min_time={min_time}"],
                         capture_output=True, text=True, check=True).stdout
    return {b["name"]: b["cpu_time"] * UNIT_MS[b["time_unit"]] for b in json.loads(out)["benchmarks"]}


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, old, new = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    flt = sys.argv[4] if len(sys.argv) > 4 else "."
    min_time = sys.argv[5] if len(sys.argv) > 5 else "0.2"
    times = collections.defaultdict(lambda: {"old": [], "new": []})
    for _ in range(rounds):
        for label, binary in (("old", old), ("new", new)):
            for name, ms in run(binary, flt, min_time).items():
                times[name][label].append(ms)
    for name, t in times.items():
        o = statistics.median(t["old"]) if t["old"] else math.nan
        n = statistics.median(t["new"]) if t["new"] else math.nan
        print(f"{name:40s} old {o:11.4f} ms   new {n:11.4f} ms   new/old {n / o:5.2f}")


if __name__ == "__main__":
    main()
