"""1x1 convolution (Boda's k1conv) as a tiled matrix product over channels, vectors along
the pixels: suits layers with many pixels and few output channels (SqueezeNet's squeezes).
Parameters: conv_gemm's (tm, tp, vw, ku, local), and mfirst: whether neighbouring
work-items take the channel tiles of one pixel tile (1) or a pixel tile of each (0)."""
from __future__ import annotations

from .conv_common import (Geometry, default_vector_width, fit_tile, is_conv2d,
                          items_run_alone, local_sizes, vector_widths)
from .conv_gemm import ConvGemm

TM_DEFAULTS = (1, 2, 4, 6, 8, 12)


def input_heavy(problem) -> int:
    """1 where a 1x1 conv's input holds at least twice the values of its output and more
    than its filters (SqueezeNet's squeezes, MobileNetV2's projections), the default for
    mfirst. Measured on PoCL in sequence: channel tiles first there lets each of the two
    threads read its own half of the pixels' inputs, not all of them (SqueezeNet's squeezes
    1.6-1.8x faster: 128 -> 32 at 55x55, 0.19 -> 0.11 ms); where the output outweighs the
    input (the expands), pixel tiles first, storing consecutive pixels, is 1.5x faster; and
    where the filters outweigh it, channel tiles first would stream them once per pixel
    tile (conv_gemm's ResNet-18 256 -> 512 stride-2 layer that way: 0.66 -> 1.88 ms)."""
    inputs = problem.c * problem.in_size[0] * problem.in_size[1]
    filters = problem.m * problem.c // problem.group
    return int(inputs >= 2 * problem.m * problem.out_size[0] * problem.out_size[1]
               and inputs >= filters)


class ConvK1(ConvGemm):
    """The same tiling as conv_gemm (tm channels x tp flattened pixels per work-item, so the
    same work count, filter re-blocking and launch), with vectors along the pixels."""
    name = "conv_k1"
    template = "conv_k1.j2"
    efficiency = 0.36  # measured on PoCL: the fastest family for 1x1 layers

    def applies(self, problem) -> bool:
        return (is_conv2d(problem, residual=True) and problem.kernel == (1, 1)
                and problem.stride == (1, 1) and problem.pad_begin == (0, 0)
                and problem.pad_end == (0, 0))

    def space(self, problem, device) -> dict:
        return {"tm": [1, 2, 4, 6, 8, 12, 16], "vw": vector_widths(device),
                "tp": [1, 2, 4, 8, 16, 32, 64], "ku": [1, 2, 4],
                "mfirst": [0, 1] if items_run_alone(device) else [0],
                "local": local_sizes(device)}

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
        # rows of two vectors on a CPU core (32 pixels with AVX-512, 16 with AVX2), else up
        # to 16 vectors (a vector width of 1 gets a shorter row)
        row = 2 * widest if device.profile.registers else 16 * widest
        tp = max(t for t in (1, 2, 4, 8, 16, 32) if t <= geo.pixels and t <= row or t == 1)
        vw = default_vector_width(device, tp)
        budget = device.profile.default_vectors
        tm = max(t for t in (1, 2, 4, 8)
                 if t <= max(geo.mg // 2, 1) and t * (tp // vw) <= budget or t == 1)
        tp, tm, vw = fit_tile(device, tp, (1, 2, 4, 8, 16, 32), tm, TM_DEFAULTS, vw)
        if device.profile.registers and tp // vw == 2 and 2 * tm == budget and geo.mg >= 256:
            # measured on PoCL: three quarters of the register file in accumulators, one
            # weight broadcast per two vector FMAs, on SqueezeNet's 512 -> 1000 classifier:
            # AVX-512 8 -> 12 channels, 7% faster; AVX2 (Zen 3) 4 -> 6 channels, 1.8 -> 1.6 ms
            tm = tm * 3 // 2
        # on PoCL only: where work-items are SIMD lanes, neighbours must read neighbours
        mfirst = input_heavy(problem) if items_run_alone(device) else 0
        params = {"tm": tm, "vw": vw, "tp": tp, "ku": 1, "mfirst": mfirst}
        return self.with_default_local(problem, device, params)

    def efficiency_for(self, problem, params: dict, device) -> float:
        # its vectors run along the pixels: with fewer pixels than a vector they run empty
        # (a Linear layer as a 1x1 conv of one pixel: 2.3x slower than conv_gemm on PoCL)
        return self.efficiency if Geometry.of(problem).pixels >= 8 else 0.05


FAMILY = ConvK1()
