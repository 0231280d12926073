"""A kernel family planted to test what a compiler crash does (loaded through BODA_FAMILIES):
planted_crash applies to 1x1 convolutions with the lowest estimate, so the untuned runtime
picks it, and its kernel stores through a null pointer, which kills the process that first
launches it: the build process, where PoCL generates machine code."""
from __future__ import annotations

import dataclasses

from boda.kernels.conv_k1 import ConvK1


class PlantedCrash(ConvK1):
    name = "planted_crash"

    def estimate(self, problem, params, device):
        return 1e-9

    def render(self, problem, params, views, lang, dtype="float32"):
        ks = super().render(problem, params, views, lang)
        brace = ks.source.index("{", ks.source.index(ks.name + "("))  # the body's start
        crash = "\n    if (GLOBAL_ID == 0) *(volatile GLOBAL float *)0 = 1.0f;"
        return dataclasses.replace(
            ks, source=ks.source[:brace + 1] + crash + ks.source[brace + 1:])


FAMILIES = [PlantedCrash()]
