"""2-D pooling, vw consecutive outputs of one row per work-item computed as one vector: each
window tap is one vector of the vw inputs it covers for those outputs, spaced by the pool's
stride (stride 2: every other lane of two loads), reduced lane-wise and stored whole. Where
pool_rows' vectors hold every input and keep one lane in `stride`, these hold only the lanes
that are outputs (measured on PoCL: SqueezeNet's 3x3 stride-2 max pools). On padded rows
the first and last tiles move in to the outputs whose windows lie inside the row, and the
outputs beside the padding take a scalar path (all of a row, where the row's inside holds
fewer than vw outputs). OpenCL only.

The window's rows are reduced first, on whole loads, and the taps picked out of the row
reductions after: as max and sum act lane by lane, that is the same result with one shuffle
per tap instead of one per tap and row. At stride 2 neighbouring taps share their loads, and
the tap two inputs on is the tap before it moved down one lane, with one more input (a
scalar read) in its last lane: a 3-wide window reads 2 vectors and a scalar a row, not 4
vectors. With `whole`, a work-item computes every tile of its output row, not one (fewer
work-items, each index computed once a row). Both measured on SqueezeNet 1.1's first max pool
(64 x 111 x 111, PoCL, Zen 4): 0.040 ms at 8 wide, against 0.086 for the tuned point of 4
loads a row and a tile an item (16 wide)."""
from __future__ import annotations

from .pool_rows import PoolRows
from .templating import cdiv, lanewise


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
        return {"vw": [4, 8, 16], "whole": [0, 1], "local": self.group_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        return params["vw"] <= problem.out_size[1]

    def default(self, problem, device) -> dict:
        # 8 wide, whole rows: SqueezeNet's and ResNet's max pools on a Zen 4 took 0.78-0.90x
        # the time of 16 wide (0.04 against 0.048 ms on the 64 x 111 x 111 one)
        vw = max(v for v in (4, 8) if v <= problem.out_size[1])
        return {"vw": vw, "whole": 1, "local": self.default_group(device)}

    def outputs_per_item(self, params) -> int:
        """Outputs of a row per tile (a work-item runs one tile, or with `whole` them all)."""
        return params["vw"]

    def work_items(self, problem, params) -> int:
        items = super().work_items(problem, params)
        return items // cdiv(problem.out_size[1], params["vw"]) if params.get("whole") else items

    def useful_flops(self, problem, params) -> float:
        return problem.flops / 8  # a vector op per tap for vw outputs

    def context(self, geo, params) -> dict:
        vw = params["vw"]
        loads, taps, extras = row_loads(geo.kw, geo.dw, geo.sw, vw)
        # the outputs whose windows lie inside the row, if a vector of them does and the
        # outputs beside them on each side are few enough for the scalar path's vw
        lo = -(-geo.pw // geo.sw)
        hi = min((geo.w - 1 + geo.pw - (geo.kw - 1) * geo.dw) // geo.sw, geo.ow - 1)
        fits = hi - lo + 1 >= vw and lo <= vw and geo.ow - 1 - hi <= vw
        return {"loads": loads, "taps": taps, "extras": extras,
                "inner": (lo, hi) if fits else None, "whole": params.get("whole", 0)}


def row_loads(kw: int, dw: int, stride: int, vw: int) -> tuple[list, list, list]:
    """How a row's window taps come from whole vector loads: (loads, taps, extras). `loads`
    are the offsets (from the tile's first input) of the vw-wide loads, `extras` those of
    single inputs read as scalars. Each tap is one of
    - (a, None, None): load a as it is (stride 1);
    - (a, b, lanes): the lanes of loads a and b side by side (lane i of b is lane vw + i)
      that are its vw inputs;
    - ("shift", k, e): tap k moved down one lane, with the input at offset e in the last
      lane (stride 2: the tap two inputs on from tap k).
    At stride 2 a pair of loads at b and b + vw serves the taps at offsets b and b + 1; no
    read goes past the last input the tile's last tap needs (offset o_max + 2 vw - 2)."""
    offsets = [k * dw for k in range(kw)]
    if stride == 1:
        return offsets, [(o, None, None) for o in offsets], []
    last = offsets[-1]
    loads, taps, extras = [], [], []
    for k, o in enumerate(offsets):
        if o - 2 in offsets[:k]:
            extras.append(o + 2 * (vw - 1))
            taps.append(("shift", offsets.index(o - 2), extras[-1]))
            continue
        base = o - o % 2 if o - o % 2 <= last - 1 else o - 1
        if base < 0:  # a 1-wide window: its last lanes come from a load ending at its end
            a, b = 0, vw - 1
            lanes = [2 * i if i < vw // 2 else 2 * i + 1 for i in range(vw)]
        else:
            a, b = base, base + vw
            lanes = [o - base + 2 * i for i in range(vw)]
        loads += [x for x in (a, b) if x not in loads]
        taps.append((a, b, lanes))
    return loads, taps, extras


FAMILY = PoolStrided()
