#!/usr/bin/env python3
"""Reads the runs scripts/bench-mpi.sh made (rank 0's log.jsonl of each) and prints the measured
scaling on this machine and a model of the step time on larger clusters.

    mpi_model.py WORK_DIR STAGE...    (runs WORK_DIR/<stage>-1, -2 and -half)

Model (weak scaling: every node keeps its share of the global batch; the per-node compute time is
the one measured here for one rank with that share alone on the machine, so a node with more
cores has a smaller compute time and a larger exchange share than printed):
    T(N) = compute + exchange(N)
    exchange(N), what StyleNet does: a reduce to rank 0 and a broadcast from it, each a binomial tree
                 of ceil(log2 N) rounds of the whole buffer M (Open MPI's non-blocking reduce and
                 broadcast for more than 4 ranks; 16 MB buckets, not pipelined further):
                 2 * ceil(log2 N) * (latency + M / bandwidth)
    ring allreduce, for comparison (what MPI_Allreduce reaches on large buffers; not used, because
                 it gives no guarantee that every rank holds the same bits):
                 2 * (N - 1) / N * M / bandwidth + 2 * (N - 1) * latency
    bandwidth: 80 % of the link (TCP over Ethernet); latency 30 us at 10 Gbit/s, 10 us at 100 Gbit/s.
"""
import json
import math
import statistics
import sys

SKIP = 3  # steps left out of the timing: the first ones fault pages in and fill caches
LINKS = [("10 Gbit/s", 10e9 / 8 * 0.8, 30e-6), ("100 Gbit/s", 100e9 / 8 * 0.8, 10e-6)]
NODES = [4, 16, 64]


def per_step(run):
    rows = [json.loads(line) for line in open(f"{run}/log.jsonl")]
    def deltas(key):
        values = [r.get(key, 0.0) for r in rows]
        return [b - a for a, b in zip(values[SKIP - 1:], values[SKIP:])]
    return {k: statistics.median(deltas(k)) for k in ("time", "exchange_s", "wait_s", "exchange_bytes")}


def tree(n, m, bw, lat):
    return 2 * math.ceil(math.log2(n)) * (lat + m / bw)


def ring(n, m, bw, lat):
    return 2 * (n - 1) / n * m / bw + 2 * (n - 1) * lat


def report(work, stage):
    one, two, half = (per_step(f"{work}/{stage}-{r}") for r in ("1", "2", "half"))
    t1, t2, x2, w2, m = one["time"], two["time"], two["exchange_s"], two["wait_s"], two["exchange_bytes"]
    compute, alone = t2 - x2 - w2, half["time"]
    print(f"\n## {stage} stage: global batch 4 crops of 128 px, 1 thread per rank (medians of steps {SKIP + 1}..)")
    print(f"1 rank  x batch 4: {t1:.3f} s/step")
    print(f"2 ranks x batch 2: {t2:.3f} s/step  speed-up {t1 / t2:.2f}x, efficiency {t1 / (2 * t2):.0%}")
    print(f"  per step on rank 0: compute {compute:.3f} s, exchange {x2 * 1e3:.1f} ms ({x2 / t2:.1%}), "
          f"waiting for the slower rank {w2 * 1e3:.1f} ms ({w2 / t2:.1%}); {m / 1e6:.2f} MB summed per step")
    print(f"  1 rank x batch 2 alone on the machine: {alone:.3f} s/step: two ranks sharing it slow each "
          f"other's compute by {compute / alone - 1:.0%} (memory bandwidth, caches, each rank's loader thread)")
    compute = alone
    print(f"model (compute {compute:.3f} s per node and step: 1 rank x batch 2 alone; M = {m / 1e6:.2f} MB):")
    print("| nodes | link | exchange, tree (ms) | step (s) | efficiency | exchange, ring (ms) | step, ring (s) |")
    print("|---|---|---|---|---|---|---|")
    for n in NODES:
        for name, bw, lat in LINKS:
            xt, xr = tree(n, m, bw, lat), ring(n, m, bw, lat)
            print(f"| {n} | {name} | {xt * 1e3:.1f} | {compute + xt:.3f} | {compute / (compute + xt):.0%} "
                  f"| {xr * 1e3:.1f} | {compute + xr:.3f} |")


for stage in sys.argv[2:]:
    report(sys.argv[1], stage)
