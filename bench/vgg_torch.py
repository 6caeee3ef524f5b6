"""PyTorch peer of bench/vgg_bench.cpp: the same VGG16 workloads, timed the same way.

Used only as a benchmark peer (run with /usr/bin/python3, which has torch); the product never
imports it. Prints one JSON line in the format of stylenet_vgg_bench.

  vgg_torch.py --workload forward|train --size S --batch B --threads T --reps R [--warmup W]
               [--device cpu|cuda] [--tf32 on|off]

--device cuda runs the same network on the GPU (weights and input made on the CPU from the same
seeds, then copied there; not timed), synchronizes before and after each timed repetition, and
adds "device", "tf32" and "peak_gpu_bytes" (torch.cuda.max_memory_allocated) to the JSON line.
--tf32 sets torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32 (default
off: plain float32 on both; PyTorch's own default lets cuDNN use TF32). On the CPU both are
ignored and the line is exactly as before.
"""
import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from torch_tf32 import set_tf32

CFG = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]


def make_convs(count, requires_grad, device="cpu"):
    gen = torch.Generator().manual_seed(1409)
    convs, cin = [], 3
    for c in CFG:
        if c == 0:
            continue
        if len(convs) == count:
            break
        w = torch.randn(c, cin, 3, 3, generator=gen) * (2.0 / (c * 9)) ** 0.5
        b = torch.zeros(c)
        w, b = w.to(device), b.to(device)
        w.requires_grad_(requires_grad)
        b.requires_grad_(requires_grad)
        convs.append((w, b))
        cin = c
    return convs


def run(convs, x, with_last_pool, inplace):
    # Same layer order as stylenet_vgg_bench (torchvision's features; ReLU(inplace=True) there).
    nxt = 0
    for c in CFG:
        if c == 0:
            if nxt == len(convs) and not with_last_pool:
                break
            x = F.max_pool2d(x, 2)
            if nxt == len(convs):
                break
            continue
        if nxt == len(convs):
            break
        w, b = convs[nxt]
        x = F.relu(F.conv2d(x, w, b, padding=1), inplace=inplace)
        nxt += 1
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="forward", choices=["forward", "train"])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--tf32", default="off", choices=["on", "off"])
    a = ap.parse_args()
    cuda = a.device == "cuda"
    tf32 = set_tf32(a.tf32 == "on", "vgg_torch.py") if cuda else None
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    image = torch.rand(a.batch, 3, a.size, a.size).to(a.device)
    train = a.workload == "train"
    convs = make_convs(10 if train else 13, train, a.device)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    times, checksum = [], 0.0
    for r in range(a.warmup + a.reps):
        sync()
        t0 = time.perf_counter()
        if train:
            x = image.detach().requires_grad_(True)
            out = run(convs, x, False, inplace=True)
            loss = out.square().mean()
            loss.backward()
            checksum = loss.item()
            for w, b in convs:
                w.grad = None
                b.grad = None
        else:
            with torch.inference_mode():
                out = run(convs, image, True, inplace=True)
                checksum = out.numel()
        sync()
        if r >= a.warmup:
            times.append(time.perf_counter() - t0)
    result = {
        "impl": "pytorch", "workload": a.workload, "size": a.size, "batch": a.batch, "threads": a.threads,
        "torch": torch.__version__, "median_s": statistics.median(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "checksum": checksum, "times": times,
    }
    if cuda:
        result.update({"device": "cuda", "tf32": a.tf32, "tf32_matmul_cudnn": tf32, "gpu": torch.cuda.get_device_name(),
                       "peak_gpu_bytes": torch.cuda.max_memory_allocated()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
