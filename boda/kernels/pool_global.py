"""Global pooling (the window is the whole input: GlobalAveragePool, GlobalMaxPool, or an
unpadded pool whose window covers its input), one output (n, c) per work-item. Where the
window is contiguous in memory it is reduced vw values at a time, in two vector
accumulators, then lane by lane; else one value at a time. The one-output-per-work-item
`pool` family reduces it one value at a time, which on PoCL turns into gathers across
work-items (SqueezeNet 1.1's 1000-channel 13x13 average: 70 -> 10 us)."""
from __future__ import annotations

from ..ir.problems import Pool
from ..ir.views import numel
from .family import Family
from .templating import KernelSource

VECTOR_WIDTHS = (1, 4, 8, 16)


def window(problem) -> int:
    """Values each output reduces."""
    return numel(problem.in_size)


class PoolGlobal(Family):
    name = "pool_global"
    template = "pool_global.j2"
    efficiency = 0.1  # a vector op per vw loaded values; memory-bound like every pool

    def applies(self, problem) -> bool:
        nsp = len(problem.in_size) if isinstance(problem, Pool) else 0
        return (nsp > 0 and problem.out_size == (1,) * nsp
                and problem.kernel == problem.in_size
                and problem.pad_begin == problem.pad_end == (0,) * nsp
                and problem.dilation == (1,) * nsp)

    def space(self, problem, device) -> dict:
        return {"vw": list(VECTOR_WIDTHS),
                "local": device.profile.group_sizes(device, (1, 4, 16, 64))}

    def valid(self, problem, device, params) -> bool:
        # a group no larger than the work, or the smallest size searched (a GPU's may be
        # wider than a small layer's channels)
        smallest = self.space(problem, device)["local"][0]
        return (params["vw"] <= window(problem)
                and params["local"] <= max(self.work_items(problem, params), smallest))

    def default(self, problem, device) -> dict:
        vw = max(v for v in VECTOR_WIDTHS if 2 * v <= window(problem) or v == 1)
        return self.with_default_local(problem, device, {"vw": vw}, sizes=(1, 4, 16))

    def work_items(self, problem, params) -> int:
        return problem.n * problem.c

    def render(self, problem, params, views, lang,
               dtype: str = "float32") -> KernelSource:
        xin, nsp = views[1], len(problem.in_size)
        contiguous = all(xin.strides[2 + d] == numel(problem.in_size[d + 1:])
                         for d in range(nsp))
        return KernelSource.make(self.name, self.template, lang, problem, params, views,
                                 self.work_items(problem, params), params["local"],
                                 dtype=dtype, count=window(problem), nsp=nsp,
                                 contiguous=contiguous)


FAMILY = PoolGlobal()
