"""1x1 convolution (Boda's k1conv) as a tiled matrix product over channels, vectors along
the pixels: suits layers with many pixels and few output channels (SqueezeNet's squeezes)."""
from __future__ import annotations

from .base import Family
from .conv_common import (Geometry, default_vector_width, is_conv2d, local_sizes,
                          reblock_filters, vector_widths)
from .templating import KernelSource, cdiv


class ConvK1(Family):
    name = "conv_k1"
    template = "conv_k1.j2"
    efficiency = 0.36  # measured on PoCL: the fastest family for 1x1 layers
    transformed = (1,)

    def applies(self, problem) -> bool:
        return (is_conv2d(problem) and problem.kernel == (1, 1) and problem.stride == (1, 1)
                and problem.pad_begin == (0, 0) and problem.pad_end == (0, 0))

    def space(self, problem, device) -> dict:
        return {"tm": [1, 2, 4, 8, 16], "vw": vector_widths(device),
                "tp": [1, 2, 4, 8, 16, 32, 64], "ku": [1, 2, 4], "local": local_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        geo = Geometry.of(problem)
        tm, vw, tp = params["tm"], params["vw"], params["tp"]
        if tp % vw or tp > geo.pixels or tm > 2 * geo.mg or params["ku"] > geo.cg:
            return False
        return tm * (tp // vw) <= 64 and params["local"] <= self.work_items(problem, params)

    def default(self, problem, device) -> dict:
        geo = Geometry.of(problem)
        tp = max(t for t in (1, 2, 4, 8, 16, 32) if t <= geo.pixels)
        vw = default_vector_width(device, tp)
        tm = max(t for t in (1, 2, 4, 8) if t <= max(geo.mg // 2, 1) and t * (tp // vw) <= 16)
        params = {"tm": tm, "vw": vw, "tp": tp, "ku": 1}
        return self.with_default_local(problem, device, params)

    def work_items(self, problem, params) -> int:
        geo = Geometry.of(problem)
        return geo.n * geo.g * cdiv(geo.mg, params["tm"]) * cdiv(geo.pixels, params["tp"])

    def transforms(self, problem, params) -> dict:
        return {1: reblock_filters(problem, params["tm"])}

    def useful_flops(self, problem, params) -> float:
        geo = Geometry.of(problem)
        return (problem.flops * cdiv(geo.mg, params["tm"]) * params["tm"] / geo.mg
                * cdiv(geo.pixels, params["tp"]) * params["tp"] / geo.pixels)

    def render(self, problem, params, views, lang) -> KernelSource:
        geo = Geometry.of(problem)
        return KernelSource.make(
            self.name, self.template, lang, problem, params, views,
            self.work_items(problem, params), params["local"], geo=geo,
            npt=cdiv(geo.pixels, params["tp"]), nmb=cdiv(geo.mg, params["tm"]),
            mgp=cdiv(geo.mg, params["tm"]) * params["tm"])


FAMILY = ConvK1()
