"""The numpy reference for every Problem: the judge of kernel correctness (float64 inside),
the random inputs it is judged on, and the error measure (`max_rel_error`)."""
from __future__ import annotations

import itertools

import numpy as np

from .activations import apply
from .problems import Conv, Eltwise, Lrn, MatMul, Pad, Pool, Problem, Softmax, Transpose


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


def conv(p: Conv, x, w, b=None):
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
           "prelu": lambda a, s: np.where(a >= 0, a, a * s), "pow": np.power}
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


def transpose(p: Transpose, x):
    return np.ascontiguousarray(np.transpose(x, p.perm))


_BY_KIND = {Conv: conv, Pool: pool, MatMul: matmul, Eltwise: eltwise, Softmax: softmax,
            Lrn: lrn, Pad: pad, Transpose: transpose}


def reference(problem: Problem, *inputs: np.ndarray) -> np.ndarray:
    """The exact result of `problem` on `inputs` (given in the problem's operand order)."""
    return _BY_KIND[type(problem)](problem, *inputs)


def random_inputs(problem, seed: int = 0) -> list[np.ndarray]:
    """Standard-normal float32 operands for `problem` (never zeros: a kernel that reads
    nothing would pass on zeros)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in problem.in_shapes]


def max_rel_error(out: np.ndarray, ref: np.ndarray) -> float:
    """max|out - ref| / max|ref|, with NaN (an unwritten element) counting as infinite."""
    if out.shape != ref.shape:
        return float("inf")
    if not np.all(np.isfinite(out) == np.isfinite(ref)):
        return float("inf")
    finite = np.isfinite(ref)
    scale = max(float(np.abs(ref[finite]).max(initial=0.0)), 1e-30)
    return float(np.abs(out[finite] - ref[finite]).max(initial=0.0)) / scale
