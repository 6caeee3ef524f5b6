#!/usr/bin/python3
"""Writes the PyTorch side of the VGG16 tests into OUT_DIR (run by ctest as a fixture).

Needs Debian's /usr/bin/python3 (python3-torch, python3-torchvision, python3-pil); the product
never imports torch, it is only the oracle here. Writes, all seeded:

  vgg16_legacy.pth, vgg16_zip.pth   torchvision.models.vgg16() state_dict (528 MB each), in the
                                    legacy container (like the official file) and the zip one
  small_legacy.pth, small_zip.pth   tensors sharing one storage (views, transposes, offsets),
                                    half, double and 0-d tensors; small/<key>.npy their values
  deflated.pth, traversal.pth       zip containers our reader must refuse
  evil_{system,eval}_{legacy,zip}.pth  torch.save of a dict holding an object whose __reduce__ is
                                    os.system / builtins.eval: what a malicious weight file is
  weights/<key>.npy                 a few of the state_dict's tensors, to check loaded values
  taps/<case>/input.npy + <tap>.npy  activations of real images (RGB in [0, 1], NCHW float32)
  grad/{input,target,grad,loss}.npy  gradient of a feature + Gram loss with respect to the input
                                    (float64 reference; *_float32.npy: PyTorch's float32 run)
  classify/{input,logits}.npy       a 224x224 image and the full model's logits

Usage: gen_vgg.py OUT_DIR   (images come from $STYLENET_DATA/data, default ../shared)
"""
import collections
import copy
import os
import sys
import zipfile

import numpy as np
import torch
import torchvision
from PIL import Image

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
BLOCKS = [2, 2, 3, 3, 3]
TAPS = []
for b, n in enumerate(BLOCKS, start=1):
    for c in range(1, n + 1):
        TAPS += ["conv%d_%d" % (b, c), "relu%d_%d" % (b, c)]
    TAPS.append("pool%d" % b)
RELU_TAPS = [t for t in TAPS if t.startswith("relu")]


def data_dir():
    root = os.environ.get("STYLENET_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")
    d = os.path.join(root, "data")
    if not os.path.isdir(d):
        sys.exit("gen_vgg.py: no image data at %s (set STYLENET_DATA)" % d)
    return d


def load_image(path, height, width):
    img = Image.open(path).convert("RGB").resize((width, height), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(x.transpose(2, 0, 1).copy()).unsqueeze(0)


def features(model, x, last=None):
    """Every tap of model.features, with ReLU not in place so conv taps keep pre-ReLU values."""
    out = {}
    h = (x - MEAN) / STD
    for name, layer in zip(TAPS, model.features):
        h = torch.relu(h) if isinstance(layer, torch.nn.ReLU) else layer(h)
        out[name] = h
        if name == last:
            break
    return out


def gram(f):
    n, c, h, w = f.shape
    f = f.reshape(c, h * w)
    return f @ f.t() / (c * h * w)


def save(path, t):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, t.detach().numpy())


