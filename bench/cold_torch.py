"""PyTorch peer of scripts/bench-cold.sh: what `stylenet features` does, in a fresh process.

Used only as a benchmark peer (run with /usr/bin/python3, which has torch); the product never
imports it. Times everything after `import torch`: read the torchvision state_dict (torch.load),
build VGG16's features, load the weights, read and normalise the image, run to the layer, save
the activation as .npy. Prints the seconds on stdout, then the seconds of the forward pass alone
(the first call in this process: what scripts/bench-cold.sh compares as the cold forward pass).

  cold_torch.py --weights W.pth --image I --layer relu5_3 --out F.npy --threads T
"""
import argparse
import time

import torch

t0 = time.perf_counter()

import numpy as np  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402

LAYERS = []
for block, convs in enumerate([2, 2, 3, 3, 3], start=1):
    for c in range(1, convs + 1):
        LAYERS += [f"conv{block}_{c}", f"relu{block}_{c}"]
    LAYERS.append(f"pool{block}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--layer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sd = torch.load(a.weights)
    model = torchvision.models.vgg16()
    model.load_state_dict(sd)
    features = model.features[: LAYERS.index(a.layer) + 1].eval()
    x = torch.from_numpy(np.asarray(Image.open(a.image).convert("RGB"), dtype=np.float32) / 255.0)
    x = x.permute(2, 0, 1).unsqueeze(0)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.inference_mode():
        t_forward = time.perf_counter()
        y = features((x - mean) / std)
        t_forward = time.perf_counter() - t_forward
    np.save(a.out, y.numpy())
    print(f"{time.perf_counter() - t0:.6f} {t_forward:.6f}")


if __name__ == "__main__":
    main()
