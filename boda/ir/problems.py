"""The per-layer problems a network lowers to.

Each Problem is a frozen, hashable dataclass that says exactly what one kernel must compute,
independent of where its operands live in memory (that is the runtime's View). Identical
layers produce equal Problems and so share tuning results. `signature` is the canonical
string used as the tuning-database key; `flops` and `bytes` feed cost estimates and reports.

Operand order is fixed per kind (`in_shapes`) and is the order of kernel arguments after the
output. Activations fused into a producer are an `Act` tuple: () or an activation's name
and parameters, e.g. ("relu",), ("clip", lo, hi), ("hardsigmoid", alpha, beta) (the table
is ir/activations.py).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from .views import numel

Act = tuple


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return "[" + ";".join(_fmt(v) for v in value) + "]"
        if value and isinstance(value[0], str):  # an Act
            return "-".join(_fmt(v) for v in value)
        return "x".join(_fmt(v) for v in value) if value else "-"
    return str(value)


@dataclass(frozen=True)
class Problem:
    kind: ClassVar[str] = "problem"

    @property
    def signature(self) -> str:
        parts = [f"{f.name}={_fmt(getattr(self, f.name))}" for f in dataclasses.fields(self)
                 if not (f.metadata.get("optional") and getattr(self, f.name) == f.default)]
        return f"{self.kind}(" + ",".join(parts) + ")"

    @property
    def in_shapes(self) -> tuple[tuple[int, ...], ...]:
        raise NotImplementedError

    @property
    def out_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def flops(self) -> int:
        return numel(self.out_shape)

    @property
    def bytes(self) -> int:
        return 4 * (numel(self.out_shape) + sum(numel(s) for s in self.in_shapes))


def conv_out_size(size, kernel, stride, pad_begin, pad_end, dilation, ceil_mode=False):
    out = []
    for i, k, s, pb, pe, d in zip(size, kernel, stride, pad_begin, pad_end, dilation):
        span = i + pb + pe - d * (k - 1) - 1
        o = (span + s - 1) // s + 1 if ceil_mode else span // s + 1
        if ceil_mode and (o - 1) * s >= i + pb:  # last window must start inside input or left pad
            o -= 1
        out.append(o)
    return tuple(out)


@dataclass(frozen=True)
class Conv(Problem):
    """N-d grouped, strided, dilated convolution with optional bias and fused activation.
    With residual, a tensor of the output's shape (the last operand) is added before the
    activation (a ResNet block's Add, fused)."""
    kind: ClassVar[str] = "conv"
    n: int
    c: int
    m: int
    in_size: tuple
    kernel: tuple
    stride: tuple
    pad_begin: tuple
    pad_end: tuple
    dilation: tuple
    group: int = 1
    bias: bool = False
    act: Act = ()
    # left out of the signature when False, so the keys of convs tuned before it stay
    residual: bool = dataclasses.field(default=False, metadata={"optional": True})

    @property
    def out_size(self):
        return conv_out_size(self.in_size, self.kernel, self.stride, self.pad_begin,
                             self.pad_end, self.dilation)

    @property
    def in_shapes(self):
        shapes = ((self.n, self.c) + self.in_size, (self.m, self.c // self.group) + self.kernel)
        return (shapes + (((self.m,),) if self.bias else ())
                + ((self.out_shape,) if self.residual else ()))

    @property
    def out_shape(self):
        return (self.n, self.m) + self.out_size

    @property
    def flops(self):
        return 2 * numel(self.out_shape) * (self.c // self.group) * numel(self.kernel)


@dataclass(frozen=True)
class Pool(Problem):
    """Max or average pooling over N-d windows; global pooling is a window the input's size."""
    kind: ClassVar[str] = "pool"
    mode: str  # "max" | "avg"
    n: int
    c: int
    in_size: tuple
    kernel: tuple
    stride: tuple
    pad_begin: tuple
    pad_end: tuple
    dilation: tuple
    out_size: tuple
    count_include_pad: bool = False
    act: Act = ()

    @property
    def in_shapes(self):
        return ((self.n, self.c) + self.in_size,)

    @property
    def out_shape(self):
        return (self.n, self.c) + self.out_size

    @property
    def flops(self):
        return numel(self.out_shape) * numel(self.kernel)


@dataclass(frozen=True)
class MatMul(Problem):
    """Batched, broadcasting alpha * op(A) @ op(B) + beta * C; Gemm and MatMul both lower here.

    a_shape and b_shape are as stored (before the transposes); c_shape is None when there is
    no C (and () when C is a scalar).
    """
    kind: ClassVar[str] = "matmul"
    a_shape: tuple
    b_shape: tuple
    c_shape: tuple | None = None
    trans_a: bool = False
    trans_b: bool = False
    alpha: float = 1.0
    beta: float = 1.0
    act: Act = ()

    @property
    def m(self):
        return self.a_shape[-1] if self.trans_a else self.a_shape[-2]

    @property
    def k(self):
        return self.a_shape[-2] if self.trans_a else self.a_shape[-1]

    @property
    def n(self):
        return self.b_shape[-2] if self.trans_b else self.b_shape[-1]

    @property
    def batch(self):
        return broadcast_shapes(self.a_shape[:-2], self.b_shape[:-2])

    @property
    def in_shapes(self):
        return (self.a_shape, self.b_shape) + (() if self.c_shape is None else (self.c_shape,))

    @property
    def out_shape(self):
        return self.batch + (self.m, self.n)

    @property
    def flops(self):
        return 2 * numel(self.out_shape) * self.k


@dataclass(frozen=True)
class Eltwise(Problem):
    """Elementwise op over broadcast inputs, then an activation. `copy` with an activation is
    a standalone Relu/Sigmoid/...; `muladd` (x * a + b) is a BatchNormalization not folded;
    `prelu` is PRelu (x, slope), `pow` a Pow whose exponent is a tensor, `mean` Mean, `where`
    Where (cond, x, y); comparisons and logic ops (greater, ..., and, or, xor, not) give 0/1
    floats."""
    kind: ClassVar[str] = "eltwise"
    op: str
    shape: tuple
    inputs: tuple  # the input shapes, each broadcastable to `shape`
    act: Act = ()

    @property
    def in_shapes(self):
        return self.inputs

    @property
    def out_shape(self):
        return self.shape


@dataclass(frozen=True)
class Transpose(Problem):
    kind: ClassVar[str] = "transpose"
    in_shape: tuple
    perm: tuple

    @property
    def in_shapes(self):
        return (self.in_shape,)

    @property
    def out_shape(self):
        return tuple(self.in_shape[p] for p in self.perm)


@dataclass(frozen=True)
class Gather(Problem):
    """ONNX Gather along `axis` by indices given as a float operand (exact below 2^24), each
    already in range: the output is in_shape[:axis] + index_shape + in_shape[axis + 1:]."""
    kind: ClassVar[str] = "gather"
    in_shape: tuple
    axis: int
    index_shape: tuple

    @property
    def in_shapes(self):
        return (self.in_shape, self.index_shape)

    @property
    def out_shape(self):
        return self.in_shape[:self.axis] + self.index_shape + self.in_shape[self.axis + 1:]


@dataclass(frozen=True)
class Softmax(Problem):
    """Softmax over `axis`; with `flatten` (opsets < 13) over all dims from `axis` on."""
    kind: ClassVar[str] = "softmax"
    shape: tuple
    axis: int
    flatten: bool = False
    log: bool = False

    @property
    def in_shapes(self):
        return (self.shape,)

    @property
    def out_shape(self):
        return self.shape

    @property
    def outer_len_inner(self):
        if self.flatten:
            return numel(self.shape[:self.axis]), numel(self.shape[self.axis:]), 1
        return (numel(self.shape[:self.axis]), self.shape[self.axis],
                numel(self.shape[self.axis + 1:]))

    @property
    def flops(self):
        return 4 * numel(self.shape)


@dataclass(frozen=True)
class Lrn(Problem):
    """Local response normalization across channels (ONNX LRN)."""
    kind: ClassVar[str] = "lrn"
    shape: tuple
    size: int
    alpha: float
    beta: float
    bias: float

    @property
    def in_shapes(self):
        return (self.shape,)

    @property
    def out_shape(self):
        return self.shape

    @property
    def flops(self):
        return numel(self.shape) * (2 * self.size + 4)


@dataclass(frozen=True)
class Pad(Problem):
    """Constant, reflect or edge padding; negative pads crop."""
    kind: ClassVar[str] = "pad"
    in_shape: tuple
    pad_begin: tuple
    pad_end: tuple
    mode: str = "constant"
    value: float = 0.0

    @property
    def in_shapes(self):
        return (self.in_shape,)

    @property
    def out_shape(self):
        return tuple(d + b + e for d, b, e in zip(self.in_shape, self.pad_begin, self.pad_end))


def broadcast_shapes(*shapes):
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        dims = {s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0} - {1}
        if len(dims) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)
