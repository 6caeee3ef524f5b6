#!/usr/bin/python3
"""Writes PyTorch golden files for StyleNet's parity suite (tests/test_parity.cpp).

Usage:  /usr/bin/python3 tests/parity/gen_golden.py OUTDIR

PyTorch is only the test oracle: nothing in the product depends on it. The output is
deterministic (fixed seeds, one thread) and small; it is generated at test time, never committed.

Layout (llm.c style), one folder per case:

  OUTDIR/<case>/meta.txt   'key=value' lines: op=..., kind=op|layer|train, dtype=float32|float64,
                           ninputs=N, in<i>_layout=contiguous|transpose|step, in<i>_grad=0|1,
                           then the op's parameters (lists are comma separated, booleans 0/1)
  OUTDIR/<case>/in<i>.npy  the logical value of input i (always C-contiguous on disk; the layout
                           key says which non-contiguous view the op must be given instead:
                           transpose = storage of the last two dims swapped then transposed back,
                           step = every other element of a buffer twice as long in the last dim)
  OUTDIR/<case>/out.npy    the op's output
  OUTDIR/<case>/gout.npy   a fixed random upstream gradient (same shape as out)
  OUTDIR/<case>/gin<i>.npy d(sum(out * gout)) / d(input i), for inputs with in<i>_grad=1

Layer cases (kind=layer, layer=<torch.nn class>) hold the module's state_dict as
state.<name>.npy, the parameter names in meta.txt (params=...), in0/out/gout/gin0.npy and the
parameter gradients as grad.<name>.npy.
Training cases (kind=train) hold init.<name>.npy, x.npy, target.npy, losses.npy (the loss
before each step) and final.<name>.npy, and the optimizer's settings in meta.txt.
OUTDIR/index.txt lists every case folder, one per line.
"""
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------
# input values: each kind keeps its op away from kinks (|x| >= 0.2 for relu/abs, distinct values
# for max/min/pools/clamp, positive for log/sqrt/pow/div)
# --------------------------------------------------------------------------------------------


