#!/usr/bin/python3
"""Per-layer A/B of VGG16 forward passes: two or more stylenet_vgg_bench commands, alternated.

    scripts/ab-vgg-layers.py ROUNDS THREADS LABEL:COMMAND [LABEL:COMMAND ...]

Each COMMAND is a stylenet_vgg_bench invocation, optionally preceded by VAR=value settings and a
wrapper such as `taskset -c 0`; `--threads THREADS --warmup 3 --reps 8 --layers 1` is appended.
Rounds run the commands in ABBA order (forward on even rounds, reversed on odd ones): on the shared
2-core VM the second process of a back-to-back pair ran up to 15 % slower whichever binary it was.
Prints each round's pass totals as it goes (on stderr), then each layer's median over the rounds
(ms) and the whole pass's. For 1 thread, pin both sides (`taskset -c 0`): unpinned, one process
moved between 87 and 104 ms from round to round.

Example (the binary of a commit against the working tree's, docs/measuring.md):
    scripts/ab-vgg-layers.py 8 1 "old:taskset -c 0 /tmp/old/build/bench/stylenet_vgg_bench" \\
                                 "new:taskset -c 0 build/bench/stylenet_vgg_bench"
"""
import json
import os
import re
import shlex
import statistics
import subprocess
import sys


def run(spec, threads):
    words = shlex.split(spec)
    env = dict(os.environ)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    args = words + ["--threads", threads, "--warmup", "3", "--reps", "8", "--layers", "1"]
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, check=True).stdout
    layers, total = {}, None
    for line in out.splitlines():
        if line.startswith("{"):
            total = json.loads(line)["median_s"] * 1000
        elif m := re.match(r"(\S+).*?\s([\d.]+) ms\b", line):
            layers[m.group(1)] = float(m.group(2))
    return layers, total


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    rounds, threads = int(sys.argv[1]), sys.argv[2]
    configs = [c.split(":", 1) for c in sys.argv[3:]]
    layers = {label: {} for label, _ in configs}
    totals = {label: [] for label, _ in configs}
    for r in range(rounds):
        for label, spec in configs if r % 2 == 0 else configs[::-1]:
            per_layer, total = run(spec, threads)
            for name, ms in per_layer.items():
                layers[label].setdefault(name, []).append(ms)
            totals[label].append(total)
        # Each round's totals: a round whose passes all drift (a slow hour of the shared machine,
        # docs/measuring.md) shows here, where the medians would hide it.
        this_round = "  ".join(f"{label} {totals[label][-1]:.2f}" for label, _ in configs)
        print(f"round {r + 1}/{rounds}: {this_round} ms", file=sys.stderr)
    labels = [label for label, _ in configs]
    print("layer".ljust(10) + "".join(label[:14].rjust(15) for label in labels))
    names = list(dict.fromkeys(n for label in labels for n in layers[label]))  # first seen first
    # A layer one binary does not time on its own (a pool fused with its conv) shows as "-".
    for name in names:
        print(name.ljust(10) + "".join(f"{statistics.median(layers[label][name]):15.2f}" if name in layers[label]
                                       else "-".rjust(15) for label in labels))
    print("TOTAL".ljust(10) + "".join(f"{statistics.median(totals[label]):15.2f}" for label in labels))


if __name__ == "__main__":
    main()
