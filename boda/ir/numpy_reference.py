"""The numpy reference for every Problem: the judge of kernel correctness (float64 inside),
the random inputs it is judged on, and the error measure (`max_rel_error`)."""
from __future__ import annotations

import itertools

import numpy as np

from .activations import apply
from .problems import (Conv, Eltwise, Gather, Lrn, MatMul, Pad, Pool, Problem, Softmax,
                       Transpose)
from .problems_norm import Norm, Reduce, TopK
from .problems_upsample import ConvTranspose, Resize


def _windows(p, x, fill):
    """Yield (window offsets, strided view of the padded input) for each kernel position."""
    nsp = len(p.in_size)
    pads = [(0, 0), (0, 0)]
    extra = []
    for d in range(nsp):
        out = p.out_shape[2 + d]
        need = (out - 1) * p.stride[d] + (p.kernel[d] - 1) * p.dilation[d] + 1
        hi = max(0, need - p.in_size[d] - p.pad_begin[d])
        extra.append(hi)
        pads.append((p.pad_begin[d], hi))
    xp = np.pad(x, pads, constant_values=fill)
    for ks in itertools.product(*(range(k) for k in p.kernel)):
        sl = tuple(slice(k * dil, k * dil + (o - 1) * s + 1, s)
                   for k, dil, o, s in zip(ks, p.dilation, p.out_shape[2:], p.stride))
        yield ks, xp[(slice(None), slice(None)) + sl]


def conv(p: Conv, x, w, *rest):
    b = rest[0] if p.bias else None
    x, w = x.astype(np.float64), w.astype(np.float64)
    out = np.zeros(p.out_shape)
    cg, mg = p.c // p.group, p.m // p.group
    for ks, win in _windows(p, x, 0.0):
        wk = w[(slice(None), slice(None)) + ks]  # (m, cg)
        for g in range(p.group):
            out[:, g * mg:(g + 1) * mg] += np.einsum(
                "nc...,mc->nm...", win[:, g * cg:(g + 1) * cg], wk[g * mg:(g + 1) * mg])
    if b is not None:
        out += b.reshape((1, -1) + (1,) * len(p.in_size))
    if p.residual:
        out += rest[-1]
    return apply(p.act, out).astype(np.float32)


def pool(p: Pool, x):
    x = x.astype(np.float64)
    if p.mode == "max":
        out = np.full(p.out_shape, -np.inf)
        for _, win in _windows(p, x, -np.inf):
            out = np.maximum(out, win)
    else:
        total = np.zeros(p.out_shape)
        for _, win in _windows(p, x, 0.0):
            total += win
        # the divisor counts window positions inside the input, or with count_include_pad
        # inside the padded input (never the positions ceil_mode adds past the end padding)
        count = np.ones(p.out_size)
        for d in range(len(p.in_size)):
            lo = -p.pad_begin[d] if p.count_include_pad else 0
            hi = p.in_size[d] + (p.pad_end[d] if p.count_include_pad else 0)
            pos = (np.arange(p.out_size[d])[:, None] * p.stride[d] - p.pad_begin[d]
                   + np.arange(p.kernel[d])[None, :] * p.dilation[d])
            cnt = ((pos >= lo) & (pos < hi)).sum(axis=1)
            count = count * cnt.reshape((-1,) + (1,) * (len(p.in_size) - d - 1))
        out = total / np.maximum(count, 1)
    return apply(p.act, out).astype(np.float32)


def matmul(p: MatMul, a, b, c=None):
    a, b = a.astype(np.float64), b.astype(np.float64)
    if p.trans_a:
        a = np.swapaxes(a, -1, -2)
    if p.trans_b:
        b = np.swapaxes(b, -1, -2)
    out = p.alpha * np.matmul(a, b)
    if c is not None:
        out = out + p.beta * c
    return apply(p.act, out).astype(np.float32)


def eltwise(p: Eltwise, *xs):
    xs = [x.astype(np.float64) for x in xs]
    ops = {"copy": lambda a: a, "add": np.add, "sub": np.subtract, "mul": np.multiply,
           "div": np.divide, "max": np.maximum, "min": np.minimum,
           "sum": lambda *a: sum(a), "mean": lambda *a: sum(a) / len(a),
           "muladd": lambda a, b, c: a * b + c,
           "prelu": lambda a, s: np.where(a >= 0, a, a * s), "pow": np.power,
           "where": lambda c, a, b: np.where(c != 0, a, b), "not": lambda a: 1.0 * (a == 0),
           "greater": lambda a, b: 1.0 * (a > b), "less": lambda a, b: 1.0 * (a < b),
           "equal": lambda a, b: 1.0 * (a == b), "greater_equal": lambda a, b: 1.0 * (a >= b),
           "less_equal": lambda a, b: 1.0 * (a <= b),
           "and": lambda a, b: 1.0 * ((a != 0) & (b != 0)),
           "or": lambda a, b: 1.0 * ((a != 0) | (b != 0)),
           "xor": lambda a, b: 1.0 * ((a != 0) ^ (b != 0))}
    with np.errstate(all="ignore"):  # pow of a negative base is NaN, as in the kernel
        out = np.broadcast_to(ops[p.op](*xs), p.shape)
    return apply(p.act, out).astype(np.float32)


