"""Kernel families planted to test the tuner (loaded through BODA_FAMILIES, so the tuner's
worker processes have them too). Each applies to 1x1 convolutions:

- planted_wrong: conv_k1's kernel for the layer without its activation, so it is fast and
  wrong; its estimate is the lowest, so the untuned runtime would pick it;
- planted_hang:  a kernel that never finishes.
"""
from __future__ import annotations

import dataclasses

from boda.kernels.conv_k1 import ConvK1
from boda.kernels.templating import KernelSource


class PlantedWrong(ConvK1):
    name = "planted_wrong"

    def render(self, problem, params, views, lang):
        return super().render(dataclasses.replace(problem, act=()), params, views, lang)

    def estimate(self, problem, params, device):
        return 1e-9


class PlantedHang(ConvK1):
    name = "planted_hang"
    transformed = ()

    def space(self, problem, device):
        return {"local": [1]}

    def valid(self, problem, device, params):
        return True

    def default(self, problem, device):
        return {"local": 1}

    def transforms(self, problem, params):
        return {}

    def work_items(self, problem, params):
        return 1

    def estimate(self, problem, params, device):
        return 1.0

    def render(self, problem, params, views, lang):
        source = ("KERNEL void planted_hang_kernel(GLOBAL float* out, GLOBAL const float* x,"
                  " GLOBAL const float* w, GLOBAL const float* b) {\n"
                  "  for (;;) { out[0] += 1.0f; }\n}\n")
        return KernelSource("planted_hang_kernel", source, 1, 1, self.name,
                            tuple(sorted(params.items())))


FAMILIES = [PlantedWrong(), PlantedHang()]