def make_values(shape, kind, gen, index=0):
    n = int(np.prod(shape)) if len(shape) else 1
    if kind == "normal":
        v = torch.randn(n, generator=gen, dtype=torch.float64)
    elif kind == "positive":
        v = 0.5 + torch.rand(n, generator=gen, dtype=torch.float64)
    elif kind == "away":
        z = torch.randn(n, generator=gen, dtype=torch.float64)
        v = torch.where(z < 0, z - 0.2, z + 0.2)
    elif kind == "distinct":
        # all different by >= 0.1 and never on a multiple of 0.1 (so never equal to clamp bounds)
        perm = torch.randperm(n, generator=gen).to(torch.float64)
        v = (perm - n // 2) * 0.1 + 0.05
        v = v * (2.0 / max(1.0, math.sqrt(n)))  # keep the magnitude O(1); differences stay >= 2e-3
        # a second distinct input sits off the first one's grid, so maximum/minimum never see a
        # tie (PyTorch splits a tie's gradient in half, StyleNet sends it to the first operand)
        v = v + 0.00037 * index
    elif kind == "kinks":
        # multiples of 0.5: zeros, repeated values and exact clamp bounds, for the cases that
        # check both libraries make the same choice at a kink (relu/abs/leaky_relu at 0, clamp at
        # its bounds, tied maxima, l1 at zero error)
        v = torch.round(2.0 * torch.randn(n, generator=gen, dtype=torch.float64)) / 2.0
    elif kind == "small":
        v = 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
    else:
        raise ValueError(kind)
    return v.reshape(shape)


def build_input(spec, dtype, gen, index=0):
    """Returns (logical contiguous values, the possibly non-contiguous leaf torch operates on)."""
    shape = list(spec["shape"])
    values = make_values(shape, spec.get("values", "normal"), gen, index).to(dtype)
    layout = spec.get("layout", "contiguous")
    if layout == "contiguous":
        leaf = values.clone()
    elif layout == "transpose":
        assert len(shape) >= 2
        leaf = values.transpose(-1, -2).contiguous().transpose(-1, -2)
        assert not leaf.is_contiguous() or shape[-1] == 1 or shape[-2] == 1
    elif layout == "step":
        big = torch.zeros(shape[:-1] + [2 * shape[-1]], dtype=dtype)
        leaf = big[..., ::2]
        leaf.copy_(values)
        assert not leaf.is_contiguous()
    else:
        raise ValueError(layout)
    leaf = leaf.detach().requires_grad_(spec.get("grad", True))
    return values, leaf


# --------------------------------------------------------------------------------------------
# the ops, keyed by the name the C++ table uses; p is the params dict
# --------------------------------------------------------------------------------------------


def reduce_dims(p):
    # empty dims = all dims, as StyleNet's API (torch wants None or () depending on the op)
    return tuple(p["dims"]) if p.get("dims") else None


def r_sum(x, p):
    d = reduce_dims(p)
    return torch.sum(x) if d is None else torch.sum(x, dim=d, keepdim=bool(p.get("keepdim", 0)))


def r_mean(x, p):
    d = reduce_dims(p)
    return torch.mean(x) if d is None else torch.mean(x, dim=d, keepdim=bool(p.get("keepdim", 0)))


def r_var(x, p):
    d = reduce_dims(p)
    return torch.var(x, dim=d, correction=int(p.get("correction", 1)), keepdim=bool(p.get("keepdim", 0)))


def r_amax(x, p):
    d = reduce_dims(p)
    return torch.amax(x, dim=d if d is not None else (), keepdim=bool(p.get("keepdim", 0)))


def r_amin(x, p):
    d = reduce_dims(p)
    return torch.amin(x, dim=d if d is not None else (), keepdim=bool(p.get("keepdim", 0)))


def optional_bias(x, i):
    return x[i] if len(x) > i else None


OPS = {
    # elementwise, binary (broadcasting)
    "add": lambda x, p: x[0] + x[1],
    "sub": lambda x, p: x[0] - x[1],
    "mul": lambda x, p: x[0] * x[1],
    "div": lambda x, p: x[0] / x[1],
    "pow": lambda x, p: torch.pow(x[0], x[1]),
    "maximum": lambda x, p: torch.maximum(x[0], x[1]),
    "minimum": lambda x, p: torch.minimum(x[0], x[1]),
    # elementwise with a scalar
    "pow_scalar": lambda x, p: torch.pow(x[0], p["exponent"]),
    "add_scalar": lambda x, p: x[0] + p["s"],
    "mul_scalar": lambda x, p: x[0] * p["s"],
    "rsub_scalar": lambda x, p: p["s"] - x[0],
    "div_scalar": lambda x, p: x[0] / p["s"],
    # elementwise, unary
    "neg": lambda x, p: -x[0],
    "exp": lambda x, p: torch.exp(x[0]),
    "log": lambda x, p: torch.log(x[0]),
    "sqrt": lambda x, p: torch.sqrt(x[0]),
    "abs": lambda x, p: torch.abs(x[0]),
    "square": lambda x, p: torch.square(x[0]),
    "relu": lambda x, p: torch.relu(x[0]),
    "leaky_relu": lambda x, p: F.leaky_relu(x[0], p["slope"]),
    "tanh": lambda x, p: torch.tanh(x[0]),
    "sigmoid": lambda x, p: torch.sigmoid(x[0]),
    "clamp": lambda x, p: torch.clamp(x[0], p["lo"], p["hi"]),
    # reductions
    "sum": lambda x, p: r_sum(x[0], p),
    "mean": lambda x, p: r_mean(x[0], p),
    "var": lambda x, p: r_var(x[0], p),
    "max": lambda x, p: r_amax(x[0], p),
    "min": lambda x, p: r_amin(x[0], p),
    # views
    "reshape": lambda x, p: torch.reshape(x[0], p["shape"]),
    "view": lambda x, p: x[0].view(p["shape"]),
    "flatten": lambda x, p: torch.flatten(x[0], p["start"], p["end"]),
    "permute": lambda x, p: x[0].permute(p["order"]),
    "transpose": lambda x, p: torch.transpose(x[0], p["d0"], p["d1"]),
    "slice": lambda x, p: x[0][(slice(None),) * (p["dim"] % x[0].dim())
                               + (slice(p["start"], p["end"], p["step"]),)],
    "select": lambda x, p: torch.select(x[0], p["dim"], p["index"]),
    "expand": lambda x, p: x[0].expand(p["shape"]),
    "unsqueeze": lambda x, p: torch.unsqueeze(x[0], p["dim"]),
    "squeeze": lambda x, p: torch.squeeze(x[0], p["dim"]),
    "contiguous": lambda x, p: x[0].contiguous(),
    # linear algebra, joining
    "matmul": lambda x, p: torch.matmul(x[0], x[1]),
    "cat": lambda x, p: torch.cat(list(x), p["dim"]),
    "stack": lambda x, p: torch.stack(list(x), p["dim"]),
    # image / nn ops
    "conv2d": lambda x, p: F.conv2d(x[0], x[1], optional_bias(x, 2), stride=p["stride"],
                                    padding=p["padding"], dilation=p["dilation"], groups=p["groups"]),
    "max_pool2d": lambda x, p: F.max_pool2d(x[0], p["kernel"], p["stride"], p["padding"],
                                            ceil_mode=bool(p["ceil_mode"])),
    "avg_pool2d": lambda x, p: F.avg_pool2d(x[0], p["kernel"], p["stride"], p["padding"],
                                            ceil_mode=bool(p["ceil_mode"]),
                                            count_include_pad=bool(p["count_include_pad"])),
    "upsample_nearest2d": lambda x, p: F.interpolate(x[0], scale_factor=tuple(p["scale"]), mode="nearest"),
    "upsample_bilinear2d": lambda x, p: F.interpolate(x[0], size=tuple(p["size"]), mode="bilinear",
                                                      align_corners=False),
    "pad2d": lambda x, p: F.pad(x[0], tuple(p["lrtb"]),
                                mode="reflect" if p["mode"] == "reflect" else "constant"),
    "instance_norm": lambda x, p: F.instance_norm(x[0], weight=optional_bias(x, 1),
                                                  bias=optional_bias(x, 2), eps=p.get("eps", 1e-5)),
    "linear": lambda x, p: F.linear(x[0], x[1], optional_bias(x, 2)),
    "mse_loss": lambda x, p: F.mse_loss(x[0], x[1]),
    "l1_loss": lambda x, p: F.l1_loss(x[0], x[1]),
    # small compositions: one input used by several ops (gradient accumulation), broadcasting
    # between intermediate results, a stable softmax built from max/exp/sum/div
    "softmax_composite": lambda x, p: torch.softmax(x[0], dim=p["dim"]),
    "scalar_ops_composite": lambda x, p: (2.0 - x[0] * 3.0 + 1.5) / 4.0 + 0.5 * x[0] - (x[0] - 1.0),
    "norm_composite": lambda x, p: (x[0] - x[0].mean(dim=-1, keepdim=True))
    / torch.sqrt(x[0].var(dim=-1, correction=0, keepdim=True) + 1e-5),
}


def I(shape, values="normal", layout="contiguous", grad=True):
    return {"shape": list(shape), "values": values, "layout": layout, "grad": grad}


def conv(name, x, w, b, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, dtype="float32"):
    ins = [x, w] + ([b] if b is not None else [])
    return (name, "conv2d", ins, dict(stride=list(stride), padding=list(padding),
                                      dilation=list(dilation), groups=groups,
                                      bias=int(b is not None)), dtype)


def pool(name, op, x, kernel, stride, padding=(0, 0), ceil_mode=0, count_include_pad=1, dtype="float32"):
    p = dict(kernel=list(kernel), stride=list(stride), padding=list(padding), ceil_mode=ceil_mode)
    if op == "avg_pool2d":
        p["count_include_pad"] = count_include_pad
    return (name, op, [x], p, dtype)


# (case name, op, inputs, params, dtype)
CASES = [
    # ---- elementwise binary, broadcasting, non-contiguous ----
    ("add_broadcast", "add", [I([2, 3, 4]), I([3, 1])], {}, "float32"),
    ("add_transposed", "add", [I([5, 3], layout="transpose"), I([5, 3])], {}, "float32"),
    ("add_scalar_tensor", "add", [I([2, 3]), I([])], {}, "float32"),
    ("sub_broadcast_rank", "sub", [I([2, 3], layout="transpose"), I([3])], {}, "float32"),
    ("sub_both_broadcast", "sub", [I([4, 1, 3]), I([2, 1])], {}, "float32"),
    ("mul_noncontig", "mul", [I([3, 4], layout="transpose"), I([3, 4], layout="step")], {}, "float32"),
    ("mul_broadcast", "mul", [I([2, 1, 5]), I([3, 1])], {}, "float32"),
    ("div", "div", [I([2, 5]), I([5], "positive")], {}, "float32"),
    ("div_broadcast_both", "div", [I([3, 1], layout="contiguous"), I([1, 4], "positive")], {}, "float32"),
    ("pow_tensor", "pow", [I([3, 2], "positive"), I([3, 2])], {}, "float32"),
    ("pow_broadcast", "pow", [I([2, 3, 2], "positive"), I([2], "small")], {}, "float32"),
    ("maximum_broadcast", "maximum", [I([4, 3], "distinct"), I([3], "distinct")], {}, "float32"),
    ("minimum", "minimum", [I([4, 3], "distinct", "transpose"), I([4, 3], "distinct")], {}, "float32"),
    # ---- elementwise with a scalar ----
    ("pow_scalar", "pow_scalar", [I([7], "positive", "step")], {"exponent": 2.5}, "float32"),
    ("pow_scalar_neg", "pow_scalar", [I([3, 4], "positive")], {"exponent": -1.5}, "float32"),
    ("pow_scalar_int", "pow_scalar", [I([3, 4])], {"exponent": 3.0}, "float32"),
    ("add_scalar", "add_scalar", [I([2, 3])], {"s": 1.25}, "float32"),
    ("mul_scalar", "mul_scalar", [I([2, 3], layout="transpose")], {"s": -0.75}, "float32"),
    ("rsub_scalar", "rsub_scalar", [I([4])], {"s": 2.0}, "float32"),
    ("div_scalar", "div_scalar", [I([3, 3])], {"s": 4.0}, "float32"),
    # ---- elementwise unary ----
    ("neg", "neg", [I([3, 3], layout="transpose")], {}, "float32"),
    ("exp", "exp", [I([2, 3, 5])], {}, "float32"),
    ("log", "log", [I([2, 3], "positive", "transpose")], {}, "float32"),
    ("sqrt", "sqrt", [I([5], "positive")], {}, "float32"),
    ("abs", "abs", [I([2, 4], "away")], {}, "float32"),
    ("square", "square", [I([3, 2])], {}, "float32"),
    ("relu", "relu", [I([3, 5], "away", "transpose")], {}, "float32"),
    ("leaky_relu", "leaky_relu", [I([3, 5], "away")], {"slope": 0.2}, "float32"),
    ("leaky_relu_default", "leaky_relu", [I([4, 3], "away", "step")], {"slope": 0.01}, "float32"),
    ("tanh", "tanh", [I([2, 3, 3])], {}, "float32"),
    ("sigmoid", "sigmoid", [I([2, 3], layout="transpose")], {}, "float32"),
    ("clamp", "clamp", [I([4, 4], "distinct")], {"lo": -0.3, "hi": 0.4}, "float32"),
    # ---- reductions ----
    ("sum_all", "sum", [I([2, 3, 4], layout="transpose")], {"dims": [], "keepdim": 0}, "float32"),
    ("sum_dims_keepdim", "sum", [I([2, 3, 4])], {"dims": [0, 2], "keepdim": 1}, "float32"),
    ("sum_dim_neg", "sum", [I([3, 5, 2])], {"dims": [-2], "keepdim": 0}, "float32"),
    ("sum_large", "sum", [I([4, 300])], {"dims": [1], "keepdim": 0}, "float32"),
    ("mean_all", "mean", [I([3, 7])], {"dims": [], "keepdim": 0}, "float32"),
    ("mean_dim", "mean", [I([3, 5], layout="transpose")], {"dims": [1], "keepdim": 0}, "float32"),
    ("mean_dims_keepdim", "mean", [I([2, 3, 4, 5])], {"dims": [2, 3], "keepdim": 1}, "float32"),
    ("var_unbiased", "var", [I([3, 5])], {"dims": [-1], "correction": 1, "keepdim": 0}, "float32"),
    ("var_biased_keepdim", "var", [I([2, 3, 4], layout="transpose")],
     {"dims": [0, 2], "correction": 0, "keepdim": 1}, "float32"),
    ("var_all", "var", [I([4, 6])], {"dims": [], "correction": 1, "keepdim": 0}, "float32"),
    ("max_all", "max", [I([3, 4], "distinct")], {"dims": [], "keepdim": 0}, "float32"),
    ("max_dim", "max", [I([3, 4], "distinct", "transpose")], {"dims": [1], "keepdim": 0}, "float32"),
    ("max_dims_keepdim", "max", [I([2, 3, 4], "distinct")], {"dims": [0, 2], "keepdim": 1}, "float32"),
    ("min_keepdim", "min", [I([2, 3, 2], "distinct")], {"dims": [0], "keepdim": 1}, "float32"),
    ("min_dim", "min", [I([5, 3], "distinct", "step")], {"dims": [-1], "keepdim": 0}, "float32"),
    # ---- views ----
    ("reshape", "reshape", [I([2, 6])], {"shape": [3, -1, 2]}, "float32"),
    ("reshape_noncontig", "reshape", [I([3, 4], layout="transpose")], {"shape": [2, -1]}, "float32"),
    ("view", "view", [I([2, 6])], {"shape": [3, 2, 2]}, "float32"),
    ("flatten", "flatten", [I([2, 3, 2])], {"start": 1, "end": -1}, "float32"),
    ("flatten_mid", "flatten", [I([2, 3, 4, 2], layout="transpose")], {"start": 1, "end": 2}, "float32"),
    ("permute", "permute", [I([2, 3, 4])], {"order": [2, 0, 1]}, "float32"),
    ("permute_noncontig", "permute", [I([2, 3, 4], layout="transpose")], {"order": [1, 2, 0]}, "float32"),
    ("transpose", "transpose", [I([3, 2], layout="transpose")], {"d0": 0, "d1": 1}, "float32"),
    ("transpose_3d", "transpose", [I([2, 3, 4])], {"d0": 0, "d1": -1}, "float32"),
    ("slice_step", "slice", [I([7, 3])], {"dim": 0, "start": 1, "end": 6, "step": 2}, "float32"),
    ("slice_last_dim_step3", "slice", [I([2, 10], layout="transpose")],
     {"dim": -1, "start": 0, "end": 10, "step": 3}, "float32"),
    ("slice_plain", "slice", [I([3, 5, 2])], {"dim": 1, "start": 2, "end": 4, "step": 1}, "float32"),
    ("select", "select", [I([3, 4])], {"dim": 1, "index": -1}, "float32"),
    ("select_first_dim", "select", [I([3, 4, 2], layout="transpose")], {"dim": 0, "index": 1}, "float32"),
    ("expand", "expand", [I([3, 1])], {"shape": [2, 3, 4]}, "float32"),
    ("expand_keep", "expand", [I([1, 4])], {"shape": [3, -1]}, "float32"),
    ("unsqueeze", "unsqueeze", [I([3, 2])], {"dim": 1}, "float32"),
    ("unsqueeze_neg", "unsqueeze", [I([3, 2], layout="transpose")], {"dim": -1}, "float32"),
    ("squeeze", "squeeze", [I([3, 1, 2])], {"dim": 1}, "float32"),
    ("contiguous", "contiguous", [I([3, 2], layout="transpose")], {}, "float32"),
    # ---- matmul and joining ----
    ("matmul_2d", "matmul", [I([3, 4], layout="transpose"), I([4, 5])], {}, "float32"),
    ("matmul_2d_large", "matmul", [I([17, 65]), I([65, 9], layout="transpose")], {}, "float32"),
    ("matmul_large", "matmul", [I([67, 130]), I([130, 71])], {}, "float32"),
    ("matmul_batched", "matmul", [I([2, 3, 4]), I([2, 4, 5])], {}, "float32"),
    ("matmul_batched_broadcast", "matmul", [I([2, 1, 3, 4]), I([3, 4, 2], layout="transpose")], {}, "float32"),
    ("matmul_batch_vs_2d", "matmul", [I([2, 3, 4]), I([4, 2])], {}, "float32"),
    ("matmul_vec_mat", "matmul", [I([4]), I([4, 3])], {}, "float32"),
    ("matmul_mat_vec", "matmul", [I([2, 3, 4]), I([4])], {}, "float32"),
    ("matmul_vec_vec", "matmul", [I([5]), I([5], layout="step")], {}, "float32"),
    ("cat_dim0", "cat", [I([2, 3]), I([4, 3], layout="transpose")], {"dim": 0}, "float32"),
    ("cat_dim1_three", "cat", [I([2, 1, 3]), I([2, 2, 3]), I([2, 3, 3])], {"dim": 1}, "float32"),
    ("cat_neg_dim", "cat", [I([2, 3]), I([2, 2])], {"dim": -1}, "float32"),
    ("stack_dim1", "stack", [I([2, 3]), I([2, 3], layout="transpose")], {"dim": 1}, "float32"),
    ("stack_last", "stack", [I([4]), I([4]), I([4])], {"dim": -1}, "float32"),
    # ---- conv2d ----
    conv("conv2d_basic", I([2, 3, 6, 5]), I([4, 3, 3, 3]), I([4])),
    conv("conv2d_stride_pad", I([1, 2, 7, 5], layout="transpose"), I([3, 2, 3, 3]), I([3]), (2, 2), (1, 1)),
    conv("conv2d_dilation_asym_nobias", I([1, 2, 8, 7]), I([2, 2, 3, 2]), None, (1, 2), (2, 0), (2, 1)),
    conv("conv2d_groups", I([1, 4, 5, 5]), I([6, 2, 3, 3]), I([6]), (1, 1), (1, 1), (1, 1), 2),
    conv("conv2d_depthwise_nobias", I([2, 3, 5, 4]), I([3, 1, 3, 3]), None, (1, 1), (1, 1), (1, 1), 3),
    conv("conv2d_depthwise_mult", I([1, 2, 6, 6]), I([4, 1, 3, 3]), I([4]), (2, 1), (1, 1), (1, 1), 2),
    conv("conv2d_1x1", I([1, 3, 3, 4]), I([2, 3, 1, 1]), I([2])),
    conv("conv2d_5x5_stride3", I([1, 3, 11, 9]), I([2, 3, 5, 5]), I([2]), (3, 3), (2, 2)),
    conv("conv2d_even_kernel", I([2, 2, 6, 7]), I([3, 2, 2, 4]), I([3]), (1, 2), (1, 1)),
    conv("conv2d_wide", I([1, 16, 9, 9]), I([8, 16, 3, 3]), I([8]), (1, 1), (1, 1)),
    # sizes where a blocked / vectorised / threaded kernel takes its main path, not its tails
    conv("conv2d_realistic", I([2, 16, 21, 19]), I([32, 16, 3, 3]), I([32]), (1, 1), (1, 1)),
    conv("conv2d_realistic_stride2", I([1, 32, 17, 16]), I([16, 32, 3, 3]), I([16]), (2, 2), (1, 1)),
    conv("conv2d_weight_noncontig", I([1, 3, 5, 5]), I([2, 3, 3, 3], layout="transpose"), I([2]), (1, 1), (1, 1)),
    # ---- pooling ----
    pool("max_pool2d", "max_pool2d", I([2, 2, 4, 6], "distinct"), (2, 2), (2, 2)),
    pool("max_pool2d_pad_ceil", "max_pool2d", I([1, 2, 7, 5], "distinct", "transpose"), (3, 3), (2, 2), (1, 1), 1),
    pool("max_pool2d_overlap_asym", "max_pool2d", I([1, 3, 9, 8], "distinct"), (3, 2), (2, 1), (1, 0), 0),
    pool("max_pool2d_ceil_nopad", "max_pool2d", I([1, 1, 5, 7], "distinct"), (2, 2), (2, 2), (0, 0), 1),
    pool("avg_pool2d", "avg_pool2d", I([1, 2, 6, 4]), (2, 2), (2, 2)),
    pool("avg_pool2d_pad_include", "avg_pool2d", I([1, 2, 5, 5]), (3, 3), (2, 2), (1, 1), 0, 1),
    pool("avg_pool2d_pad_ceil_exclude", "avg_pool2d", I([1, 2, 7, 5], layout="transpose"), (3, 3), (2, 2), (1, 1), 1, 0),
    pool("avg_pool2d_pad_ceil_include", "avg_pool2d", I([2, 1, 6, 7]), (3, 2), (2, 2), (1, 1), 1, 1),
    pool("avg_pool2d_asym_exclude", "avg_pool2d", I([1, 3, 8, 9]), (2, 3), (1, 2), (1, 1), 0, 0),
    # ---- resizing, padding ----
    ("upsample_nearest_2x", "upsample_nearest2d", [I([1, 2, 3, 4])], {"scale": [2, 2]}, "float32"),
    ("upsample_nearest_2x3", "upsample_nearest2d", [I([2, 2, 3, 2], layout="transpose")], {"scale": [2, 3]}, "float32"),
    ("upsample_nearest_3x1", "upsample_nearest2d", [I([1, 1, 5, 3])], {"scale": [3, 1]}, "float32"),
    ("upsample_bilinear_up", "upsample_bilinear2d", [I([1, 2, 3, 4], layout="transpose")], {"size": [7, 6]}, "float32"),
    ("upsample_bilinear_up2x", "upsample_bilinear2d", [I([2, 2, 5, 4])], {"size": [10, 8]}, "float32"),
    ("upsample_bilinear_down", "upsample_bilinear2d", [I([1, 1, 7, 5])], {"size": [3, 4]}, "float32"),
    ("upsample_bilinear_down2x", "upsample_bilinear2d", [I([1, 2, 8, 6])], {"size": [4, 3]}, "float32"),
    ("upsample_bilinear_mixed", "upsample_bilinear2d", [I([1, 3, 4, 9])], {"size": [9, 4]}, "float32"),
    ("pad_zero", "pad2d", [I([1, 2, 3, 4])], {"lrtb": [1, 2, 0, 3], "mode": "zero"}, "float32"),
    ("pad_zero_noncontig", "pad2d", [I([2, 1, 4, 3], layout="transpose")], {"lrtb": [0, 1, 2, 1], "mode": "zero"}, "float32"),
    ("pad_reflect", "pad2d", [I([2, 1, 4, 5], layout="transpose")], {"lrtb": [2, 1, 3, 1], "mode": "reflect"}, "float32"),
    ("pad_reflect_max", "pad2d", [I([1, 2, 3, 5])], {"lrtb": [4, 0, 2, 1], "mode": "reflect"}, "float32"),
    ("pad_reflect_one", "pad2d", [I([1, 3, 6, 6])], {"lrtb": [1, 1, 1, 1], "mode": "reflect"}, "float32"),
    # ---- normalisation, linear, losses ----
    ("instance_norm", "instance_norm", [I([2, 3, 4, 3])], {"eps": 1e-5}, "float32"),
    ("instance_norm_affine", "instance_norm", [I([2, 3, 3, 5], layout="transpose"), I([3]), I([3])], {"eps": 1e-5}, "float32"),
    ("instance_norm_affine_large", "instance_norm", [I([1, 4, 16, 15]), I([4]), I([4])], {"eps": 1e-5}, "float32"),
    ("instance_norm_realistic", "instance_norm", [I([2, 16, 32, 31]), I([16]), I([16])], {"eps": 1e-5}, "float32"),
    ("instance_norm_offset_eps", "instance_norm", [I([2, 2, 5, 5], "positive"), I([2]), I([2])], {"eps": 1e-3}, "float32"),
    ("linear", "linear", [I([2, 3, 4]), I([5, 4]), I([5])], {}, "float32"),
    ("linear_nobias", "linear", [I([3, 4], layout="transpose"), I([2, 4])], {}, "float32"),
    ("linear_wide", "linear", [I([4, 64]), I([10, 64], layout="transpose"), I([10])], {}, "float32"),
    ("mse_loss", "mse_loss", [I([2, 3]), I([2, 3])], {}, "float32"),
    ("mse_loss_4d_noncontig", "mse_loss", [I([2, 3, 4, 5], layout="transpose"), I([2, 3, 4, 5])], {}, "float32"),
    ("l1_loss", "l1_loss", [I([2, 3, 4]), I([2, 3, 4])], {}, "float32"),
    ("l1_loss_target_nograd", "l1_loss", [I([3, 5], layout="transpose"), I([3, 5], grad=False)], {}, "float32"),
    # ---- compositions ----
    ("softmax_composite", "softmax_composite", [I([3, 6], layout="transpose")], {"dim": -1}, "float32"),
    ("scalar_ops_composite", "scalar_ops_composite", [I([2, 3])], {}, "float32"),
    ("norm_composite", "norm_composite", [I([4, 7])], {}, "float32"),
    # ---- conventions at kinks (inputs on multiples of 0.5: zeros, ties, exact bounds) ----
    # PyTorch's choices: relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = slope, clamp passes the
    # gradient at its bounds, amax/amin split it evenly among tied extremes, max_pool2d gives it to
    # the first maximum of the window, l1_loss'(0) = 0.
    ("relu_at_zero", "relu", [I([4, 6], "kinks")], {}, "float32"),
    ("abs_at_zero", "abs", [I([4, 6], "kinks")], {}, "float32"),
    ("leaky_relu_at_zero", "leaky_relu", [I([4, 6], "kinks")], {"slope": 0.1}, "float32"),
    ("clamp_at_bounds", "clamp", [I([4, 6], "kinks")], {"lo": -0.5, "hi": 1.0}, "float32"),
    ("max_ties_dim", "max", [I([3, 8], "kinks")], {"dims": [1], "keepdim": 0}, "float32"),
    ("max_ties_all", "max", [I([3, 5], "kinks")], {"dims": [], "keepdim": 0}, "float32"),
    ("min_ties_dims_keepdim", "min", [I([2, 4, 3], "kinks")], {"dims": [0, 1], "keepdim": 1}, "float32"),
    pool("max_pool2d_ties", "max_pool2d", I([1, 2, 6, 7], "kinks"), (3, 3), (2, 2), (1, 1), 1),
    pool("max_pool2d_ties_overlap", "max_pool2d", I([2, 1, 5, 5], "kinks", "transpose"), (2, 2), (1, 1)),
    ("l1_loss_at_zero", "l1_loss", [I([3, 4], "kinks"), I([3, 4], "kinks")], {}, "float32"),
    # ---- float64: same maths, tolerance near double rounding ----
    ("f64_add_broadcast", "add", [I([2, 3, 4]), I([3, 1])], {}, "float64"),
    ("f64_pow_tensor", "pow", [I([3, 2], "positive"), I([3, 2])], {}, "float64"),
    ("f64_exp", "exp", [I([2, 5], layout="transpose")], {}, "float64"),
    ("f64_tanh", "tanh", [I([9])], {}, "float64"),
    ("f64_var", "var", [I([3, 5, 4])], {"dims": [1, 2], "correction": 1, "keepdim": 0}, "float64"),
    ("f64_max_dim", "max", [I([4, 5], "distinct")], {"dims": [0], "keepdim": 1}, "float64"),
    ("f64_matmul_batched", "matmul", [I([2, 1, 3, 4]), I([3, 4, 2], layout="transpose")], {}, "float64"),
    ("f64_slice_step", "slice", [I([9, 2])], {"dim": 0, "start": 1, "end": 9, "step": 3}, "float64"),
    conv("f64_conv2d_groups_stride", I([2, 4, 7, 6]), I([4, 2, 3, 3]), I([4]), (2, 1), (1, 2), (1, 2), 2, "float64"),
    pool("f64_avg_pool2d", "avg_pool2d", I([1, 2, 7, 5]), (3, 3), (2, 2), (1, 1), 1, 0, "float64"),
    pool("f64_max_pool2d", "max_pool2d", I([1, 2, 7, 5], "distinct"), (3, 3), (2, 2), (1, 1), 1, 1, "float64"),
    ("f64_upsample_bilinear", "upsample_bilinear2d", [I([1, 2, 5, 3])], {"size": [8, 7]}, "float64"),
    ("f64_upsample_nearest", "upsample_nearest2d", [I([1, 2, 2, 3])], {"scale": [2, 2]}, "float64"),
    ("f64_pad_reflect", "pad2d", [I([1, 2, 4, 4])], {"lrtb": [3, 1, 0, 2], "mode": "reflect"}, "float64"),
    ("f64_instance_norm_affine", "instance_norm", [I([2, 3, 4, 5]), I([3]), I([3])], {"eps": 1e-5}, "float64"),
    ("f64_linear", "linear", [I([3, 6]), I([4, 6]), I([4])], {}, "float64"),
    ("f64_mse_loss", "mse_loss", [I([3, 4]), I([3, 4])], {}, "float64"),
    ("f64_l1_loss", "l1_loss", [I([3, 4]), I([3, 4])], {}, "float64"),
    ("f64_softmax_composite", "softmax_composite", [I([2, 5])], {"dim": 0}, "float64"),
]

DTYPES = {"float32": torch.float32, "float64": torch.float64}

# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def fmt(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (list, tuple)):
        return ",".join(fmt(e) for e in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def save(path, t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    np.save(path, np.array(a, order="C", copy=True))  # ascontiguousarray would make 0-d arrays 1-d


def write_meta(d, entries):
    with open(os.path.join(d, "meta.txt"), "w") as f:
        for k, v in entries.items():
            f.write(f"{k}={fmt(v)}\n")


def case_seed(name):
    # stable across runs and Python versions (no hash randomisation)
    h = 2166136261
    for ch in name.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def run_op_case(outdir, name, op, specs, params, dtype_name):
    dtype = DTYPES[dtype_name]
    gen = torch.Generator().manual_seed(case_seed(name))
    values, leaves = [], []
    for i, s in enumerate(specs):
        v, leaf = build_input(s, dtype, gen, i)
        values.append(v)
        leaves.append(leaf)
    out = OPS[op](leaves, params)
    gout = torch.randn(out.numel(), generator=gen, dtype=torch.float64).reshape(out.shape).to(dtype)
    diff = [l for l in leaves if l.requires_grad]
    grads = torch.autograd.grad(out, diff, gout) if diff else []
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    meta = {"kind": "op", "op": op, "dtype": dtype_name, "ninputs": len(specs)}
    for i, s in enumerate(specs):
        meta[f"in{i}_layout"] = s.get("layout", "contiguous")
        meta[f"in{i}_grad"] = int(s.get("grad", True))
        save(os.path.join(d, f"in{i}.npy"), values[i])
    meta.update(params)
    write_meta(d, meta)
    save(os.path.join(d, "out.npy"), out)
    save(os.path.join(d, "gout.npy"), gout)
    gi = iter(grads)
    for i, leaf in enumerate(leaves):
        if leaf.requires_grad:
            save(os.path.join(d, f"gin{i}.npy"), next(gi))


# ---- layer cases: a torch.nn module, its state_dict, one input ----


def run_layer_case(outdir, name, layer_type, module, params, x_shape):
    gen = torch.Generator().manual_seed(case_seed(name))
    torch.manual_seed(case_seed(name))
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p.dtype) * 0.5)
    x = torch.randn(x_shape, generator=gen, dtype=torch.float64).float().requires_grad_(True)
    out = module(x)
    gout = torch.randn(out.numel(), generator=gen, dtype=torch.float64).reshape(out.shape).float()
    named = list(module.named_parameters())
    grads = torch.autograd.grad(out, [x] + [p for _, p in named], gout)
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    meta = {"kind": "layer", "layer": layer_type, "dtype": "float32"}
    meta.update(params)
    meta["params"] = [n for n, _ in named]
    write_meta(d, meta)
    for n, t in module.state_dict().items():
        save(os.path.join(d, f"state.{n}.npy"), t)
    save(os.path.join(d, "in0.npy"), x)
    save(os.path.join(d, "out.npy"), out)
    save(os.path.join(d, "gout.npy"), gout)
    save(os.path.join(d, "gin0.npy"), grads[0])
    for (n, _), g in zip(named, grads[1:]):
        save(os.path.join(d, f"grad.{n}.npy"), g)


LAYER_CASES = [
    ("layer_conv2d", "Conv2d", lambda: nn.Conv2d(3, 5, 3, stride=2, padding=1),
     dict(in_channels=3, out_channels=5, kernel=[3, 3], stride=[2, 2], padding=[1, 1],
          dilation=[1, 1], groups=1, bias=1), [2, 3, 7, 6]),
    ("layer_conv2d_groups_nobias", "Conv2d", lambda: nn.Conv2d(4, 6, (3, 2), padding=(1, 0), groups=2, bias=False),
     dict(in_channels=4, out_channels=6, kernel=[3, 2], stride=[1, 1], padding=[1, 0],
          dilation=[1, 1], groups=2, bias=0), [1, 4, 5, 5]),
    ("layer_linear", "Linear", lambda: nn.Linear(6, 4), dict(in_features=6, out_features=4, bias=1), [3, 6]),
    ("layer_linear_nobias", "Linear", lambda: nn.Linear(5, 3, bias=False),
     dict(in_features=5, out_features=3, bias=0), [2, 2, 5]),
    ("layer_instance_norm_affine", "InstanceNorm2d", lambda: nn.InstanceNorm2d(3, affine=True),
     dict(num_features=3, affine=1, eps=1e-5), [2, 3, 5, 4]),
    ("layer_instance_norm", "InstanceNorm2d", lambda: nn.InstanceNorm2d(2, affine=False),
     dict(num_features=2, affine=0, eps=1e-5), [2, 2, 4, 4]),
    ("layer_maxpool2d", "MaxPool2d", lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
     dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=1), [1, 2, 8, 7]),
    ("layer_avgpool2d", "AvgPool2d", lambda: nn.AvgPool2d((2, 3), padding=(1, 1), count_include_pad=False),
     dict(kernel=[2, 3], stride=[2, 3], padding=[1, 1], ceil_mode=0, count_include_pad=0), [2, 2, 6, 8]),
    ("layer_upsample_nearest", "Upsample", lambda: nn.Upsample(scale_factor=2, mode="nearest"),
     dict(mode="nearest", scale=[2, 2]), [1, 3, 4, 5]),
    ("layer_upsample_bilinear", "Upsample", lambda: nn.Upsample(size=(7, 9), mode="bilinear", align_corners=False),
     dict(mode="bilinear", size=[7, 9]), [1, 2, 5, 4]),
    ("layer_reflection_pad", "ReflectionPad2d", lambda: nn.ReflectionPad2d((1, 2, 0, 3)),
     dict(lrtb=[1, 2, 0, 3]), [1, 2, 5, 4]),
    ("layer_zero_pad", "ZeroPad2d", lambda: nn.ZeroPad2d((2, 0, 1, 1)), dict(lrtb=[2, 0, 1, 1]), [2, 1, 3, 3]),
    ("layer_leaky_relu", "LeakyReLU", lambda: nn.LeakyReLU(0.2), dict(slope=0.2), [2, 3, 4]),
]