def softmax(p: Softmax, x):
    outer, length, inner = p.outer_len_inner
    y = x.astype(np.float64).reshape(outer, length, inner)
    y = y - y.max(axis=1, keepdims=True)
    if p.log:
        y = y - np.log(np.exp(y).sum(axis=1, keepdims=True))
    else:
        y = np.exp(y) / np.exp(y).sum(axis=1, keepdims=True)
    return y.reshape(p.shape).astype(np.float32)


def lrn(p: Lrn, x):
    x = x.astype(np.float64)
    sq = np.zeros_like(x)
    c = x.shape[1]
    lo, hi = (p.size - 1) // 2, p.size - 1 - (p.size - 1) // 2
    for ch in range(c):
        a, b = max(0, ch - lo), min(c - 1, ch + hi)
        sq[:, ch] = (x[:, a:b + 1] ** 2).sum(axis=1)
    return (x / (p.bias + p.alpha / p.size * sq) ** p.beta).astype(np.float32)


def pad(p: Pad, x):
    crop = tuple(slice(max(0, -b), d - max(0, -e)) for b, e, d in
                 zip(p.pad_begin, p.pad_end, p.in_shape))
    x = x[crop]
    widths = [(max(0, b), max(0, e)) for b, e in zip(p.pad_begin, p.pad_end)]
    if p.mode == "constant":
        return np.pad(x, widths, constant_values=p.value).astype(np.float32)
    return np.pad(x, widths, mode=p.mode).astype(np.float32)


def gather(p: Gather, x, indices):
    return np.take(x, indices.astype(np.int64), axis=p.axis)


def transpose(p: Transpose, x):
    return np.ascontiguousarray(np.transpose(x, p.perm))


def source_coordinate(coord: str, x, in_len: int, out_len: int, scale: float):
    """Resize's coordinate transform: where output index `x` (array) samples the input."""
    if coord == "align_corners":  # over the whole output, as onnxruntime does
        return np.zeros_like(x) if out_len == 1 else x * (in_len - 1) / (out_len - 1)
    if coord == "asymmetric":
        return x / scale
    if coord == "pytorch_half_pixel":
        return np.full_like(x, -0.5) if out_len == 1 else (x + 0.5) / scale - 0.5
    if coord == "tf_half_pixel_for_nearest":
        return (x + 0.5) / scale
    offset = 0.0
    if coord == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / (scale * in_len))
    return offset + (x + 0.5) / scale - 0.5


def _resample_matrix(p: Resize, axis: int):
    """(out, in) weights taking one axis of the input to the output."""
    i, o, s = p.in_shape[axis], p.shape[axis], p.scales[axis]
    x = source_coordinate(p.coord, np.arange(o, dtype=np.float64), i, o, s)
    lo = np.floor(x)
    frac = x - lo
    m = np.zeros((o, i))
    rows = np.arange(o)
    if p.mode == "linear":
        np.add.at(m, (rows, np.clip(lo, 0, i - 1).astype(int)), 1 - frac)
        np.add.at(m, (rows, np.clip(lo + 1, 0, i - 1).astype(int)), frac)
        return m
    up = {"round_prefer_floor": frac > 0.5, "round_prefer_ceil": frac >= 0.5,
          "floor": np.zeros(o, bool), "ceil": frac > 0}[p.nearest]
    m[rows, np.clip(lo + up, 0, i - 1).astype(int)] = 1
    return m


def resize(p: Resize, x):
    y = x.astype(np.float64)
    for axis in p.resampled_axes:
        y = np.moveaxis(np.tensordot(_resample_matrix(p, axis), y, axes=([1], [axis])), 0, axis)
    return y.astype(np.float32)


