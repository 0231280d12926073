"""Implicit GEMM convolution: im2col on the fly, any 2-D stride, padding, dilation, groups.

Parameters: tm output channels x tp output pixels per work-item, held as tm/vw vectors of
width vw per pixel; ku unrolls the input-channel loop; interior: a filter tap at which no
pixel of the tile reads padding runs a loop without bounds checks (PoCL only,
conv_common.items_run_alone); local is the work-group size.
Neighbouring work-items take a pixel tile of each channel tile, or, where a subclass's
mfirst says so (conv_k1), the channel tiles of one pixel tile.
"""
from __future__ import annotations

from ..ir.views import View
from .family import Family
from .conv_common import (Geometry, default_vector_width, fit_tile, is_conv2d,
                          items_run_alone, local_sizes, reblock_filters, vector_widths)
from .templating import KernelSource, cdiv, round_up, tile_waste


class ConvGemm(Family):
    name = "conv_gemm"
    template = "conv_gemm.j2"
    efficiency = 0.3
    transformed = (1,)

    def efficiency_for(self, problem, params: dict, device) -> float:
        # measured on PoCL: with few input channels the per-(kh, kw) pixel setup dominates;
        # depthwise (one channel a group) ran at 0.7% of peak on MobileNet's layers
        cg = problem.c // problem.group
        return self.efficiency if cg >= 8 else 0.15 if cg > 1 else 0.01

    def applies(self, problem) -> bool:
        return is_conv2d(problem, residual=True)

    def space(self, problem, device) -> dict:
        return {"tm": [1, 2, 4, 8, 16, 32, 64], "vw": vector_widths(device),
                "tp": [1, 2, 4, 6, 8, 12, 16], "ku": [1, 2, 4],
                "interior": [1, 0] if items_run_alone(device) else [0],
                "local": local_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        geo = Geometry.of(problem)
        tm, vw, tp = params["tm"], params["vw"], params["tp"]
        if tm % vw or tm > 2 * max(geo.mg, vw) or tp > 2 * geo.pixels:
            return False
        if params["ku"] > geo.cg:
            return False
        # accumulators must fit a register file of about 64 vector registers
        return (device.profile.fits_registers(tm * tp, (tm // vw) * tp)
                and self.group_fits(problem, device, params))

    def default(self, problem, device) -> dict:
        geo = Geometry.of(problem)
        tm = (32 if geo.mg >= 24 else 16 if geo.mg >= 12 else 8 if geo.mg >= 6
              else 4 if geo.mg >= 3 else 1)
        vw = default_vector_width(device, tm)
        tp = max(t for t in (1, 2, 4, 8) if t <= min(4 if tm == 32 else 8, geo.pixels))
        ku = 1
        if device.kind == "cpu" and tm == 32 and vw == 16:
            # measured on PoCL (AVX-512), whole networks timed in sequence: twice the output
            # channels per input value loaded where that pads no more channels (10-15% on
            # SqueezeNet's and ResNet-18's 3x3 layers). (Before the filters were packed, long
            # filter blocks wanted 6 pixels and the channel loop unrolled 4x; packed, that
            # is 1.2x slower on ResNet-18 in sequence: 23.1 vs 19.1 ms.)
            if geo.mg >= 48 and round_up(geo.mg, 64) == round_up(geo.mg, 32):
                tm = 64
        # fewer channels before fewer pixels: measured on PoCL with AVX2 (Zen 3) on
        # SqueezeNet's 3x3 expands, 16 x 4 ran in 0.51 ms where 32 x 2 took 0.64
        tm, tp, vw = fit_tile(device, tm, (1, 2, 4, 8, 16, 32, 64), tp, (1, 2, 4, 6, 8), vw,
                              a_first=True)
        params = {"tm": tm, "vw": vw, "tp": tp, "ku": ku,
                  "interior": int(items_run_alone(device))}
        return self.with_default_local(problem, device, params)

    def work_items(self, problem, params) -> int:
        geo = Geometry.of(problem)
        return geo.n * geo.g * cdiv(geo.mg, params["tm"]) * cdiv(geo.pixels, params["tp"])

    def transforms(self, problem, params) -> dict:
        return {1: reblock_filters(problem, params["tm"], packed=True)}

    def useful_flops(self, problem, params) -> float:
        geo = Geometry.of(problem)
        return (problem.flops * tile_waste(geo.mg, params["tm"])
                * tile_waste(geo.pixels, params["tp"]))

    def render(self, problem, params, views: list[View], lang: str,
               dtype: str = "float32") -> KernelSource:
        geo = Geometry.of(problem)
        return KernelSource.make(
            self.name, self.template, lang, problem, params, views,
            self.work_items(problem, params), params["local"], geo=geo,
            tile_order=tile_order(geo, params), nmb=cdiv(geo.mg, params["tm"]),
            mgp=round_up(geo.mg, params["tm"]), ks=params.get("ks", 1), dtype=dtype)


def tile_order(geo, params) -> list:
    """(index, count) of a work-item's tile indices, the fastest-varying first: channel
    tiles before pixel tiles where params["mfirst"] (conv_k1's)."""
    tiles = [("pt", cdiv(geo.pixels, params["tp"])), ("mb", cdiv(geo.mg, params["tm"]))]
    return (tiles[::-1] if params.get("mfirst") else tiles) + [("g", geo.g), ("n", geo.n)]


class ConvSplitK(ConvGemm):
    """Split-K: the same kernel with a work-group of ks work-items per output tile, each
    summing every ks-th input channel, reduced in local memory. For batch-1 layers with few
    output tiles and many input channels, where one work-item per tile leaves a GPU idle."""
    name = "conv_splitk"
    efficiency = 0.1

    def applies(self, problem) -> bool:
        return is_conv2d(problem, residual=True) and problem.c // problem.group >= 16

    def space(self, problem, device) -> dict:
        return {"tm": [4, 8, 16, 32], "vw": vector_widths(device), "tp": [1, 2, 4, 8],
                # the group is ks wide, narrower than a GPU's subgroup where channels are few
                "ks": [k for k in (2, 4, 8, 16, 32, 64) if k <= device.max_work_group_size]}

    def valid(self, problem, device, params) -> bool:
        geo = Geometry.of(problem)
        tm, vw, tp, ks = params["tm"], params["vw"], params["tp"], params["ks"]
        if tm % vw or tm > 2 * max(geo.mg, vw) or tp > 2 * geo.pixels or ks > geo.cg:
            return False
        return (device.profile.fits_registers(tm * tp, (tm // vw) * tp)
                and 4 * ks * tm * tp <= device.local_mem)

    def usable(self, problem, device) -> bool:
        return 4 * 2 * 4 <= device.local_mem  # the smallest point's reduction buffer

    def default(self, problem, device) -> dict:
        geo = Geometry.of(problem)
        tm = 16 if geo.mg >= 12 else 8 if geo.mg >= 6 else 4
        wanted = max(k for k in (2, 4, 8, 16, 32) if k <= geo.cg // 8 or k == 2)
        sizes = self.space(problem, device)["ks"]
        tm, tp, vw = fit_tile(device, tm, (4, 8, 16), 4 if geo.pixels >= 4 else 1, (1, 2, 4),
                              default_vector_width(device, tm))
        ks = max(k for k in sizes if k <= wanted or k == sizes[0])
        while 4 * ks * tm * tp > device.local_mem:  # the reduction fits local memory
            if tp > 1:
                tp //= 2
            elif ks > sizes[0]:
                ks //= 2
            elif tm > 4:
                tm //= 2
                vw = min(vw, tm)
            else:
                break
        return {"tm": tm, "vw": vw, "tp": tp, "ks": ks}

    def work_items(self, problem, params) -> int:
        return super().work_items(problem, params) * params["ks"]

    def render(self, problem, params, views, lang,
               dtype: str = "float32") -> KernelSource:
        return super().render(problem, dict(params, ku=1, local=params["ks"]), views, lang,
                              dtype)


FAMILY = ConvGemm()
SPLITK = ConvSplitK()
