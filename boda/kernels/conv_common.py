"""What the tiled 2-D convolution families share: the layer's geometry as compile-time
constants, filter re-blocking done once at upload, and parameter limits from the device.

Re-blocked filters put output channels innermost and pad them to the channel tile, so a
work-item loads its tile's weights as whole vectors with no bounds checks:
w[m, c, kh, kw] -> wr[g, kh, kw, c, m'] with m' padded up to a multiple of tm. Packed, each
channel tile's weights are one contiguous block, wr[g, m' / tm, kh, kw, c, tm]: a work-item
then streams its weights in order (on PoCL 1.3-1.8x faster for long filter blocks than rows
mg' floats apart, where every step touches a new cache line or page).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.problems import Conv
from .templating import round_up

VECTOR_WIDTHS = (1, 2, 4, 8, 16)


def items_run_alone(device) -> bool:
    """Whether the device runs work-items one at a time on CPU threads (PoCL), not as SIMD
    lanes (GPUs, Mesa's llvmpipe). Per-item branches and tile orders measured to pay on PoCL
    make lanes diverge or gather elsewhere: on llvmpipe they made MobileNetV3-small's build
    take minutes instead of 3 s."""
    return device.kind == "cpu" and not device.software_gpu


def is_conv2d(p, residual: bool = False) -> bool:
    """A 2-D Conv; one with a residual operand only where the family adds it (residual)."""
    return isinstance(p, Conv) and len(p.in_size) == 2 and (residual or not p.residual)


@dataclass(frozen=True)
class Geometry:
    n: int
    g: int
    cg: int   # input channels per group
    mg: int   # output channels per group
    h: int
    w: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int

    @staticmethod
    def of(p: Conv) -> "Geometry":
        (h, w), (oh, ow) = p.in_size, p.out_size
        return Geometry(p.n, p.group, p.c // p.group, p.m // p.group, h, w, oh, ow,
                        *p.kernel, *p.stride, p.pad_begin[0], p.pad_begin[1], *p.dilation)

    @property
    def pixels(self) -> int:
        return self.oh * self.ow

    @property
    def check_h(self) -> bool:
        """Whether some window row falls outside the input (so loads need a bounds check)."""
        return self.ph > 0 or (self.oh - 1) * self.sh - self.ph + (self.kh - 1) * self.dh >= self.h

    @property
    def check_w(self) -> bool:
        return self.pw > 0 or (self.ow - 1) * self.sw - self.pw + (self.kw - 1) * self.dw >= self.w


def reblock_filters(p: Conv, tm: int, packed: bool = False):
    """The upload-time transform w[m, c, kh, kw] -> [g, kh, kw, c, mg padded to tm], or
    packed: [g, mg / tm, kh, kw, c, tm]."""
    geo = Geometry.of(p)
    mgp = round_up(geo.mg, tm)

    def transform(w: np.ndarray) -> np.ndarray:
        w = np.asarray(w, np.float32).reshape(geo.g, geo.mg, geo.cg, geo.kh, geo.kw)
        out = np.zeros((geo.g, geo.kh, geo.kw, geo.cg, mgp), np.float32)
        out[..., :geo.mg] = w.transpose(0, 3, 4, 2, 1)
        if packed:
            out = out.reshape(geo.g, geo.kh, geo.kw, geo.cg, mgp // tm, tm)
            out = np.ascontiguousarray(out.transpose(0, 4, 1, 2, 3, 5))
        return out
    return transform


def vector_widths(device, upto: int = 16) -> list[int]:
    """The float vector widths worth searching on `device` (its vendor profile)."""
    return device.profile.vector_widths_upto(upto)


def default_vector_width(device, tile: int) -> int:
    """The profile's default float vector width, cut to the tile (and to a width we have)."""
    return max(v for v in VECTOR_WIDTHS if v <= min(tile, device.profile.vector_width) or v == 1)


def fit_tile(device, a: int, a_values, b: int, b_values, vw: int, scale: int = 1,
             a_first: bool = False):
    """Shrink a default accumulator tile of scale x a x b floats, vectorized along a by vw,
    until the device profile's default budget holds it (`Profile.fits_default`): b first,
    then a (a first where a_first), each to the next smaller value of its range, keeping vw
    a divisor of a. Returns (a, b, vw)."""
    def smaller(x, values):
        return max((v for v in values if v < x), default=x)
    fits = device.profile.fits_default
    while not fits(scale * a * b, scale * (a // vw) * b):
        if not a_first and smaller(b, b_values) < b:
            b = smaller(b, b_values)
        elif smaller(a, a_values) < a:
            a = smaller(a, a_values)
            vw = min(vw, a)
        elif smaller(b, b_values) < b:
            b = smaller(b, b_values)
        else:
            break
    return a, b, vw


def local_sizes(device, sizes=(1, 2, 4, 8, 16, 32, 64, 128, 256)) -> list[int]:
    """The work-group sizes worth searching on `device` (its vendor profile)."""
    return device.profile.group_sizes(device, sizes)
