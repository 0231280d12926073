"""The Problems that grow a feature map: Resize (ONNX Resize and Upsample) and ConvTranspose,
what decoders of segmentation and encoder-decoder networks spend their time on. They build on
problems.Problem like the others (a frozen dataclass whose signature keys the tuning
database)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .problems import Act, Problem
from .views import numel

COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                    "align_corners", "asymmetric", "tf_half_pixel_for_nearest")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


@dataclass(frozen=True)
class Resize(Problem):
    """Nearest or (multi-)linear resampling of every axis whose size or scale changes.

    `scales` are the per-axis factors the coordinate transform divides by (ONNX's: given, or
    out/in when sizes were given); `coord` is ONNX's coordinate_transformation_mode and
    `nearest` its nearest_mode (ignored by linear)."""
    kind: ClassVar[str] = "resize"
    in_shape: tuple
    shape: tuple  # the output shape
    scales: tuple
    mode: str = "nearest"  # "nearest" | "linear"
    coord: str = "half_pixel"
    nearest: str = "round_prefer_floor"

    @property
    def in_shapes(self):
        return (self.in_shape,)

    @property
    def out_shape(self):
        return self.shape

    @property
    def resampled_axes(self) -> tuple:
        """The axes whose output index does not simply equal the input index."""
        return tuple(a for a, (i, o, s) in enumerate(zip(self.in_shape, self.shape,
                                                           self.scales))
                     if not (i == o and s == 1.0 and self.coord != "tf_half_pixel_for_nearest"))

    @property
    def flops(self):
        return numel(self.shape) * (2 ** len(self.resampled_axes) if self.mode == "linear"
                                    else 1)


@dataclass(frozen=True)
class ConvTranspose(Problem):
    """N-d grouped, strided, dilated transposed convolution (the gradient of Conv with
    respect to its input) with optional bias and fused activation. Weights are ONNX's
    (c, m / group, *kernel); `out_size` already includes pads and output_padding."""
    kind: ClassVar[str] = "convtranspose"
    n: int
    c: int
    m: int
    in_size: tuple
    kernel: tuple
    stride: tuple
    pad_begin: tuple
    dilation: tuple
    out_size: tuple
    group: int = 1
    bias: bool = False
    act: Act = ()

    @property
    def in_shapes(self):
        shapes = ((self.n, self.c) + self.in_size, (self.c, self.m // self.group) + self.kernel)
        return shapes + (((self.m,),) if self.bias else ())

    @property
    def out_shape(self):
        return (self.n, self.m) + self.out_size

    @property
    def flops(self):
        return 2 * self.n * self.c * numel(self.in_size) * (self.m // self.group) \
            * numel(self.kernel)


def convtranspose_out_size(in_size, kernel, stride, pad_begin, pad_end, dilation,
                           output_padding):
    return tuple(s * (i - 1) + op + (k - 1) * d + 1 - pb - pe for i, k, s, pb, pe, d, op in
                 zip(in_size, kernel, stride, pad_begin, pad_end, dilation, output_padding))
