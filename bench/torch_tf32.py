"""The TF32 switch of the PyTorch benchmark peers (vgg_torch.py, stylize_torch.py), in one place."""
import sys
import warnings

import torch


def set_tf32(on, who):
    """Both TF32 switches (matmul and cuDNN), read back: torch 2.9+ warns that these are the legacy
    names (torch.backends.*.fp32_precision the new ones) but still honours them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on
        try:
            got = [bool(torch.backends.cuda.matmul.allow_tf32), bool(torch.backends.cudnn.allow_tf32)]
        except RuntimeError as e:  # a torch that refuses to mix the two APIs: say so, carry on
            print(f"{who}: TF32 flags not readable: {e}", file=sys.stderr)
            return None
    if got != [on, on]:
        print(f"{who}: asked TF32 {on}, torch reports matmul/cudnn {got}", file=sys.stderr)
    return got
