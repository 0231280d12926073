"""Direct convolution, register-tiled: tw outputs of a row x tm channels per work-item, input
row segments reused across filter columns, filters optionally staged in local memory."""
from __future__ import annotations

from .family import Family
from .conv_common import (Geometry, default_vector_width, fit_tile, is_conv2d,
                          items_run_alone, local_sizes, reblock_filters, vector_widths)
from .templating import KernelSource, cdiv, round_up, tile_waste

CHANNEL_BLOCKS = (4, 8, 16, 32)
WHOLE_ROW_EFFICIENCY = 0.4  # above conv_gemm's 0.3 where whole_rows holds


def whole_rows(problem, device) -> bool:
    """Deep 3x3 stride-1 layers on maps 6 or 7 wide, on CPU threads with 16 vector
    registers: a tile of one whole row x one vector of channels beats conv_gemm, whose
    4-pixel tiles straddle rows there. On PoCL (Zen 3, AVX2), 512 -> 512 channels: 7x7
    2.5-2.8 ms against 3.8-4.8, 6x6 1.96 against 2.46; 256 -> 256 at 7x7 0.66 against 1.05.
    Not at 8x8 (3.6 against 3.0) or 4x4, whose rows the 4-pixel tiles divide, nor on 13x13
    or 14x14 maps, nor at stride 2. Not with AVX-512's 32 registers, where conv_gemm's tile
    is twice as deep (Zen 5, 512 -> 512 at 7x7: 1.18 ms against conv_gemm's 0.81-0.90)."""
    geo = Geometry.of(problem)
    return (items_run_alone(device) and 0 < device.profile.registers <= 16
            and problem.kernel == (3, 3) and problem.stride == (1, 1)
            and problem.dilation == (1, 1) and geo.ow in (6, 7) and geo.cg >= 128)


class ConvDirectTiled(Family):
    name = "conv_direct_tiled"
    template = "conv_direct_tiled.j2"
    efficiency = 0.25
    transformed = (1,)

    def applies(self, problem) -> bool:
        return is_conv2d(problem, residual=True)

    def efficiency_for(self, problem, params: dict, device) -> float:
        if whole_rows(problem, device) and params["tw"] == Geometry.of(problem).ow:
            return WHOLE_ROW_EFFICIENCY
        return self.efficiency

    def space(self, problem, device) -> dict:
        return {"tm": [4, 8, 16, 32], "vw": vector_widths(device), "tw": [1, 2, 4, 6, 7, 8],
                "lmem": [0, 1] if device.profile.local_memory else [0],
                "cb": list(CHANNEL_BLOCKS),
                # tiles whose window lies inside the input skip the bounds checks (PoCL)
                "interior": [1, 0] if items_run_alone(device) else [0],
                "local": local_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        geo = Geometry.of(problem)
        tm, vw, tw = params["tm"], params["vw"], params["tw"]
        if tm % vw or tm > 2 * max(geo.mg, 4) or tw > geo.ow:
            return False
        if not params["lmem"] and params["cb"] != CHANNEL_BLOCKS[0]:
            return False  # cb only matters when staging: one point stands for all
        if params["lmem"] and (4 * geo.kh * geo.kw * params["cb"] * tm > device.local_mem
                               or params["cb"] > 2 * geo.cg):
            return False
        return (device.profile.fits_registers(tm * tw, (tm // vw) * tw)
                and self.group_fits(problem, device, params))

    def default(self, problem, device) -> dict:
        geo = Geometry.of(problem)
        tm = 32 if geo.mg >= 24 and geo.cg >= 8 else 16 if geo.mg >= 12 else 8 if geo.mg >= 6 else 4
        tw = max(t for t in ((1, 2, 4, 6) if tm == 32 else (1, 2, 4, 8)) if t <= geo.ow)
        if items_run_alone(device) and geo.mg >= 24 and geo.ow >= 8:
            # measured on PoCL (AVX-512), rows stored as whole vectors: 32 channels x 8
            # pixels, also with few input channels (SqueezeNet's first layer 0.35 -> 0.25 ms);
            # not on llvmpipe, whose builds of such tiles took 10-25 s each. Two vectors of
            # channels: with AVX2 (8 floats, 16 registers) 16 x 8, which fit_tile cuts to
            # 16 x 4 (Zen 3: 0.46-0.58 ms, against 0.64-0.69 for 8 x 8 and 32 x 2)
            tm, tw = min(32, max(4, 2 * default_vector_width(device, 32))), 8
        if whole_rows(problem, device):
            tm, tw = max(4, default_vector_width(device, 32)), geo.ow
        tm, tw, vw = fit_tile(device, tm, (4, 8, 16, 32), tw, (1, 2, 4, 6, 7, 8),
                              default_vector_width(device, tm))
        if device.software_gpu and tm * tw > 32:  # llvmpipe: 16 x 4 took 16 s to build
            tw = max([t for t in (1, 2, 4) if tm * t <= 32 and t <= tw] or [1])
        params = {"tm": tm, "vw": vw, "tw": tw, "lmem": 0, "cb": CHANNEL_BLOCKS[0],
                  "interior": int(items_run_alone(device))}
        return self.with_default_local(problem, device, params)

    def _tiles(self, problem, params):
        geo = Geometry.of(problem)
        ntx = cdiv(geo.ow, params["tw"])
        npt = geo.oh * ntx
        nptp = round_up(npt, params["local"]) if params["lmem"] else npt
        return geo, ntx, npt, nptp

    def work_items(self, problem, params) -> int:
        geo, _, _, nptp = self._tiles(problem, params)
        return geo.n * geo.g * cdiv(geo.mg, params["tm"]) * nptp

    def transforms(self, problem, params) -> dict:
        return {1: reblock_filters(problem, params["tm"], packed=True)}

    def useful_flops(self, problem, params) -> float:
        geo = Geometry.of(problem)
        reuse = 1.0 if geo.kw > 1 else 1.4  # a 1x1 filter reuses nothing along the row
        return (reuse * problem.flops * tile_waste(geo.mg, params["tm"])
                * tile_waste(geo.ow, params["tw"]))

    def render(self, problem, params, views, lang,
               dtype: str = "float32") -> KernelSource:
        geo, ntx, npt, nptp = self._tiles(problem, params)
        return KernelSource.make(
            self.name, self.template, lang, problem, params, views,
            self.work_items(problem, params), params["local"], geo=geo, ntx=ntx, npt=npt,
            nptp=nptp, nmb=cdiv(geo.mg, params["tm"]),
            mgp=round_up(geo.mg, params["tm"]), dtype=dtype)


FAMILY = ConvDirectTiled()
