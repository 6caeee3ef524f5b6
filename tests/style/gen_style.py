#!/usr/bin/python3
"""PyTorch twin of StyleNet's style-transfer pieces, for tests/test_style_parity.cpp.

Usage:  /usr/bin/python3 tests/style/gen_style.py OUTDIR

Builds, independently of the C++ code, LST's MulLayer (stylenet/fusion.h LearnedFusion), the
VGG16-mirror decoder (stylenet/decoder.h), AdaIN and the losses (stylenet/losses.h), runs them in
float32 on fixed seeded inputs and writes, one folder per case:

  meta.txt          key=value lines: kind=lst|decoder|adain|loss, the module's configuration,
                    params=<comma-separated state_dict keys> (modules), ninputs=N
  state.<key>.npy   the module's weights (torch default init, seeded), loaded by the C++ side
                    through Module::load_state_dict with the same keys
  in<i>.npy         the inputs
  out.npy           the output
  gout.npy          a fixed random upstream gradient: the scalar loss is sum(out * gout)
  gin<i>.npy        d loss / d input i
  grad.<key>.npy    d loss / d parameter

PyTorch is only the oracle; nothing in the product imports it. Deterministic (seeds, one thread).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)


# ---- LST (Li et al. 2019), after sunshineatnoon/LinearStyleTransfer libs/Matrix.py ----------


class CNN(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(c, c // 2, 3, 1, 1), nn.ReLU(),
                                   nn.Conv2d(c // 2, c // 4, 3, 1, 1), nn.ReLU(),
                                   nn.Conv2d(c // 4, k, 3, 1, 1))
        self.fc = nn.Linear(k * k, k * k)

    def forward(self, x):
        out = self.convs(x)
        b, c, h, w = out.size()
        out = out.view(b, c, -1)
        out = torch.bmm(out, out.transpose(1, 2)).div(h * w)
        return self.fc(out.view(b, -1))


class MulLayer(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.snet = CNN(c, k)
        self.cnet = CNN(c, k)
        self.compress = nn.Conv2d(c, k, 1, 1, 0)
        self.unzip = nn.Conv2d(k, c, 1, 1, 0)
        self.k = k

    def forward(self, cF, sF):
        b, c, h, w = cF.size()
        cF = cF - cF.mean(dim=(2, 3), keepdim=True)
        sMean = sF.mean(dim=(2, 3), keepdim=True)
        sF = sF - sMean
        z = self.compress(cF).view(b, self.k, -1)
        cM = self.cnet(cF).view(b, self.k, self.k)
        sM = self.snet(sF).view(b, self.k, self.k)
        t = torch.bmm(torch.bmm(sM, cM), z).view(b, self.k, h, w)
        return self.unzip(t) + sMean


# ---- decoder: VGG16's encoder up to the tap, reversed ----------------------------------------

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M"]
TAP_CONVS = {"relu3_1": 5, "relu4_1": 8}  # number of convs up to and including the tap's


class Decoder(nn.Module):
    def __init__(self, tap, width):
        super().__init__()
        steps, cin, convs = [], 3, 0
        for v in VGG16_CFG:
            if v == "M":
                steps.append(None)
                continue
            steps.append((cin, v))
            cin, convs = v, convs + 1
            if convs == TAP_CONVS[tap]:
                break
        rev = [None if s is None else (s[1], s[0]) for s in reversed(steps)]
        last = max(i for i, s in enumerate(rev) if s is not None)
        layers = []
        for i, s in enumerate(rev):
            if s is None:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            cin = s[0] if i == 0 else max(1, round(s[0] * width))
            cout = s[1] if i == last else max(1, round(s[1] * width))
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
            if i != last:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# ---- AdaIN and the losses (pytorch-AdaIN's calc_mean_std: unbiased variance + eps) -----------


def mean_std(f, eps=1e-5):
    n, c = f.shape[:2]
    v = f.reshape(n, c, -1).var(dim=2) + eps
    return f.reshape(n, c, -1).mean(dim=2).view(n, c, 1, 1), v.sqrt().view(n, c, 1, 1)


def adain(C, S, eps=1e-5):
    cm, cs = mean_std(C, eps)
    sm, ss = mean_std(S, eps)
    return (C - cm) / cs * ss + sm


def gram(f):
    n, c, h, w = f.shape
    x = f.reshape(n, c, h * w)
    return torch.bmm(x, x.transpose(1, 2)) / (c * h * w)


def mse(a, b):
    return ((a - b) ** 2).mean()  # broadcasting, as a style target of batch 1


LOSSES = {
    "gram": lambda x: gram(x[0]),
    "mean_std_loss": lambda x: mse(mean_std(x[0])[0], mean_std(x[1])[0]) + mse(mean_std(x[0])[1], mean_std(x[1])[1]),
    "gram_loss": lambda x: mse(gram(x[0]), gram(x[1])),
    "content_loss": lambda x: torch.nn.functional.mse_loss(x[0], x[1]),
    "total_variation": lambda x: ((x[0][:, :, 1:] - x[0][:, :, :-1]) ** 2).mean()
    + ((x[0][:, :, :, 1:] - x[0][:, :, :, :-1]) ** 2).mean(),
}


# ---- writing ---------------------------------------------------------------------------------


def save(folder, name, t):
    np.save(os.path.join(folder, name + ".npy"), t.detach().numpy().astype(np.float32))


def run_case(root, name, meta, fn, inputs, module=None, seed=0):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    gen = torch.Generator().manual_seed(seed + 1000)
    xs = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(xs)
    gout = torch.randn(out.shape, generator=gen)
    params = list(module.named_parameters()) if module is not None else []
    grads = torch.autograd.grad((out * gout).sum(), xs + [p for _, p in params])
    for i, (x, g) in enumerate(zip(xs, grads)):
        save(folder, "in%d" % i, x)
        save(folder, "gin%d" % i, g)
    for (key, p), g in zip(params, grads[len(xs):]):
        save(folder, "state." + key, p)
        save(folder, "grad." + key, g)
    save(folder, "out", out)
    save(folder, "gout", gout)
    meta = dict(meta, ninputs=len(xs))
    if module is not None:
        meta["params"] = ",".join(k for k, _ in params)
    with open(os.path.join(folder, "meta.txt"), "w") as f:
        for k, v in meta.items():
            f.write("%s=%s\n" % (k, v))
    return name


def features(gen, *shape, offset=0.0):
    # VGG-like: post-ReLU-ish positive means, correlated channels (random mixing).
    c = shape[1]
    mix = torch.randn(c, c, generator=gen) / c ** 0.5
    z = torch.randn(shape[0], c, shape[2] * shape[3], generator=gen)
    return (torch.matmul(mix, z) + offset).reshape(shape)


def main():
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    cases = []
    gen = torch.Generator().manual_seed(20190401)

    # LearnedFusion at LST's default k = 32, and a small one.
    for name, c, k, cs, ss in [("lst_c64_k32", 64, 32, (2, 64, 6, 5), (2, 64, 4, 7)),
                               ("lst_c16_k4", 16, 4, (1, 16, 5, 5), (1, 16, 3, 8))]:
        torch.manual_seed(len(cases) + 1)
        m = MulLayer(c, k)
        C, S = features(gen, *cs, offset=0.5), features(gen, *ss, offset=1.0)
        cases.append(run_case(root, name, {"kind": "lst", "channels": c, "k": k},
                              lambda x: m(x[0], x[1]), [C, S], m, len(cases)))

    for name, tap, width, shape in [("decoder_relu3_1_w025", "relu3_1", 0.25, (2, 256, 5, 4)),
                                    ("decoder_relu4_1_w0125", "relu4_1", 0.125, (1, 512, 3, 3))]:
        torch.manual_seed(len(cases) + 1)
        m = Decoder(tap, width)
        x = torch.relu(torch.randn(shape, generator=gen))
        cases.append(run_case(root, name, {"kind": "decoder", "tap": tap, "width": width},
                              lambda x: m(x[0]), [x], m, len(cases)))

    cases.append(run_case(root, "adain", {"kind": "adain"}, lambda x: adain(x[0], x[1]),
                          [features(gen, 2, 8, 6, 5, offset=0.3), features(gen, 1, 8, 4, 7, offset=2.0)],
                          seed=len(cases)))
    F, Fs, Ft = features(gen, 2, 8, 6, 5), features(gen, 1, 8, 4, 7, offset=1.0), features(gen, 2, 8, 6, 5)
    for loss, inputs in [("gram", [F]), ("mean_std_loss", [F, Fs]), ("gram_loss", [F, Fs]),
                         ("content_loss", [F, Ft]), ("total_variation", [torch.rand(2, 3, 9, 7, generator=gen)])]:
        cases.append(run_case(root, loss, {"kind": "loss", "loss": loss}, LOSSES[loss], inputs,
                              seed=len(cases)))

    with open(os.path.join(root, "index.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main()
