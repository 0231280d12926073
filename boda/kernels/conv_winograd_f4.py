"""Winograd F(4x4, 3x3) convolution for 3x3 stride-1 layers.

conv_winograd's scheme (input transforms once per work-group, into local memory; small
GEMMs over them) with 4x4 output tiles and 36 transform points (templates/
conv_winograd_f4.j2): 4x fewer multiplies than direct convolution, where F(2x2, 3x3) has
2.25x, for larger input transforms and, on maps that are not a multiple of 4, more wasted
edge (a 13x13 map computes 16x16). The transforms' constants (up to 8 in A, 1/24 in G)
round more, so its tolerance is looser still.

Measured alone on PoCL (Zen 4, AVX-512), against conv_winograd's default: 0.17-0.20 ms
against 0.20-0.25 on SqueezeNet's 55x55 layer, 0.74-0.76 against 0.88 on ResNet-18's 56x56
one, about even at 27x27 and 13x13 (a noisy machine: the same kernel moved 20% between
rounds). Its estimate treats every PoCL device with 32 vector registers alike, so it is the
untuned choice at 55/56 and 28 wide maps on an Intel Xeon with AVX-512 too, where it loses at
28x28 (ResNet-18: 1.00 ms alone against conv_winograd's 0.75; the shipped Xeon tune serves
the measured choice). Elsewhere it is unmeasured, so its estimate there keeps it from being
the untuned choice: it is a candidate for the tuner.
"""
from __future__ import annotations

import numpy as np

from .conv_common import items_run_alone
from .conv_winograd import POCL_EFFICIENCY, TRANSFORM_FLOPS, ConvWinograd
from .family import TOLERANCE

# G of F(4x4, 3x3) (Lavin and Gray's points 0, +-1, +-2 and infinity)
G4_MATRIX = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                      [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)


class ConvWinogradF4(ConvWinograd):
    name = "conv_winograd_f4"
    template = "conv_winograd_f4.j2"
    tolerance = 16 * TOLERANCE
    efficiency = 0.05  # unmeasured off PoCL with AVX-512: below conv_winograd's 0.1
    tile = 4
    g_matrix = G4_MATRIX
    multiply_cut = 4.0
    # a 6x6 patch: 36 loads, about 150 flops, 36 stores to local memory, for 16 outputs.
    # Measured on the 55x55 layer (kernels with the transforms or the GEMMs left out): its
    # transforms took 0.7x conv_winograd's for a quarter of the tiles, 2.8x a tile
    transform_flops = int(TRANSFORM_FLOPS * 2.8)
    # a chunk's M folded into the outputs: 4 FMAs a point into a row's z, 16 a row into y
    fold_flops = 2 * (36 * 4 + 6 * 16)
    avx2_wide_tile = False

    def live_floats(self, gemm_tile: int, alone: bool) -> int:
        """The GEMMs of a row's 6 points at once (6 tiles tp x tm); on GPUs the 16 outputs
        too."""
        return 6 * gemm_tile if alone else 22 * gemm_tile

    def default_live(self, gemm_tile: int, device) -> int:
        return self.live_floats(gemm_tile, items_run_alone(device))

    def space(self, problem, device) -> dict:
        """conv_winograd's, and tiles of 2 channels: on GPUs the 16 outputs of a tile of 4
        channels overflow the 64 accumulators of the smaller register files."""
        space = super().space(problem, device)
        return dict(space, tm=[2] + space["tm"])

    def default_tiles(self, plane: int, avx2: bool) -> list:
        """2 tiles of one vector of channels: 12 accumulators (measured on the 55x55 and
        56x56 layers above; 4 and 7 tiles ran 5-20% slower)."""
        return [2, 1]

    def efficiency_for(self, problem, params: dict, device) -> float:
        measured = items_run_alone(device) and device.profile.registers >= 32
        return POCL_EFFICIENCY if measured else self.efficiency


FAMILY = ConvWinogradF4()