def write_small(out):
    torch.manual_seed(1)
    base = torch.randn(4, 6)
    sd = collections.OrderedDict()
    sd["base"] = base
    sd["rows_cols"] = base[1:, ::2]  # offset 6, strides (6, 2): shares base's storage
    sd["transposed"] = base.t()
    sd["half"] = torch.randn(5).half()
    sd["double"] = torch.randn(2, 3).double()
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    torch.save(sd, os.path.join(out, "small_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(sd, os.path.join(out, "small_zip.pth"))
    for k, v in sd.items():
        save(os.path.join(out, "small", k + ".npy"), v.double().contiguous())

    # The same archive with compressed entries, and with an entry that climbs out of the archive.
    with zipfile.ZipFile(os.path.join(out, "small_zip.pth")) as src:
        items = [(i.filename, src.read(i.filename)) for i in src.infolist()]
    with zipfile.ZipFile(os.path.join(out, "deflated.pth"), "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in items:
            dst.writestr(name, data)
    with zipfile.ZipFile(os.path.join(out, "traversal.pth"), "w", zipfile.ZIP_STORED) as dst:
        for name, data in items:
            dst.writestr(name, data)
        dst.writestr("../evil.sh", b"echo pwned\n")


class Evil:
    """Pickles as a call of `fn(arg)`: loading it with pickle.load would run `fn`."""

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def write_evil(out):
    import builtins
    for name, fn, arg in [("system", os.system, "echo pwned > /tmp/stylenet_pwned"),
                          ("eval", builtins.eval, "__import__('os').system('echo pwned')")]:
        payload = collections.OrderedDict(weight=torch.zeros(2), hook=Evil(fn, arg))
        torch.save(payload, os.path.join(out, "evil_%s_legacy.pth" % name), _use_new_zipfile_serialization=False)
        torch.save(payload, os.path.join(out, "evil_%s_zip.pth" % name))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    data = data_dir()
    torch.set_num_threads(2)

    torch.manual_seed(0)
    model = torchvision.models.vgg16().eval()  # torchvision's init: kaiming_normal_(fan_out), N(0, 0.01)
    sd = model.state_dict()
    torch.save(sd, os.path.join(out, "vgg16_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(sd, os.path.join(out, "vgg16_zip.pth"))
    write_small(out)
    write_evil(out)
    for key in ["features.0.weight", "features.28.bias", "classifier.6.bias"]:
        save(os.path.join(out, "weights", key + ".npy"), sd[key])
    save(os.path.join(out, "weights", "classifier.0.weight.rows.npy"), sd["classifier.0.weight"][::1000])

    cases = [
        ("blonde_64", os.path.join(data, "content", "adain_blonde_girl.jpg"), 64, 64, TAPS),
        ("cornell_64x96", os.path.join(data, "content", "adain_cornell.jpg"), 64, 96, RELU_TAPS),
        ("starry_80", os.path.join(data, "samples", "style_starry_night.jpg"), 80, 80, RELU_TAPS),
    ]
    with torch.no_grad():
        for name, path, h, w, taps in cases:
            x = load_image(path, h, w)
            save(os.path.join(out, "taps", name, "input.npy"), x)
            f = features(model, x)
            for t in taps:
                save(os.path.join(out, "taps", name, t + ".npy"), f[t])

        x = load_image(os.path.join(data, "samples", "content_tubingen.jpg"), 224, 224)
        save(os.path.join(out, "classify", "input.npy"), x)
        save(os.path.join(out, "classify", "logits.npy"), model((x - MEAN) / STD))

    # A style-transfer-like loss: content on relu3_3 and relu4_3, Gram matrices on relu1_2, relu2_2.
    # The reference is computed in float64: a float32 run (either side's) may put a pre-activation
    # that is within rounding of 0 on the other side of the ReLU kink, which moves the gradient
    # locally by far more than rounding (seen: PyTorch's own float32 gradient is 3e-3 off its
    # float64 one here). PyTorch's float32 gradient is saved too, for the report.
    x = load_image(os.path.join(data, "content", "adain_blonde_girl.jpg"), 64, 64)
    target = load_image(os.path.join(data, "samples", "style_starry_night.jpg"), 64, 64)
    save(os.path.join(out, "grad", "input.npy"), x)
    save(os.path.join(out, "grad", "target.npy"), target)
    for dtype, suffix in [(torch.float64, ""), (torch.float32, "_float32")]:
        loss, grad = feature_loss_grad(model, x, target, dtype)
        save(os.path.join(out, "grad", "loss%s.npy" % suffix), loss.reshape(1))
        save(os.path.join(out, "grad", "grad%s.npy" % suffix), grad)


def feature_loss_grad(model, x, target, dtype):
    global MEAN, STD
    mean, std = MEAN, STD
    MEAN, STD = MEAN.to(dtype), STD.to(dtype)
    m = copy.deepcopy(model).to(dtype)
    x = x.to(dtype).requires_grad_(True)
    with torch.no_grad():
        ft = features(m, target.to(dtype), "relu4_3")
    fx = features(m, x, "relu4_3")
    mse = torch.nn.functional.mse_loss
    loss = (mse(fx["relu3_3"], ft["relu3_3"]) + mse(fx["relu4_3"], ft["relu4_3"]) +
            mse(gram(fx["relu1_2"]), gram(ft["relu1_2"])) + mse(gram(fx["relu2_2"]), gram(ft["relu2_2"])))
    loss.backward()
    MEAN, STD = mean, std
    return loss.detach(), x.grad


if __name__ == "__main__":
    main()