# ---- training: a small conv net, 20 optimizer steps ----


def make_net():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),      # 0
        nn.ReLU(),                          # 1
        # no bias before the instance norm: the norm subtracts it again, so its gradient is zero up
        # to rounding, and Adam (which divides by sqrt(v)) would turn that noise into full-size
        # steps: the trajectory of such a parameter is rounding noise and cannot be compared
        nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False),  # 2
        nn.InstanceNorm2d(8, affine=True),  # 3
        nn.LeakyReLU(0.2),                  # 4
        nn.Upsample(scale_factor=2, mode="nearest"),  # 5
        nn.ReflectionPad2d(1),              # 6
        nn.Conv2d(8, 3, 3),                 # 7
    )


TRAIN_NET_DESC = ("conv(3,8,k3,p1),relu,conv(8,8,k3,s2,p1,nobias),instance_norm(8,affine),"
                  "leaky_relu(0.2),upsample_nearest(2),reflection_pad(1),conv(8,3,k3)")


def load_images(size):
    """A batch of 2 real photos as input and 2 others as target, [2, 3, size, size] in [0, 1];
    falls back to seeded noise when the data folder or PIL is missing (the golden files carry the
    values either way, so the C++ side never needs the images)."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.environ.get("STYLENET_DATA") or os.path.join(here, "..", "..", "..", "shared")
    names = ["adain_cornell.jpg", "adain_golden_gate.jpg", "adain_sailboat.jpg", "adain_modern.jpg"]
    try:
        from PIL import Image
        imgs = []
        for n in names:
            p = os.path.join(root, "data", "content", n)
            if not os.path.exists(p):
                p = os.path.join(root, "content", n)  # STYLENET_DATA may point at data/ itself
            im = Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR)
            imgs.append(torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1))
        t = torch.stack(imgs)
        return t[:2].contiguous(), t[2:].contiguous(), "photos:" + ";".join(names)
    except Exception:  # noqa: BLE001 - any missing piece means noise
        g = torch.Generator().manual_seed(7)
        return (torch.rand(2, 3, size, size, generator=g), torch.rand(2, 3, size, size, generator=g),
                "noise")


def run_train_case(outdir, name, opt_name, opt_kwargs, x, target, source, steps=20):
    torch.manual_seed(1234)
    net = make_net()
    init = {n: p.detach().clone() for n, p in net.state_dict().items()}
    if opt_name == "adam":
        opt = torch.optim.Adam(net.parameters(), **opt_kwargs)
    elif opt_name == "adamw":
        opt = torch.optim.AdamW(net.parameters(), **opt_kwargs)
    elif opt_name == "sgd":
        opt = torch.optim.SGD(net.parameters(), **opt_kwargs)
    else:
        raise ValueError(opt_name)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(net(x), target)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with torch.no_grad():
        final_loss = F.mse_loss(net(x), target).item()
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    meta = {"kind": "train", "dtype": "float32", "net": TRAIN_NET_DESC, "optimizer": opt_name,
            "steps": steps, "data": source, "params": list(init.keys()), "final_loss": final_loss}
    for k, v in opt_kwargs.items():
        meta[k] = list(v) if isinstance(v, tuple) else v
    write_meta(d, meta)
    for n, t in init.items():
        save(os.path.join(d, f"init.{n}.npy"), t)
    for n, t in net.state_dict().items():
        save(os.path.join(d, f"final.{n}.npy"), t)
    save(os.path.join(d, "x.npy"), x)
    save(os.path.join(d, "target.npy"), target)
    save(os.path.join(d, "losses.npy"), np.asarray(losses, dtype=np.float32))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    t0 = time.time()
    names = []
    seen = set()
    for name, op, specs, params, dtype in CASES:
        assert name not in seen, name
        seen.add(name)
        run_op_case(outdir, name, op, specs, params, dtype)
        names.append(name)
    for name, layer_type, ctor, params, x_shape in LAYER_CASES:
        torch.manual_seed(case_seed(name))
        run_layer_case(outdir, name, layer_type, ctor(), params, x_shape)
        names.append(name)
    x, target, source = load_images(16)
    run_train_case(outdir, "train_adam", "adam", {"lr": 1e-2}, x, target, source)
    run_train_case(outdir, "train_sgd_nesterov", "sgd",
                   {"lr": 1e-2, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}, x, target, source)
    run_train_case(outdir, "train_adamw", "adamw", {"lr": 1e-2, "weight_decay": 0.1}, x, target, source)
    names += ["train_adam", "train_sgd_nesterov", "train_adamw"]
    with open(os.path.join(outdir, "index.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"gen_golden: wrote {len(names)} cases to {outdir} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
