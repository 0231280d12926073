"""Depthwise 2-D convolution (MobileNet's, EfficientNet's): a th x tw output tile of one
channel per work-item, the filter in registers, each input row segment loaded once for every
output row it feeds. Its space: tw, th and the work-group size."""
from __future__ import annotations

from .conv_common import Geometry, is_conv2d, local_sizes
from .family import Family
from .templating import KernelSource, cdiv

WIDTHS = (1, 2, 4, 8)
HEIGHTS = (1, 2, 4)


def is_depthwise(p) -> bool:
    return is_conv2d(p) and p.group == p.c == p.m and p.group > 1


class ConvDepthwise(Family):
    name = "conv_depthwise"
    template = "conv_depthwise.j2"
    # memory-bound, kh * kw multiply-adds per loaded input: 6-8% of peak on MobileNet's and
    # MobileNetV2's 3x3 depthwise layers on PoCL (0.7% for conv_gemm's, 6% for
    # conv_direct_tiled's on 112x112, less on smaller maps)
    efficiency = 0.08

    def applies(self, problem) -> bool:
        return is_depthwise(problem)

    def efficiency_for(self, problem) -> float:
        # 5x5 filters: 10-60% slower than conv_direct_tiled's defaults on EfficientNet-B0's
        # layers (PoCL), so the estimate leaves those to it untuned
        return self.efficiency if problem.kernel[0] * problem.kernel[1] <= 9 else 0.04

    def space(self, problem, device) -> dict:
        return {"tw": list(WIDTHS), "th": list(HEIGHTS), "local": local_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        geo = Geometry.of(problem)
        tw, th = params["tw"], params["th"]
        regs = tw * th + geo.kh * geo.kw
        return (tw <= geo.ow and th <= geo.oh and device.profile.fits_registers(regs, regs)
                and self.group_fits(problem, device, params))

    def default(self, problem, device) -> dict:
        """Measured on PoCL over MobileNet's and MobileNetV2's depthwise layers: the best
        tile is one row of 8 outputs at stride 1 and of 2 at stride 2, in groups of 8 to
        256 (a row of 8 reads a 10-wide input segment once for 24 multiply-adds a column)."""
        geo = Geometry.of(problem)
        prefer = 8 if geo.sw == 1 else 2
        tw = prefer if prefer <= geo.ow else max(t for t in WIDTHS if t <= geo.ow)
        return self.with_default_local(problem, device, {"tw": tw, "th": 1},
                                       sizes=(1, 2, 4, 8, 16, 32, 64))

    def _tiles(self, problem, params):
        geo = Geometry.of(problem)
        return geo, cdiv(geo.ow, params["tw"]), cdiv(geo.oh, params["th"])

    def work_items(self, problem, params) -> int:
        geo, ntx, nty = self._tiles(problem, params)
        return geo.n * geo.g * ntx * nty

    def render(self, problem, params, views, lang, dtype: str = "float32") -> KernelSource:
        geo, ntx, nty = self._tiles(problem, params)
        return KernelSource.make(self.name, self.template, lang, problem, params, views,
                                 self.work_items(problem, params), params["local"], geo=geo,
                                 ntx=ntx, nty=nty, dtype=dtype)


FAMILY = ConvDepthwise()
