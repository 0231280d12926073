"""Winograd F(2x2, 3x3) convolution for 3x3 stride-1 layers.

2.25x fewer multiplies than direct convolution. The filter transform U = G g G^T is done
once at upload; each work-group transforms its tiles' inputs once, into local memory, and
its work-items then run the 16 small GEMMs over them (templates/conv_winograd.j2). Its
rounding differs from direct summation, so its tolerance is looser: the transforms add and
subtract up to 9 products per output, so allow 4x the fp32 bound.
"""
from __future__ import annotations

import numpy as np

from .family import TOLERANCE, Family
from .conv_common import (Geometry, default_vector_width, is_conv2d,
                          items_run_alone, local_sizes, vector_widths)
from .templating import KernelSource, cdiv, round_up, tile_waste

# On PoCL (Zen 4), against useful_flops' count, on the scale of conv_gemm's 0.3: SqueezeNet
# 1.1's and ResNet-18's 3x3 layers ran 1.2-1.5x faster than conv_gemm where the maps are
# 27 to 56 wide
POCL_EFFICIENCY = 0.3
# U is 16/9 the filters' size, and at batch 1 every run reads it from beyond the caches:
# in whole runs of ResNet-18 on PoCL its 14x14 layer (U 4 MiB) took 1.15 ms against
# conv_gemm's 1.09, its 7x7 layer (U 16 MiB) 2-3x conv_gemm's time, though alone it
# was as fast. The estimate reads U at this rate (on the estimate's scale)
FILTER_BYTES_PER_SECOND = 3e9
# Local memory a work-group may use: CUDA's static shared memory limit, and on CPUs about a
# core's L1 data cache (32-48 KiB); channels go through it in chunks of cb
LOCAL_LIMIT = 48 * 1024
CHUNKS = (8, 16, 32, 64, 128, 256)
# One input transform (4x4 loads, 32 adds, 16 stores to local memory, scalar), in GEMM
# flops. Measured on SqueezeNet's 55x55 layer (16 channels in, 64 out) the transforms took
# about as long as the GEMMs (2048 flops a tile and channel); counted at half that, the
# estimate ranks the families as whole runs measured them (its other terms are rough too)
TRANSFORM_FLOPS = 1024

G_MATRIX = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)


