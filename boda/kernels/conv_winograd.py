"""Winograd F(2x2, 3x3) convolution for 3x3 stride-1 layers.

2.25x fewer multiplies than direct convolution; the filter transform U = G g G^T is done
once at upload. Its rounding differs from direct summation, so its tolerance is looser:
the transforms add and subtract up to 9 products per output, so allow 4x the fp32 bound.
"""
from __future__ import annotations

import numpy as np

from .family import TOLERANCE, Family
from .conv_common import (Geometry, default_vector_width, fit_tile, is_conv2d, local_sizes,
                          vector_widths)
from .templating import KernelSource, cdiv, round_up, tile_waste

G_MATRIX = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)


def transform_filters(p, tm: int):
    """w[m, c, 3, 3] -> U = G w G^T, packed per channel tile: [g, m / tm, c, 16, tm] (m padded
    to tm), so a work-item streams its tile's U in order."""
    geo = Geometry.of(p)
    mgp = round_up(geo.mg, tm)

    def transform(w: np.ndarray) -> np.ndarray:
        w = np.asarray(w, np.float64).reshape(geo.g, geo.mg, geo.cg, 3, 3)
        u = np.einsum("ij,gmcjk,lk->gcilm", G_MATRIX, w, G_MATRIX).reshape(
            geo.g, geo.cg, 16, geo.mg)
        out = np.zeros((geo.g, geo.cg, 16, mgp), np.float32)
        out[..., :geo.mg] = u
        out = out.reshape(geo.g, geo.cg, 16, mgp // tm, tm)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2, 4))
    return transform


class ConvWinograd(Family):
    name = "conv_winograd"
    template = "conv_winograd.j2"
    efficiency = 0.1  # measured on PoCL: about 0.45x conv_gemm per multiply
    tolerance = 4 * TOLERANCE
    transformed = (1,)

    def applies(self, problem) -> bool:
        return (is_conv2d(problem) and problem.kernel == (3, 3) and problem.stride == (1, 1)
                and problem.dilation == (1, 1))

    def space(self, problem, device) -> dict:
        return {"tm": [4, 8, 16, 32], "vw": vector_widths(device), "tt": [1, 2],
                "local": local_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        geo = Geometry.of(problem)
        tm, vw = params["tm"], params["vw"]
        if tm % vw or tm > 2 * max(geo.mg, 4) or 2 * params["tt"] > geo.ow + 1:
            return False
        tile = 16 * params["tt"] * tm
        return (device.profile.fits_registers(tile, tile // vw)
                and self.group_fits(problem, device, params))

    def default(self, problem, device) -> dict:
        geo = Geometry.of(problem)
        tm = 16 if geo.mg >= 12 else 8 if geo.mg >= 6 else 4
        tm, _, vw = fit_tile(device, tm, (4, 8, 16, 32), 1, (1,),
                             default_vector_width(device, tm), scale=16)
        params = {"tm": tm, "vw": vw, "tt": 1}
        return self.with_default_local(problem, device, params)

    def work_items(self, problem, params) -> int:
        geo = Geometry.of(problem)
        return (geo.n * geo.g * cdiv(geo.mg, params["tm"]) * cdiv(geo.oh, 2)
                * cdiv(geo.ow, 2 * params["tt"]))

    def transforms(self, problem, params) -> dict:
        return {1: transform_filters(problem, params["tm"])}

    def useful_flops(self, problem, params) -> float:
        geo = Geometry.of(problem)
        return (problem.flops / 2.25 * tile_waste(geo.mg, params["tm"])
                * tile_waste(geo.oh, 2) * tile_waste(geo.ow, 2 * params["tt"]))

    def render(self, problem, params, views, lang,
               dtype: str = "float32") -> KernelSource:
        geo = Geometry.of(problem)
        return KernelSource.make(
            self.name, self.template, lang, problem, params, views,
            self.work_items(problem, params), params["local"], geo=geo,
            ntx=cdiv(geo.ow, 2 * params["tt"]), nty=cdiv(geo.oh, 2),
            nmb=cdiv(geo.mg, params["tm"]), mgp=round_up(geo.mg, params["tm"]), dtype=dtype)


FAMILY = ConvWinograd()
