"""PyTorch peer of bench/stylize_bench.cpp: the same style-transfer network, timed the same way.

Used only as a benchmark peer (run with /usr/bin/python3, which has torch); the product never
imports it. Prints one JSON line in the format of stylenet_stylize_bench.

  stylize_torch.py --size S --threads T --reps R [--warmup W] [--style-size N] [--model PATH]
                   [--method learned|multilevel|learned-multilevel] [--device cpu|cuda] [--tf32 on|off]

The network: VGG16 up to the model's tap (ImageNet normalisation, conv + ReLU, max-pool), the
LST fusion and the decoder as in tests/style/gen_style.py (the parity twin the C++ modules are
tested against), with the decoder and fusion weights read from the StyleNet model file (a
safetensors file; parsed here with the standard library). The encoder gets seeded He-normal
weights: the stand-in is also He-normal, and the time does not depend on the values. One
repetition is what stylize does for one photo: reflection-pad 16 px, encode photo and style,
fuse, decode, crop, clamp, then the finishing (stylenet/finish.h: the guided filter with the
photo as guide, then WCT on the pixels; --finish off leaves them out, as `--smooth 0
--no-color-match` does in the CLI); PyTorch runs the whole photo at once (no tiles).

A model whose W starts at WCT (metadata fusion_start = wct) fuses as StyleNet does: WCT plus
the LST network's correction (its output less the style mean LST adds).

--method multilevel is Li et al.'s coarse-to-fine WCT as stylenet runs it:
WCT at the model's tap and its decoder, then for each shallower level of the model file
(relu2_1, relu1_1) the result re-encoded, WCT at that level (covariances in float32 matmuls,
eigendecompositions in float64, as torch users write it), and the level's decoder. The style is
encoded once to the deepest tap, keeping the shallower taps (as stylenet does).
--method learned-multilevel (the CLI's default since the decoder was tuned on fused features) is
the same with the model's learned fusion in place of WCT at the model's tap.

--device cuda runs it all on the GPU (model, encoder and images made on the CPU as above, then
copied there; not timed; the eigendecompositions too, in float64 on the GPU), synchronizes before
and after each timed repetition, and adds "device", "tf32" and "peak_gpu_bytes"
(torch.cuda.max_memory_allocated) to the JSON line. --tf32 sets torch.backends.cuda.matmul.allow_tf32
and torch.backends.cudnn.allow_tf32 (default off: plain float32; PyTorch's own default lets cuDNN
use TF32). On the CPU both are ignored and the line is exactly as before.
"""
import argparse
import json
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_tf32 import set_tf32

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "style"))
from gen_style import TAP_CONVS as TAP_CONVS_ALL, Decoder, MulLayer  # noqa: E402  (the parity twin)

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M"]
TAP_CONVS = {"relu3_1": 5, "relu4_1": 8}
DTYPES = {"F16": np.float16, "F32": np.float32}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for key, info in header.items():
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[key] = torch.from_numpy(arr.astype(np.float32))
    return meta, tensors


def make_encoder(tap, device="cpu"):
    gen = torch.Generator().manual_seed(20140904)
    layers, cin, convs = [], 3, 0
    for v in VGG16_CFG:
        if v == "M":
            layers.append(None)
            continue
        w = torch.randn(v, cin, 3, 3, generator=gen) * (2.0 / (v * 9)) ** 0.5
        layers.append((w.to(device), torch.zeros(v).to(device)))
        cin, convs = v, convs + 1
        if convs == TAP_CONVS[tap]:
            break
    return layers


MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def encode(layers, x):
    x = (x - MEAN) / STD
    for layer in layers:
        x = F.max_pool2d(x, 2) if layer is None else F.relu(F.conv2d(x, layer[0], layer[1], padding=1), inplace=True)
    return x


def stylize(encoder, fusion, decoder, content, style, border=16):
    _, _, h, w = content.shape
    x = F.pad(content, (border, border, border, border), mode="reflect")
    t = fusion(encode(encoder, x), encode(encoder, style))
    y = decoder(t)[:, :, border:border + h, border:border + w]
    return y.clamp(0, 1)


def encode_taps(layers, x, convs_at):
    """The activations after conv number n (1-based, ReLU applied) for each n in convs_at."""
    x = (x - MEAN) / STD
    out, convs = {}, 0
    for layer in layers:
        if layer is None:
            x = F.max_pool2d(x, 2)
            continue
        x = F.relu(F.conv2d(x, layer[0], layer[1], padding=1))
        convs += 1
        if convs in convs_at:
            out[convs] = x
        if convs == max(convs_at):
            break
    return out


def sym_pow(cov, eps, power):
    d, e = torch.linalg.eigh(cov.double() + eps * torch.eye(cov.shape[0], dtype=torch.float64, device=cov.device))
    return (e * d.clamp(min=eps).pow(power)) @ e.T


def wct(C, S, eps=1e-5):
    c = C.shape[1]
    xc, xs = C.reshape(c, -1), S.reshape(c, -1)
    mc, ms = xc.mean(1, keepdim=True), xs.mean(1, keepdim=True)
    xc, xs = xc - mc, xs - ms
    cov_c = xc @ xc.T / (xc.shape[1] - 1)
    cov_s = xs @ xs.T / (xs.shape[1] - 1)
    transform = (sym_pow(cov_s, eps, 0.5) @ sym_pow(cov_c, eps, -0.5)).float()
    return (transform @ xc + ms).reshape(C.shape)


def wct_started(lst):
    """The fusion of a W that starts at WCT: WCT(C, S) + unzip(T_s T_c z) (stylenet/learned_fusion.h)."""
    return lambda C, S: wct(C, S) + lst(C, S) - S.mean((2, 3), keepdim=True)


