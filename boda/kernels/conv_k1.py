"""1x1 convolution (Boda's k1conv) as a tiled matrix product over channels, vectors along
the pixels: suits layers with many pixels and few output channels (SqueezeNet's squeezes)."""
from __future__ import annotations

from .conv_common import (Geometry, default_vector_width, fit_tile, is_conv2d, local_sizes,
                          vector_widths)
from .conv_gemm import ConvGemm


class ConvK1(ConvGemm):
    """The same tiling as conv_gemm (tm channels x tp flattened pixels per work-item, so the
    same work count, filter re-blocking and launch), with vectors along the pixels."""
    name = "conv_k1"
    template = "conv_k1.j2"
    efficiency = 0.36  # measured on PoCL: the fastest family for 1x1 layers

    def applies(self, problem) -> bool:
        return (is_conv2d(problem) and problem.kernel == (1, 1) and problem.stride == (1, 1)
                and problem.pad_begin == (0, 0) and problem.pad_end == (0, 0))

    def space(self, problem, device) -> dict:
        return {"tm": [1, 2, 4, 8, 12, 16], "vw": vector_widths(device),
                "tp": [1, 2, 4, 8, 16, 32, 64], "ku": [1, 2, 4], "local": local_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        geo = Geometry.of(problem)
        tm, vw, tp = params["tm"], params["vw"], params["tp"]
        if tp % vw or tp > geo.pixels or tm > 2 * geo.mg or params["ku"] > geo.cg:
            return False
        return (device.profile.fits_registers(tm * tp, tm * (tp // vw))
                and self.group_fits(problem, device, params))

    def default(self, problem, device) -> dict:
        geo = Geometry.of(problem)
        widest = default_vector_width(device, 32)
        # at most 16 vectors a row of the tile (a vector width of 1 gets a shorter row)
        tp = max(t for t in (1, 2, 4, 8, 16, 32) if t <= geo.pixels and t <= 16 * widest
                 or t == 1)
        vw = default_vector_width(device, tp)
        tm = max(t for t in (1, 2, 4, 8)
                 if t <= max(geo.mg // 2, 1) and t * (tp // vw) <= 16 or t == 1)
        if device.kind == "cpu" and tm == 8 and tp // vw == 2 and geo.mg >= 256:
            # measured on PoCL (AVX-512): 24 accumulators, one weight broadcast per two
            # vector FMAs, 7% faster on SqueezeNet's 512 -> 1000 classifier
            tm = 12
        tp, tm, vw = fit_tile(device, tp, (1, 2, 4, 8, 16, 32), tm, (1, 2, 4, 8, 12), vw)
        params = {"tm": tm, "vw": vw, "tp": tp, "ku": 1}
        return self.with_default_local(problem, device, params)

    def efficiency_for(self, problem) -> float:
        # its vectors run along the pixels: with fewer pixels than a vector they run empty
        # (a Linear layer as a 1x1 conv of one pixel: 2.3x slower than conv_gemm on PoCL)
        return self.efficiency if Geometry.of(problem).pixels >= 8 else 0.05


FAMILY = ConvK1()