def convtranspose(p: ConvTranspose, x, w, b=None):
    """Scatter form: every input element adds its weighted kernel into the output."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    nsp = len(p.in_size)
    full = [s * (i - 1) + (k - 1) * d + 1 for i, k, s, d in
            zip(p.in_size, p.kernel, p.stride, p.dilation)]
    size = [max(f, pb + o) for f, pb, o in zip(full, p.pad_begin, p.out_size)]
    out = np.zeros((p.n, p.m) + tuple(size))
    cg, mg = p.c // p.group, p.m // p.group
    for ks in itertools.product(*(range(k) for k in p.kernel)):
        sl = tuple(slice(k * d, k * d + (i - 1) * s + 1, s) for k, d, i, s in
                   zip(ks, p.dilation, p.in_size, p.stride))
        wk = w[(slice(None), slice(None)) + ks]  # (c, mg)
        for g in range(p.group):
            out[(slice(None), slice(g * mg, (g + 1) * mg)) + sl] += np.einsum(
                "nc...,cm->nm...", x[:, g * cg:(g + 1) * cg], wk[g * cg:(g + 1) * cg])
    out = out[(slice(None), slice(None)) + tuple(slice(pb, pb + o) for pb, o in
                                                  zip(p.pad_begin, p.out_size))]
    if b is not None:
        out = out + b.reshape((1, -1) + (1,) * nsp)
    return apply(p.act, out).astype(np.float32)


def reduce(p: Reduce, x):
    x = x.astype(np.float64)
    axes = tuple(p.axes)
    if p.mode in ("argmax", "argmin"):
        moved = np.moveaxis(x, axes[0], -1)
        if p.last:
            moved = moved[..., ::-1]
        idx = (np.argmax if p.mode == "argmax" else np.argmin)(moved, axis=-1)
        if p.last:
            idx = moved.shape[-1] - 1 - idx
        return np.expand_dims(idx, axes[0]).astype(np.float32)
    fns = {"sum": lambda a: a.sum(axes, keepdims=True),
           "mean": lambda a: a.mean(axes, keepdims=True),
           "max": lambda a: a.max(axes, keepdims=True),
           "min": lambda a: a.min(axes, keepdims=True),
           "prod": lambda a: a.prod(axes, keepdims=True),
           "l1": lambda a: np.abs(a).sum(axes, keepdims=True),
           "l2": lambda a: np.sqrt((a * a).sum(axes, keepdims=True)),
           "sumsquare": lambda a: (a * a).sum(axes, keepdims=True),
           "invstddev": lambda a: 1 / np.sqrt(a.var(axes, keepdims=True) + p.epsilon),
           "logsum": lambda a: np.log(a.sum(axes, keepdims=True)),
           "logsumexp": lambda a: np.log(np.exp(a).sum(axes, keepdims=True))}
    return fns[p.mode](x).astype(np.float32)


def topk(p: TopK, x):
    moved = np.moveaxis(x.astype(np.float64), p.axis, -1)
    order = np.argsort(-moved if p.largest else moved, axis=-1, kind="stable")[..., :p.k]
    out = order if p.indices else np.take_along_axis(moved, order, axis=-1)
    return np.moveaxis(out, -1, p.axis).astype(np.float32)


def norm(p: Norm, x, scale, bias=None):
    x = x.astype(np.float64)
    axes = tuple(range(p.axis, len(p.shape)))
    mean = x.mean(axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + p.epsilon)
    tail = (-1,) + (1,) * (len(p.shape) - 2)
    y = y * (scale.reshape(tail) if p.instance else scale)
    if bias is not None:
        y = y + (bias.reshape(tail) if p.instance else bias)
    return y.astype(np.float32)


_BY_KIND = {Conv: conv, Pool: pool, MatMul: matmul, Eltwise: eltwise, Softmax: softmax,
            Lrn: lrn, Pad: pad, Transpose: transpose, Gather: gather, Resize: resize,
            ConvTranspose: convtranspose, Reduce: reduce, Norm: norm, TopK: topk}


def reference(problem: Problem, *inputs: np.ndarray) -> np.ndarray:
    """The exact result of `problem` on `inputs` (given in the problem's operand order)."""
    return _BY_KIND[type(problem)](problem, *inputs)


def random_inputs(problem, seed: int = 0) -> list[np.ndarray]:
    """Standard-normal float32 operands for `problem` (never zeros: a kernel that reads
    nothing would pass on zeros); a Gather's indices are random ones in range."""
    rng = np.random.default_rng(seed)
    out = [rng.standard_normal(s).astype(np.float32) for s in problem.in_shapes]
    if isinstance(problem, Gather):  # indices in range, as the importer guarantees
        out[1] = rng.integers(0, problem.in_shape[problem.axis], problem.index_shape
                              ).astype(np.float32)
    return out


def max_rel_error(out: np.ndarray, ref: np.ndarray) -> float:
    """max|out - ref| / max|ref|, with NaN (an unwritten element) counting as infinite."""
    if out.shape != ref.shape:
        return float("inf")
    if not np.all(np.isfinite(out) == np.isfinite(ref)):
        return float("inf")
    finite = np.isfinite(ref)
    scale = max(float(np.abs(ref[finite]).max(initial=0.0)), 1e-30)
    return float(np.abs(out[finite] - ref[finite]).max(initial=0.0)) / scale
