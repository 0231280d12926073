"""The Problems that reduce: Reduce (ONNX's Reduce* ops and ArgMax/ArgMin over any axes),
TopK (a classifier head's k best), and Norm (InstanceNormalization and LayerNormalization,
which reduce then rescale). Reduce over
the spatial axes with mean or max is a global pool (problems.Pool) instead."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .problems import Problem
from .views import numel

REDUCE_MODES = ("sum", "mean", "max", "min", "prod", "l1", "l2", "sumsquare", "logsum",
                "logsumexp", "argmax", "argmin", "invstddev")


@dataclass(frozen=True)
class Reduce(Problem):
    """Reduce `axes` of `in_shape`; the output keeps them as size 1 (a keepdims=0 output is a
    view of it). argmax/argmin write the index (as a float) of the first extreme, or with
    `last` of the last one; invstddev is 1 / sqrt(variance + epsilon) (LayerNormalization's
    third output)."""
    kind: ClassVar[str] = "reduce"
    mode: str
    in_shape: tuple
    axes: tuple
    last: bool = False
    epsilon: float = 0.0

    @property
    def in_shapes(self):
        return (self.in_shape,)

    @property
    def out_shape(self):
        return tuple(1 if a in self.axes else d for a, d in enumerate(self.in_shape))

    @property
    def flops(self):
        return numel(self.in_shape)


@dataclass(frozen=True)
class Norm(Problem):
    """(x - mean) / sqrt(var + epsilon) * scale + bias, the statistics taken over the axes
    from `axis` on. `instance`: ONNX InstanceNormalization (axis 2, scale and bias of shape
    (C,)); else LayerNormalization (scale, and bias if `bias`, broadcast to the
    normalized axes; bias_shape None when there is no bias)."""
    kind: ClassVar[str] = "norm"
    shape: tuple
    axis: int
    epsilon: float
    instance: bool = False
    scale_shape: tuple = ()
    bias_shape: tuple | None = None

    @property
    def in_shapes(self):
        return (self.shape, self.scale_shape) + (
            () if self.bias_shape is None else (self.bias_shape,))

    @property
    def out_shape(self):
        return self.shape

    @property
    def groups(self) -> int:
        return numel(self.shape[:self.axis])

    @property
    def group_size(self) -> int:
        return numel(self.shape[self.axis:])

    @property
    def flops(self):
        return 6 * numel(self.shape)


@dataclass(frozen=True)
class TopK(Problem):
    """The k largest (or smallest) along `axis`, best first, ties to the lower index; the
    values, or with `indices` their positions (as floats)."""
    kind: ClassVar[str] = "topk"
    shape: tuple
    axis: int
    k: int
    largest: bool = True
    indices: bool = False

    @property
    def in_shapes(self):
        return (self.shape,)

    @property
    def out_shape(self):
        return self.shape[:self.axis] + (self.k,) + self.shape[self.axis + 1:]

    @property
    def rows(self) -> int:
        return numel(self.shape) // self.shape[self.axis]

    @property
    def flops(self):
        return numel(self.shape) * self.k