def stylize_multilevel(encoder, levels, content, style, first_fusion=wct, border=16):
    """levels: (convs at the tap, decoder), deepest first; first_fusion fuses at the deepest."""
    _, _, h, w = content.shape
    styles = encode_taps(encoder, style, [n for n, _ in levels])
    y = content
    for i, (n, decoder) in enumerate(levels):
        x = F.pad(y, (border, border, border, border), mode="reflect")
        t = (first_fusion if i == 0 else wct)(encode_taps(encoder, x, [n])[n], styles[n])
        y = decoder(t)[:, :, border:border + h, border:border + w].clamp(0, 1)
    return y


def box_mean(x, r):
    """Mean over the (2r+1)^2 window around every pixel, clipped at the borders."""
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def guided_filter(guide, source, r, eps):
    """He et al.'s colour-guide guided filter, as vision/guided_filter.cpp computes it."""
    n, _, h, w = guide.shape
    mean_i, mean_p = box_mean(guide, r), box_mean(source, r)
    ii = torch.stack([box_mean(guide[:, k:k + 1] * guide, r) for k in range(3)], 1)   # [n, k, l, h, w]
    ip = torch.stack([box_mean(guide[:, k:k + 1] * source, r) for k in range(3)], 1)  # [n, k, c, h, w]
    sigma = ii - mean_i[:, :, None] * mean_i[:, None] + eps * torch.eye(3).view(1, 3, 3, 1, 1).to(guide)
    cov = ip - mean_i[:, :, None] * mean_p[:, None]
    a = torch.linalg.solve(sigma.permute(0, 3, 4, 1, 2), cov.permute(0, 3, 4, 1, 2))  # [n, h, w, k, c]
    b = mean_p - torch.einsum("nhwkc,nkhw->nchw", a, mean_i)
    mean_a = box_mean(a.permute(0, 3, 4, 1, 2).reshape(n, 9, h, w), r).view(n, 3, 3, h, w)
    return torch.einsum("nkchw,nkhw->nchw", mean_a, guide) + box_mean(b, r)


def finish(y, content, style, smooth, match_colors, eps=1e-3):
    """stylenet/finish.h: photo-guided smoothing, then the style's RGB mean and covariance."""
    if smooth > 0:
        r = max(1, round(smooth * min(content.shape[2:]) / 256))
        y = guided_filter(content, y, r, eps).clamp(0, 1)
    return wct(y, style).clamp(0, 1) if match_colors else y


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--style-size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--tile", type=int, default=0)  # accepted for symmetry; PyTorch never tiles
    ap.add_argument("--model", default=os.path.join(here, "..", "models", "default.safetensors"))
    ap.add_argument("--method", default="learned-multilevel", choices=["learned", "multilevel", "learned-multilevel"])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--tf32", default="off", choices=["on", "off"])
    ap.add_argument("--finish", default="on", choices=["on", "off"])  # off: the decoder's output
    a = ap.parse_args()
    cuda = a.device == "cuda"
    tf32 = set_tf32(a.tf32 == "on", "stylize_torch.py") if cuda else None
    if cuda:  # encode() reads the normalisation constants as globals
        global MEAN, STD
        MEAN, STD = MEAN.to(a.device), STD.to(a.device)
    torch.set_num_threads(a.threads)
    meta, tensors = read_safetensors(a.model)
    tap, width, k = meta["tap"], float(meta["decoder_width"]), int(meta["k"])
    decoder, fusion = Decoder(tap, width), MulLayer(tensors["fusion.compress.weight"].shape[1], k)
    decoder.load_state_dict({key[len("decoder."):]: v for key, v in tensors.items() if key.startswith("decoder.")})
    fusion.load_state_dict({key[len("fusion."):]: v for key, v in tensors.items() if key.startswith("fusion.")})
    decoder, fusion = decoder.to(a.device), fusion.to(a.device)
    if meta.get("fusion_start", "identity") == "wct":
        fusion = wct_started(fusion)
    encoder = make_encoder(tap, a.device)
    levels = [(TAP_CONVS_ALL[tap], decoder)]
    for spec in filter(None, meta.get("levels", "").split(",")):
        level_tap = spec.split(":")[0]
        prefix = "level." + level_tap + "."
        level_decoder = Decoder(level_tap, float(spec.split(":")[1]))
        level_decoder.load_state_dict({key[len(prefix):]: v for key, v in tensors.items() if key.startswith(prefix)})
        levels.append((TAP_CONVS_ALL[level_tap], level_decoder.to(a.device)))
    torch.manual_seed(7)
    content = torch.rand(1, 3, a.size, a.size).to(a.device)
    style = torch.rand(1, 3, a.style_size, a.style_size).to(a.device)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    times, checksum = [], 0.0
    with torch.inference_mode():
        for r in range(a.warmup + a.reps):
            sync()
            t0 = time.perf_counter()
            if a.method == "learned":
                out = stylize(encoder, fusion, decoder, content, style)
            else:
                out = stylize_multilevel(encoder, levels, content, style,
                                         fusion if a.method == "learned-multilevel" else wct)
            if a.finish == "on":  # stylenet/finish.h's defaults: radius 2 per 256 px, colour match
                out = finish(out, content, style, 2.0, True)
            checksum = out.numel()
            sync()
            if r >= a.warmup:
                times.append(time.perf_counter() - t0)
    workload = ("stylize" if a.method == "learned" else "stylize_" + a.method) + ("_unfinished" if a.finish == "off" else "")
    result = {
        "impl": "pytorch", "workload": workload, "size": a.size, "batch": 1, "threads": a.threads,
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
