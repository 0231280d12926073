"""Transposed convolution (ConvTranspose) in gather form: a work-item per output pixel and
block of `mb` output channels, which share every input value they read. Its space: mb (the
register block) and the work-group size."""
from __future__ import annotations

from ..ir.problems_upsample import ConvTranspose
from ..ir.views import numel
from .conv_common import local_sizes
from .family import Family
from .templating import KernelSource

BLOCKS = (1, 2, 4, 8)


class ConvTransposeGather(Family):
    name = "convtranspose"
    template = "convtranspose.j2"

    def applies(self, problem) -> bool:
        return isinstance(problem, ConvTranspose)

    def space(self, problem, device) -> dict:
        return {"mb": list(BLOCKS), "local": local_sizes(device, (1, 2, 4, 8, 16, 32, 64,
                                                                  128, 256))}

    def valid(self, problem, device, params) -> bool:
        return ((problem.m // problem.group) % params["mb"] == 0
                and self.group_fits(problem, device, params))

    def work_items(self, problem, params) -> int:
        return numel(problem.out_shape) // params["mb"]

    def default(self, problem, device) -> dict:
        mg = problem.m // problem.group
        mb = max(b for b in BLOCKS if mg % b == 0 and b <= 4)
        return self.with_default_local(problem, device, {"mb": mb})

    def render(self, problem, params, views, lang, dtype: str = "float32") -> KernelSource:
        return KernelSource.make(self.name, self.template, lang, problem, params, list(views),
                                 self.work_items(problem, params), params["local"], dtype=dtype)


FAMILY = ConvTransposeGather()
