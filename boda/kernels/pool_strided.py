"""2-D pooling, vw consecutive outputs of one row per work-item computed as one vector: each
window tap is one vector of the vw inputs it covers for those outputs, spaced by the pool's
stride (stride 2: the even lanes of two loads), reduced lane-wise and stored whole. Where
pool_rows' vectors hold every input and keep one lane in `stride`, these hold only the lanes
that are outputs (measured on PoCL: SqueezeNet's 3x3 stride-2 max pools). Tiles whose
windows leave the input take a scalar path. OpenCL only."""
from __future__ import annotations

from .pool_rows import PoolRows
from .templating import lanewise


class PoolStrided(PoolRows):
    name = "pool_strided"
    template = "pool_strided.j2"

    def applies(self, problem) -> bool:
        return (super().applies(problem) and problem.stride[1] in (1, 2)
                and problem.out_size[1] >= 4
                and lanewise(problem.act))

    def usable(self, problem, device) -> bool:
        return device.backend == "opencl"

    def space(self, problem, device) -> dict:
        return {"vw": [4, 8, 16], "local": self.group_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        return params["vw"] <= problem.out_size[1]

    def default(self, problem, device) -> dict:
        vw = max(v for v in (4, 8, 16) if v <= problem.out_size[1])
        return {"vw": vw, "local": self.default_group(device)}

    def outputs_per_item(self, params) -> int:
        return params["vw"]

    def useful_flops(self, problem, params) -> float:
        return problem.flops / 8  # a vector op per tap for vw outputs


FAMILY = PoolStrided()
