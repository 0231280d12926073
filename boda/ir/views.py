"""Tensor views: where a tensor's elements live inside a device buffer.

A view is an element offset plus one stride per dimension. Contiguous row-major is the common
case; a channel slice of a concat output, a broadcast (zero stride) or a permutation of
another view are the others. Kernels receive views as compile-time constants, so a kernel
writing into its slice of a concat output costs nothing over a plain store.
"""
from __future__ import annotations

from dataclasses import dataclass


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, acc = [], 1
    for dim in reversed(shape):
        strides.append(acc)
        acc *= dim
    return tuple(reversed(strides))


def numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


@dataclass(frozen=True)
class View:
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int = 0

    @staticmethod
    def contiguous(shape, offset: int = 0) -> "View":
        shape = tuple(int(d) for d in shape)
        return View(shape, contiguous_strides(shape), offset)

    @property
    def is_contiguous(self) -> bool:
        return all(s == c for s, c, d in zip(self.strides, contiguous_strides(self.shape), self.shape)
                   if d != 1)

    def slice(self, axis: int, start: int, shape: tuple[int, ...]) -> "View":
        """The sub-view of `shape` starting at index `start` along `axis` (same strides)."""
        return View(tuple(shape), self.strides, self.offset + start * self.strides[axis])

    def window(self, starts, steps, shape) -> "View":
        """Every steps[i]-th element from starts[i] along each axis, `shape` of them (a
        negative step walks backwards): a Slice or a Split output, as a view of its input."""
        return View(tuple(shape), tuple(s * k for s, k in zip(self.strides, steps)),
                    self.offset + sum(a * s for a, s in zip(starts, self.strides)))

    def permute(self, perm) -> "View":
        return View(tuple(self.shape[p] for p in perm), tuple(self.strides[p] for p in perm),
                    self.offset)

    def broadcast_to(self, shape) -> "View":
        """Numpy broadcasting: missing leading dims and size-1 dims get stride 0."""
        shape = tuple(shape)
        pad = len(shape) - len(self.shape)
        own = (1,) * pad + self.shape
        strides = (0,) * pad + self.strides
        return View(shape, tuple(0 if o == 1 and s != 1 else st
                                 for o, s, st in zip(own, shape, strides)), self.offset)

    def reshape(self, shape) -> "View":
        """A contiguous view reshaped; callers check is_contiguous first."""
        assert self.is_contiguous
        return View.contiguous(shape, self.offset)

    @property
    def extent(self) -> int:
        """One past the largest element index the view touches."""
        if numel(self.shape) == 0:
            return self.offset
        return self.offset + sum((d - 1) * s for d, s in zip(self.shape, self.strides)
                                 if s > 0) + 1
