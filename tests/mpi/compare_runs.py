#!/usr/bin/env python3
"""Compares two training runs' final models and logs, as test_mpi does: the whole parameter vector
within BOUND relative (||a - b|| / ||a||), every step's loss within 1e-5 relative.
    compare_runs.py RUN_A RUN_B BOUND"""
import json
import struct
import sys

import numpy as np


def load_safetensors(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    dtypes = {"F32": np.float32, "F16": np.float16}
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + start:8 + n + end], dtype=dtypes[entry["dtype"]]).astype(np.float64)
    return out


def losses(run):
    return [json.loads(line)["loss"] for line in open(f"{run}/log.jsonl") if '"loss"' in line]


def main():
    a, b, bound = sys.argv[1], sys.argv[2], float(sys.argv[3])
    ma, mb = load_safetensors(f"{a}/model.safetensors"), load_safetensors(f"{b}/model.safetensors")
    assert ma.keys() == mb.keys(), "the two models hold different tensors"
    num = sum(((ma[k] - mb[k]) ** 2).sum() for k in ma)
    den = sum((ma[k] ** 2).sum() for k in ma)
    diff = (num / den) ** 0.5
    la, lb = losses(a), losses(b)
    worst = max(abs(x - y) / abs(x) for x, y in zip(la, lb))
    print(f"||a - b|| / ||a|| = {diff:.3g} (bound {bound:g}); {len(la)} losses, largest relative difference {worst:.3g}")
    ok = len(la) == len(lb) and len(la) > 0 and diff <= bound and worst <= 1e-5
    sys.exit(0 if ok else 1)


main()