def transform_filters(p, tm: int, g_matrix: np.ndarray = G_MATRIX):
    """w[m, c, 3, 3] -> U = G w G^T, packed per channel tile: [g, m / tm, points, c, tm] (m
    padded to tm; points = 16 for F(2x2, 3x3), 36 for F(4x4, 3x3)), so a work-item streams
    each transform point's U in order."""
    geo = Geometry.of(p)
    mgp = round_up(geo.mg, tm)
    points = len(g_matrix) ** 2

    def transform(w: np.ndarray) -> np.ndarray:
        w = np.asarray(w, np.float64).reshape(geo.g, geo.mg, geo.cg, 3, 3)
        u = np.einsum("ij,gmcjk,lk->gilcm", g_matrix, w, g_matrix).reshape(
            geo.g, points, geo.cg, geo.mg)
        out = np.zeros((geo.g, points, geo.cg, mgp), np.float32)
        out[..., :geo.mg] = u
        out = out.reshape(geo.g, points, geo.cg, mgp // tm, tm)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2, 4))
    return transform


class ConvWinograd(Family):
    name = "conv_winograd"
    template = "conv_winograd.j2"
    efficiency = 0.1  # unmeasured off PoCL (the kernel of one work-item per tile measured 0.1)
    tolerance = 4 * TOLERANCE
    transformed = (1,)
    tile = 2  # output tile side: F(tile x tile, 3x3), (tile + 2)^2 transform points
    g_matrix = G_MATRIX
    multiply_cut = 2.25  # direct convolution's multiplies over the GEMMs'
    transform_flops = TRANSFORM_FLOPS
    fold_flops = 36  # GEMM flops of adding one chunk's M into a tile's outputs, a channel
    avx2_wide_tile = True  # the AVX2 default of 2 vectors x 4 tiles (measured on Zen 3)
    # Side by side with a conv_k1 on PoCL 3.0, at work-groups of more than one tile block
    # (local > m / tm), its outputs came out wrong and the process's heap was corrupted
    # (glibc aborted `boda tune`'s race), though alone, and under Oclgrind joined, the
    # same points are right: it runs apart
    joins = False

    def applies(self, problem) -> bool:
        """3x3 stride-1 layers whose input holds an input patch ((tile + 2)^2): the
        template's test for a patch inside the input, `(unsigned)y0 <= h - (tile + 2)`,
        is always true where that is negative (it read past a 3x3 map's end)."""
        return (is_conv2d(problem, residual=True) and problem.kernel == (3, 3)
                and problem.stride == (1, 1) and problem.dilation == (1, 1)
                and min(problem.in_size) >= self.tile + 2)

    @property
    def npoints(self) -> int:
        return (self.tile + 2) ** 2

    def live_floats(self, gemm_tile: int, alone: bool) -> int:
        """Floats a work-item holds in registers across its channel loop, its GEMM tile
        being `gemm_tile`: on GPUs the outputs too (4 per tile and channel) and the GEMM
        tile. On CPU threads (PoCL) the outputs live across barriers, which PoCL keeps in
        memory per work-item anyway, so only the GEMM tile counts: with AVX2 a GEMM tile of 2
        vectors x 4 tiles (outputs 32 vectors) ran 1.1-1.25x faster than the 1 x 4 that
        counting the outputs allowed (SqueezeNet 1.1's 3x3 layers, Zen 3)."""
        return gemm_tile if alone else 5 * gemm_tile

    def default_tiles(self, plane: int, avx2: bool) -> list:
        """The untuned default's tiles a work-item (tp) to try, in order."""
        return ([7] if plane % 7 == 0 and not avx2 else []) + [4, 2, 1]

    def default_live(self, gemm_tile: int, device) -> int:
        """The registers the untuned default's tile is checked against: the outputs and the
        GEMM tile on every device (as measured, with AVX2's exception in `default`)."""
        return 5 * gemm_tile

    def usable(self, problem, device) -> bool:
        """Whether the smallest point is valid: one tile of the fewest channels, the smallest
        channel chunk and work-group (the device's local memory, and on GPUs its registers, which
        F(4x4)'s outputs may overflow)."""
        space = self.space(problem, device)
        smallest = {"tm": min(space["tm"]), "vw": 1, "tp": 1, "cb": min(space["cb"]),
                    "local": min(space["local"])}
        return self.valid(problem, device, smallest)

    def space(self, problem, device) -> dict:
        cg = Geometry.of(problem).cg
        return {"tm": [4, 8, 16, 24, 32, 48], "vw": vector_widths(device), "tp": [1, 2, 4, 7, 8],
                "cb": sorted({cb for cb in CHUNKS if cg % cb == 0 and cb < cg} | {cg}),
                "local": local_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        geo, tiles = Geometry.of(problem), self._tiles(problem, params)
        tm, vw, tp = params["tm"], params["vw"], params["tp"]
        if tm % vw or tm > 2 * max(geo.mg, 4) or tp > tiles["plane"]:
            return False
        live = self.live_floats(tp * tm, items_run_alone(device))
        return (4 * self.npoints * params["cb"] * tiles["gtiles"]
                <= min(device.local_mem, LOCAL_LIMIT)
                and device.profile.fits_registers(live, live // vw)
                and self.group_fits(problem, device, params))

    def default(self, problem, device) -> dict:
        """One vector of channels x 7 tiles where a plane's tiles are a multiple of 7 (56, 28,
        14 and 13 wide maps), else 4 (measured best on PoCL with AVX-512: 0.69-0.78 ms
        against 0.93-1.2 with 4 on ResNet-18's 28x28 and 14x14 layers); work-groups of all
        the tile block's channel blocks, so each tile is transformed once (ResNet-18's
        14x14 layer: 0.71 ms with 16 items a group, 1.65 with 4, which transform each tile
        four times), but at least 2 work-groups per compute unit. With 16 vector registers
        (AVX2), two vectors of channels x 4 tiles, a GEMM tile of half the registers
        (Zen 3, SqueezeNet 1.1's 3x3 layers: 0.53-0.65 ms against 0.63-0.73 for 1 x 4,
        0.63-0.77 for 1 x 7)."""
        geo = Geometry.of(problem)
        vw = default_vector_width(device, 16)
        tm = max(vw, 4) if geo.mg >= 6 else 4
        # measured on AVX2 only; elsewhere the default's tile also leaves the outputs room
        avx2 = (self.avx2_wide_tile and items_run_alone(device)
                and device.profile.registers == 16 and vw == 8)
        if avx2 and geo.mg >= 2 * tm:
            tm *= 2
        plane = cdiv(geo.oh, self.tile) * cdiv(geo.ow, self.tile)
        space = self.space(problem, device)
        sizes, chunks = space["local"], space["cb"]
        groups_needed = 2 * max(device.compute_units, 1)
        for tp in self.default_tiles(plane, avx2):
            for tm_, vw_ in ((tm, min(vw, tm)), (4, min(vw, 4)), (4, 1)):
                nmb = cdiv(geo.mg, tm_)
                live = self.default_live(tp * tm_, device)
                if not (avx2 or device.profile.fits_registers(live, live // vw_)):
                    continue
                for local in sorted(sizes, reverse=True):
                    if nmb % local:  # a group holds one block's channel blocks, or a share
                        continue
                    params = {"tm": tm_, "vw": vw_, "tp": tp, "local": local}
                    fits = [cb for cb in chunks if self.valid(problem, device,
                                                              dict(params, cb=cb))]
                    groups = cdiv(self.work_items(problem, params), local)
                    if fits and (groups >= groups_needed or local == sizes[0]):
                        return dict(params, cb=fits[-1])  # the largest chunk that fits
        return next(self.points(problem, device))

    def _tiles(self, problem, params) -> dict:
        """The tile counts: output tiles (tile x tile) per row (ntx) and column (nty) of a
        plane, tiles a plane holds (plane), blocks of tp tiles a plane holds (nblk), channel
        blocks (nmb), and the tile slots a work-group's local memory holds (gtiles: tp for
        each tile block its items may touch)."""
        geo = Geometry.of(problem)
        ntx, nty = cdiv(geo.ow, self.tile), cdiv(geo.oh, self.tile)
        nmb, local = cdiv(geo.mg, params["tm"]), params.get("local", 1)
        aligned = local % nmb == 0 or nmb % local == 0
        blocks = (local - 1) // nmb + (1 if aligned else 2)
        return {"ntx": ntx, "nty": nty, "plane": ntx * nty, "nmb": nmb,
                "nblk": cdiv(ntx * nty, params["tp"]), "gtiles": params["tp"] * blocks}

    def work_items(self, problem, params) -> int:
        geo, tiles = Geometry.of(problem), self._tiles(problem, params)
        return geo.n * geo.g * tiles["nblk"] * tiles["nmb"]

    def transforms(self, problem, params) -> dict:
        return {1: transform_filters(problem, params["tm"], self.g_matrix)}

    def useful_flops(self, problem, params) -> float:
        """The GEMMs' flops, the input transforms' in flops of the same cost (work-groups
        that share a tile block each transform it), and the adds of each chunk's M into the
        outputs (fold_flops per tile and channel)."""
        geo, tiles = Geometry.of(problem), self._tiles(problem, params)
        gemm = (problem.flops / self.multiply_cut * tile_waste(geo.mg, params["tm"])
                * tile_waste(geo.oh, self.tile) * tile_waste(geo.ow, self.tile)
                * tile_waste(tiles["plane"], params["tp"]))
        groups = cdiv(self.work_items(problem, params), params.get("local", 1))
        chunk_updates = (self.fold_flops * params["tp"] * params["tm"]
                         * (geo.cg // params["cb"]))
        return (gemm + self.transform_flops * geo.cg * groups * tiles["gtiles"]
                + chunk_updates * self.work_items(problem, params))

    def estimate(self, problem, params: dict, device) -> float:
        geo = Geometry.of(problem)
        filter_bytes = 4 * geo.g * self.npoints * geo.cg * round_up(geo.mg, params["tm"])
        return super().estimate(problem, params, device) + filter_bytes / FILTER_BYTES_PER_SECOND

    def efficiency_for(self, problem, params: dict, device) -> float:
        return POCL_EFFICIENCY if items_run_alone(device) else self.efficiency

    def render(self, problem, params, views, lang,
               dtype: str = "float32") -> KernelSource:
        geo = Geometry.of(problem)
        return KernelSource.make(
            self.name, self.template, lang, problem, params, views,
            self.work_items(problem, params), params["local"], geo=geo,
            **self._tiles(problem, params), mgp=round_up(geo.mg, params["tm"]), dtype=dtype)


FAMILY = ConvWinograd()
