"""Hole-ratio histograms and drawing speed of every mask preset.

Usage: ``python benchmarks/mask_histograms.py [--count 1000] [--size 256] [--seed 0]
[--kinds pconv,lama_thin]``. For each preset it draws ``count`` masks (mask ``i`` is
``generator(size, seed, i)``, single process) and prints the hole-ratio histogram in 10 bins of
0.1 (count and a text bar), the mean, min and max ratio, and masks per second (wall clock, and
per CPU second, which is the better number on a shared machine).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tfinpaint.data import masks as M

BAR_WIDTH = 40


def histogram(kind: str, count: int, size: int, seed: int) -> str:
    gen = M.get_mask_generator(kind)
    start, cpu = time.perf_counter(), time.process_time()
    ratios = np.array([M.hole_ratio(gen(size, seed=seed, index=i)) for i in range(count)])
    rate = count / (time.perf_counter() - start)
    cpu_rate = count / max(time.process_time() - cpu, 1e-9)
    counts, edges = np.histogram(ratios, bins=10, range=(0.0, 1.0))
    lines = [f"{kind}  ({count} masks at {size}x{size}, seed {seed})"]
    top = max(int(counts.max()), 1)
    for c, lo, hi in zip(counts, edges[:-1], edges[1:]):
        bar = "#" * int(round(BAR_WIDTH * c / top))
        lines.append(f"  {lo:.1f}-{hi:.1f} {c:6d} {bar}")
    lines.append(f"  mean {ratios.mean():.3f}  min {ratios.min():.3f}  max {ratios.max():.3f}"
                 f"  {rate:,.0f} masks/s wall, {cpu_rate:,.0f} masks/s per CPU second")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", default=",".join(M.list_mask_kinds()))
    args = p.parse_args(argv)
    for kind in args.kinds.split(","):
        print(histogram(kind.strip(), args.count, args.size, args.seed))
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
