"""Gemm / MatMul (fully connected layers), register-tiled: tm rows x tn columns per
work-item, vectors of vw along the columns."""
from __future__ import annotations

from ..ir.views import numel
from ..ir.problems import MatMul
from .family import Family
from .conv_common import default_vector_width, local_sizes, vector_widths
from .matmul import adapt_views
from .templating import KernelSource, cdiv, tile_waste


class MatMulTiled(Family):
    name = "matmul_tiled"
    template = "matmul_tiled.j2"
    efficiency = 0.2

    def applies(self, problem) -> bool:
        return (isinstance(problem, MatMul) and len(problem.a_shape) >= 2
                and len(problem.b_shape) >= 2)

    def space(self, problem, device) -> dict:
        return {"tm": [1, 2, 4, 8], "vw": vector_widths(device), "tn": [1, 2, 4, 8, 16, 32],
                "local": local_sizes(device, (1, 4, 16, 64))}

    def valid(self, problem, device, params) -> bool:
        tm, vw, tn = params["tm"], params["vw"], params["tn"]
        return (tn % vw == 0 and tm <= problem.m and tn <= problem.n
                and tm * (tn // vw) <= 32
                and self.group_fits(problem, device, params))

    def default(self, problem, device) -> dict:
        tm = max(t for t in (1, 2, 4) if t <= problem.m)
        tn = max(t for t in (1, 2, 4, 8, 16) if t <= problem.n)
        while True:  # narrower tiles until there is work for the smallest group searched
            params = {"tm": tm, "vw": default_vector_width(device, tn), "tn": tn}
            params = self.with_default_local(problem, device, params, (1, 4, 16))
            if tn == 1 or self.valid(problem, device, params):
                return params
            tn //= 2

    def work_items(self, problem, params) -> int:
        return (numel(problem.batch) * cdiv(problem.m, params["tm"])
                * cdiv(problem.n, params["tn"]))

    def useful_flops(self, problem, params) -> float:
        return (problem.flops * tile_waste(problem.m, params["tm"])
                * tile_waste(problem.n, params["tn"]))

    def render(self, problem, params, views, lang,
               dtype: str = "float32") -> KernelSource:
        return KernelSource.make(
            self.name, self.template, lang, problem, params, adapt_views(problem, list(views)),
            self.work_items(problem, params), params["local"],
            nti=cdiv(problem.m, params["tm"]), ntj=cdiv(problem.n, params["tn"]), dtype=dtype)


FAMILY = MatMulTiled()
