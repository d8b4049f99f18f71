#!/usr/bin/env python3
"""Cold whole-process A/B of two trendlog binaries on the same question.

Runs `OLD ARGS...` and `NEW ARGS...` alternately (the order swapped every
round, so neither always runs on a warmer cache), N rounds (env N, default
25), stdout and stderr to /dev/null, and prints per binary the median and
minimum of wall time and of CPU time (user + sys of the child). On a shared
machine the CPU minima are the steadier reading.

    python3 benches/ab_cold.py OLD NEW --db STORE trending --where region=chicago
"""
import os
import resource
import statistics
import subprocess
import sys
import time


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    bins, args = sys.argv[1:3], sys.argv[3:]
    res = {b: [] for b in bins}
    for i in range(int(os.environ.get("N", "25"))):
        for b in bins if i % 2 == 0 else bins[::-1]:
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run([b, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - t
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            res[b].append((wall * 1000, cpu * 1000))
    for b in bins:
        w = [x[0] for x in res[b]]
        c = [x[1] for x in res[b]]
        print(
            f"{b}: wall median {statistics.median(w):.1f} min {min(w):.1f} ms; "
            f"cpu median {statistics.median(c):.1f} min {min(c):.1f} ms"
        )


if __name__ == "__main__":
    main()
