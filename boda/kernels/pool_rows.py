"""2-D pooling with a row segment of tw outputs per work-item and unrolled windows; with
vw > 1, interior tiles are reduced on vectors of vw inputs (tw = (vw - 1) // stride + 1)."""
from __future__ import annotations

from ..ir.problems import Pool
from .family import Family
from .conv_common import Geometry, local_sizes
from .templating import KernelSource, cdiv


def _geometry(p: Pool) -> Geometry:
    (h, w), (oh, ow) = p.in_size, p.out_size
    return Geometry(p.n, 1, p.c, p.c, h, w, oh, ow, *p.kernel, *p.stride, *p.pad_begin,
                    *p.dilation)


class PoolRows(Family):
    name = "pool_rows"
    template = "pool_rows.j2"
    efficiency = 0.01  # pooling is memory-bound: a few flops per loaded value

    def applies(self, problem) -> bool:
        return (isinstance(problem, Pool) and len(problem.in_size) == 2
                and problem.kernel[0] * problem.kernel[1] <= 64)

    def space(self, problem, device) -> dict:
        return {"tw": [1, 2, 3, 4, 5, 6, 8, 16], "vw": [1, 4, 8, 16],
                "local": self.group_sizes(device)}

    def group_sizes(self, device) -> list[int]:
        """The work-group sizes searched (the pooling families share them)."""
        return local_sizes(device, (1, 4, 16, 64))

    def default_group(self, device) -> int:
        """The largest searched work-group size up to 16 (or the smallest there is)."""
        sizes = self.group_sizes(device)
        return max(s for s in sizes if s <= 16 or s == sizes[0])

    def valid(self, problem, device, params) -> bool:
        tw, vw = params["tw"], params["vw"]
        if vw > 1 and (tw != (vw - 1) // problem.stride[1] + 1 or vw > problem.in_size[1]):
            return False
        return tw <= max(problem.out_size[1], 1) * 2

    def default(self, problem, device) -> dict:
        local = self.default_group(device)
        w, ow, stride = problem.in_size[1], problem.out_size[1], problem.stride[1]
        for vw in (16, 8, 4):
            tw = (vw - 1) // stride + 1
            if vw <= w and tw <= ow:
                return {"tw": tw, "vw": vw, "local": local}
        return {"tw": max(t for t in (1, 2, 4, 8) if t <= max(ow, 1)), "vw": 1, "local": local}

    def outputs_per_item(self, params) -> int:
        """Outputs of a row per work-item."""
        return params["tw"]

    def work_items(self, problem, params) -> int:
        oh, ow = problem.out_size
        return problem.n * problem.c * oh * cdiv(ow, self.outputs_per_item(params))

    def useful_flops(self, problem, params) -> float:
        return problem.flops / 4  # unrolled windows without per-element index math

    def render(self, problem, params, views, lang,
               dtype: str = "float32") -> KernelSource:
        geo = _geometry(problem)
        return KernelSource.make(self.name, self.template, lang, problem, params, views,
                                 self.work_items(problem, params), params["local"], geo=geo,
                                 ntx=cdiv(problem.out_size[1], self.outputs_per_item(params)),
                                 dtype=dtype, **self.context(geo, params))

    def context(self, geo: Geometry, params) -> dict:
        """Template variables a subclass's template needs besides geo and ntx."""
        return {}


FAMILY = PoolRows()
