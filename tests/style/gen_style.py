#!/usr/bin/python3
"""PyTorch twin of StyleNet's style-transfer pieces, for tests/test_style_parity.cpp.

Usage:  /usr/bin/python3 tests/style/gen_style.py OUTDIR

Builds, independently of the C++ code, LST's MulLayer (stylenet/fusion.h LearnedFusion), the
VGG16-mirror decoder (stylenet/decoder.h), AdaIN and the losses (stylenet/losses.h), and pix2pix's
PatchGAN discriminator with optional spectral norm and pix2pixHD's multi-scale
(training/discriminator.h), runs them in float32 on fixed seeded inputs and writes, one folder per
case:

  meta.txt          key=value lines: kind=lst|decoder|adain|loss|discriminator, the module's
                    configuration, params=<comma-separated parameter keys> (modules),
                    buffers=<buffer keys> (modules that have any), state_keys=<the module's
                    state_dict keys in PyTorch's order>, ninputs=N
  state.<key>.npy   the module's weights (torch default init, seeded) and buffers as they were
                    BEFORE the forward, loaded by the C++ side through Module::load_state_dict
                    with the same keys
  after.<key>.npy   each buffer after the forward (spectral norm's power iteration updates u, v)
  in<i>.npy         the inputs
  out.npy           the output
  gout.npy          a fixed random upstream gradient: the scalar loss is sum(out * gout)
  gin<i>.npy        d loss / d input i
  grad.<key>.npy    d loss / d parameter

Discriminator cases run in training mode, so spectral norm does one power iteration inside the
forward on both sides, starting from the saved u, v. Their output is every scale's logit map
flattened per sample and concatenated: [N, sum over scales of h_s * w_s], scale 0 first.

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
TAP_CONVS = {"relu1_1": 1, "relu2_1": 3, "relu3_1": 5, "relu4_1": 8}  # number of convs up to and including the tap's


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


def laplacian_of_luma(x, pool):
    # Written apart from the C++ (which folds luma and Laplacian into one conv): luma first, the
    # pool, then the 5-point stencil by slicing.
    y = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    if pool > 1:
        y = torch.nn.functional.avg_pool2d(y, pool)
    c = y[:, :, 1:-1, 1:-1]
    return y[:, :, :-2, 1:-1] + y[:, :, 2:, 1:-1] + y[:, :, 1:-1, :-2] + y[:, :, 1:-1, 2:] - 4 * c


LOSSES = {
    "gram": lambda x: gram(x[0]),
    "mean_std_loss": lambda x: mse(mean_std(x[0])[0], mean_std(x[1])[0]) + mse(mean_std(x[0])[1], mean_std(x[1])[1]),
    "gram_loss": lambda x: mse(gram(x[0]), gram(x[1])),
    "content_loss": lambda x: torch.nn.functional.mse_loss(x[0], x[1]),
    "total_variation": lambda x: ((x[0][:, :, 1:] - x[0][:, :, :-1]) ** 2).mean()
    + ((x[0][:, :, :, 1:] - x[0][:, :, :, :-1]) ** 2).mean(),
    "laplacian_loss_p1": lambda x: mse(laplacian_of_luma(x[0], 1), laplacian_of_luma(x[1], 1)),
    "laplacian_loss_p2": lambda x: mse(laplacian_of_luma(x[0], 2), laplacian_of_luma(x[1], 2)),
}


# ---- PatchGAN discriminator, after junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py ---
# (NLayerDiscriminator with norm_layer=InstanceNorm2d, so use_bias=True) and NVIDIA/pix2pixHD's
# MultiscaleDiscriminator downsampler.


class NLayerDiscriminator(nn.Module):
    def __init__(self, ndf, n_layers, sn):
        super().__init__()
        wrap = nn.utils.spectral_norm if sn else (lambda m: m)
        kw, padw = 4, 1
        sequence = [wrap(nn.Conv2d(3, ndf, kw, stride=2, padding=padw)), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2 ** n, 8)
            sequence += [wrap(nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kw, stride=2, padding=padw, bias=True)),
                         nn.InstanceNorm2d(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        nf_mult_prev, nf_mult = nf_mult, min(2 ** n_layers, 8)
        sequence += [wrap(nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kw, stride=1, padding=padw, bias=True)),
                     nn.InstanceNorm2d(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        sequence += [wrap(nn.Conv2d(ndf * nf_mult, 1, kw, stride=1, padding=padw))]
        self.model = nn.Sequential(*sequence)

    def forward(self, x):
        return self.model(x)


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, ndf, n_layers, sn, scales):
        super().__init__()
        self.scales = scales
        for s in range(scales):
            setattr(self, "d%d" % s, NLayerDiscriminator(ndf, n_layers, sn))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, images):  # images in [0, 1]
        x, outs = images * 2 - 1, []
        for s in range(self.scales):
            if s:
                x = self.downsample(x)
            outs.append(getattr(self, "d%d" % s)(x))
        return outs


# ---- writing ---------------------------------------------------------------------------------


def save(folder, name, t):
    np.save(os.path.join(folder, name + ".npy"), t.detach().numpy().astype(np.float32))


def run_case(root, name, meta, fn, inputs, module=None, seed=0):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    gen = torch.Generator().manual_seed(seed + 1000)
    xs = [x.clone().requires_grad_(True) for x in inputs]
    # Buffers as the forward finds them: the C++ side starts from these (spectral norm's u, v).
    buffers = [(k, b.clone()) for k, b in module.named_buffers()] if module is not None else []
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
    live = dict(module.named_buffers()) if module is not None else {}
    for key, b in buffers:
        save(folder, "state." + key, b)
        save(folder, "after." + key, live[key])
    save(folder, "out", out)
    save(folder, "gout", gout)
    meta = dict(meta, ninputs=len(xs))
    if module is not None:
        meta["params"] = ",".join(k for k, _ in params)
        if buffers:
            meta["buffers"] = ",".join(k for k, _ in buffers)
        meta["state_keys"] = ",".join(module.state_dict().keys())
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

    # Discriminators (training mode: spectral norm iterates once in the forward). Small widths; the
    # sizes keep every InstanceNorm map at 2x2 or more. disc_b4_l4 reaches the 8x channel cap.
    for name, base, layers, sn, scales, shape in [("disc_b8_l2_s2", 8, 2, False, 2, (2, 3, 40, 36)),
                                                  ("disc_b8_l3_sn", 8, 3, True, 1, (2, 3, 40, 36)),
                                                  ("disc_b8_l2_sn_s2", 8, 2, True, 2, (1, 3, 44, 40)),
                                                  ("disc_b4_l4", 4, 4, False, 1, (1, 3, 52, 48))]:
        torch.manual_seed(len(cases) + 1)
        m = MultiscaleDiscriminator(base, layers, sn, scales).train()
        x = torch.rand(shape, generator=gen)
        meta = {"kind": "discriminator", "base": base, "layers": layers, "spectral_norm": int(sn), "scales": scales}
        cases.append(run_case(root, name, meta, lambda x: torch.cat([o.flatten(1) for o in m(x[0])], 1),
                              [x], m, len(cases)))

    cases.append(run_case(root, "adain", {"kind": "adain"}, lambda x: adain(x[0], x[1]),
                          [features(gen, 2, 8, 6, 5, offset=0.3), features(gen, 1, 8, 4, 7, offset=2.0)],
                          seed=len(cases)))
    F, Fs, Ft = features(gen, 2, 8, 6, 5), features(gen, 1, 8, 4, 7, offset=1.0), features(gen, 2, 8, 6, 5)
    for loss, inputs in [("gram", [F]), ("mean_std_loss", [F, Fs]), ("gram_loss", [F, Fs]),
                         ("content_loss", [F, Ft]), ("total_variation", [torch.rand(2, 3, 9, 7, generator=gen)]),
                         ("laplacian_loss_p1", [torch.rand(2, 3, 9, 7, generator=gen), torch.rand(2, 3, 9, 7, generator=gen)]),
                         ("laplacian_loss_p2", [torch.rand(2, 3, 13, 11, generator=gen),
                                                torch.rand(1, 3, 13, 11, generator=gen)])]:
        cases.append(run_case(root, loss, {"kind": "loss", "loss": loss}, LOSSES[loss], inputs,
                              seed=len(cases)))

    with open(os.path.join(root, "index.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main()
