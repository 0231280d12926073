"""Implicit GEMM convolution over a panel of pixel tiles: conv_gemm's tile, but a work-item
computes `panel` pixel tiles of one channel tile and walks the filters once, in chunks of
kc input channels per filter tap, the panel's accumulators kept in a private array between
chunks (templates/conv_gemm_panel.j2).

Why: conv_gemm reads a channel tile's whole filter block once per pixel tile. Alone, warm,
those reads hit the cache. Inside a whole network a deep layer's filters have been pushed
out by the other layers' (ResNet-18's 7x7 512-channel convs hold 9.4 MB each), so
conv_gemm's first pixel tile of each channel tile waits on memory for its whole filter block.
Measured on a 2-core Intel Xeon (PoCL): conv_gemm's tuned 64 x 4 tile on those layers took
1.11 ms alone and 1.75 ms inside runs; 1.37 ms once 12 MB of other layers' filters had run
between two of its launches. A panel spreads the filter stream over the whole kernel and
reads each filter block from L1 for the panel's other tiles: 0.92-0.95x conv_gemm's time
on those layers in runs, 0.87-0.94x alone.

Parameters: conv_gemm's (tm, vw, tp, ku is not used, interior, local), panel (pixel tiles
per work-item) and kc (input channels per chunk). The panel's accumulators are limited to
PANEL_BYTES, so they stay in L1 with the chunk's filters. CPUs only: on a GPU a private
array this large lives in slow memory (Oclgrind, a simulator, runs it for its checks).
"""
from __future__ import annotations

from .conv_common import Geometry
from .conv_gemm import ConvGemm
from .templating import KernelSource, cdiv, round_up

PANEL_BYTES = 16384  # the panel's accumulators: a third of a 48 KB L1, a half of 32 KB
# Filters this large come from memory inside whole runs, where the panel pays (measured on
# the Intel Xeon, benchmarks/layers_in_runs.py, two engines a kernel in mirrored order:
# ResNet-18's three 9.4 MB layers 0.92-0.95x conv_gemm's time in runs, 0.87-0.94x alone;
# at 2.4 MB a layer (14x14, 256 channels) and 2 MB (SqueezeNet's classifier) 0-20% slower)
FROM_MEMORY = 8 << 20
PANELS = (2, 4, 8, 16, 32)
CHUNKS = (16, 32, 64, 128)


class ConvGemmPanel(ConvGemm):
    name = "conv_gemm_panel"
    template = "conv_gemm_panel.j2"

    def efficiency_for(self, problem, params: dict, device) -> float:
        """conv_gemm's share of peak, higher where the filters come from memory inside runs
        (FROM_MEMORY), lower elsewhere: the untuned choice only there."""
        share = super().efficiency_for(problem, params, device)
        kh, kw = problem.kernel
        filters = 4 * problem.m * (problem.c // problem.group) * kh * kw
        return share * (1.2 if filters >= FROM_MEMORY else 0.8)

    def usable(self, problem, device) -> bool:
        # and Oclgrind, whose memory and race checks every family passes (tests)
        return device.kind == "cpu" or device.simulator

    def space(self, problem, device) -> dict:
        space = super().space(problem, device)
        del space["ku"]
        return dict(space, panel=list(PANELS), kc=list(CHUNKS))

    def valid(self, problem, device, params) -> bool:
        geo = Geometry.of(problem)
        tiles = cdiv(geo.pixels, params["tp"])
        # no panel wider than the pixel tiles (but the first that holds them all), no chunk
        # past the channels (but the first)
        if params["panel"] > min([p for p in PANELS if p >= tiles] or [tiles]) or (
                params["kc"] > geo.cg and params["kc"] != CHUNKS[0]):
            return False
        if 4 * params["panel"] * params["tp"] * params["tm"] > PANEL_BYTES:
            return False
        return super().valid(problem, device, dict(params, ku=1))

    def default(self, problem, device) -> dict:
        """conv_gemm's tile, the widest panel that fits PANEL_BYTES and the pixels, and
        chunks of 32 channels (8 KB of filters at tm 64; inside ResNet-18's runs on the
        Xeon 16 and 64 were no faster)."""
        geo = Geometry.of(problem)
        params = super().default(problem, device)
        del params["ku"]
        fits = [p for p in PANELS
                if self.valid(problem, device, dict(params, panel=p, kc=CHUNKS[0]))]
        params["panel"] = max(fits or [PANELS[0]])
        params["kc"] = max(c for c in CHUNKS if c <= max(geo.cg, CHUNKS[0]) and c <= 32)
        return self.with_default_local(problem, device, params)

    def work_items(self, problem, params) -> int:
        geo = Geometry.of(problem)
        panels = cdiv(cdiv(geo.pixels, params["tp"]), params.get("panel", 1))
        return geo.n * geo.g * cdiv(geo.mg, params["tm"]) * panels

    def render(self, problem, params, views, lang: str,
               dtype: str = "float32") -> KernelSource:
        geo = Geometry.of(problem)
        npt = cdiv(geo.pixels, params["tp"])
        order = [("pn", cdiv(npt, params["panel"])), ("mb", cdiv(geo.mg, params["tm"])),
                 ("g", geo.g), ("n", geo.n)]
        return KernelSource.make(
            self.name, self.template, lang, problem, params, views,
            self.work_items(problem, params), params["local"], geo=geo, tile_order=order,
            nmb=cdiv(geo.mg, params["tm"]), mgp=round_up(geo.mg, params["tm"]), npt=npt,
            dtype=dtype)


FAMILY = ConvGemmPanel()
