"""Depthwise 2-D convolution (MobileNet's, EfficientNet's): a th x tw output tile of one
channel per work-item, the filter in registers, each input row segment loaded once for every
output row it feeds. Its space: tw, th, vec and the work-group size.

With vec (OpenCL, tw of 4, 8 or 16), each row of the tile is one vector, so a filter tap
is one vector multiply-add. Inside the image each tap's inputs for the tw outputs are one
load (at stride 2, two). At the image's left and right edges the tile's first input column
is known when the kernel is rendered: the row segment is loaded as whole vectors inside the
row, each tap's lanes are picked out of them by swizzles, and the lanes that fall in the
padding are selected to zero (`edge_taps`, `select_expr`)."""
from __future__ import annotations

from .conv_common import Geometry, is_conv2d, items_run_alone, local_sizes
from .family import Family
from .templating import KernelSource, cdiv, lanewise

WIDTHS = (1, 2, 4, 8, 16)
HEIGHTS = (1, 2, 4)
VECTOR_WIDTHS = (4, 8, 16)


def edge_taps(vw: int, sw: int, kw: int, dw: int, first: int, width: int):
    """A tile row at an edge of the image, whose first input column `first` is known: the
    row's taps read columns first + j * dw + q * sw (tap j < kw, lane q < vw), those outside
    [0, width) padding. Returns (load offsets: vw-wide loads inside the row that hold every
    column read, per tap its lanes as (load, lane) or None for a zero), or None where the
    row is narrower than a vector."""
    cols = [[first + j * dw + q * sw for q in range(vw)] for j in range(kw)]
    lo, hi = max(first, 0), min(cols[-1][-1] + 1, width)
    if width < vw or hi <= lo:
        return None
    loads = sorted({min(b, width - vw) for b in range(lo, hi, vw)})
    taps = [[None if not 0 <= c < width else
             next((k, c - b) for k, b in enumerate(loads) if b <= c < b + vw) for c in row]
            for row in cols]
    return loads, taps


def select_expr(vw: int, lanes) -> str:
    """An OpenCL C vector expression with the given lanes, (load k, lane) of the vectors
    L0, L1, ... or None for 0: one whole-width swizzle per load, merged by select. (A
    vector literal of parts, say (float8)(0.0f, L0.s0123, L0.s456), would be shorter, but
    clang builds it from shuffles with undefined lanes, which crash Oclgrind's checker.)"""
    sources = sorted({x[0] for x in lanes if x is not None})
    if not sources:
        return f"(float{vw})(0.0f)"

    def pick(k):
        return f"L{k}.s" + "".join(f"{x[1]:x}" if x is not None and x[0] == k else "0"
                                   for x in lanes)

    def mask(test):
        return f"(int{vw})({', '.join('-1' if test(x) else '0' for x in lanes)})"
    expr = pick(sources[0])
    for k in sources[1:]:
        expr = f"select({expr}, {pick(k)}, {mask(lambda x: x is not None and x[0] == k)})"
    if any(x is None for x in lanes):
        expr = f"select({expr}, (float{vw})(0.0f), {mask(lambda x: x is None)})"
    return expr


def is_depthwise(p) -> bool:
    return is_conv2d(p) and p.group == p.c == p.m and p.group > 1


class ConvDepthwise(Family):
    name = "conv_depthwise"
    template = "conv_depthwise.j2"
    # memory-bound, kh * kw multiply-adds per loaded input: 6-8% of peak on MobileNet's and
    # MobileNetV2's 3x3 depthwise layers on PoCL (0.7% for conv_gemm's, 6% for
    # conv_direct_tiled's on 112x112, less on smaller maps)
    efficiency = 0.08

    def applies(self, problem) -> bool:
        return is_depthwise(problem)

    def efficiency_for(self, problem, params: dict, device) -> float:
        # 5x5 filters: 10-60% slower than conv_direct_tiled's defaults on EfficientNet-B0's
        # layers (PoCL), so the estimate leaves those to it untuned
        return self.efficiency if problem.kernel[0] * problem.kernel[1] <= 9 else 0.04

    def space(self, problem, device) -> dict:
        return {"tw": list(WIDTHS), "th": list(HEIGHTS), "vec": [0, 1],
                "local": local_sizes(device)}

    def valid(self, problem, device, params) -> bool:
        geo = Geometry.of(problem)
        tw, th = params["tw"], params["th"]
        if params.get("vec") and not (tw in VECTOR_WIDTHS and device.backend == "opencl"
                                      and lanewise(problem.act)):
            return False
        if tw == 16 and not params.get("vec"):
            return False  # 16 scalar accumulators a row: no better than 8 (the old space)
        taps = geo.kh * geo.kw
        # with vec, a row of the tile is one vector register
        rows = th if params.get("vec") else tw * th
        return (tw <= geo.ow and th <= geo.oh
                and device.profile.fits_registers(tw * th + taps, rows + taps)
                and self.group_fits(problem, device, params))

    def default(self, problem, device) -> dict:
        """Measured on PoCL over MobileNet's depthwise layers: rows as vectors (MobileNet's
        kernel sum in sequence 2.80 -> 1.97 ms against the best scalar tiles: one row of 8
        outputs at stride 1 and of 2 at stride 2, which stay the default where vectors do not
        apply), as wide and as many as the output has, up to 16 x 4 (alone, 1.3-1.9x faster
        than 8 x 2 on every one of MobileNet's layers: 112x112 0.074 -> 0.040 ms)."""
        geo = Geometry.of(problem)
        params = {"tw": max([w for w in VECTOR_WIDTHS if w <= geo.ow] or [4]),
                  "th": max(h for h in HEIGHTS if h <= max(geo.oh, 1)), "vec": 1}
        # vector rows only where work-items run alone (PoCL): where they are SIMD lanes
        # (llvmpipe) a row of 8 vectors took 35-47 s to build (scalar 8 x 1: 2.6 s)
        if geo.ow < 4 or not items_run_alone(device) or \
                not self.valid(problem, device, dict(params, local=1)):
            prefer = 8 if geo.sw == 1 else 2
            tw = prefer if prefer <= geo.ow else max(t for t in WIDTHS if t <= geo.ow)
            # narrower where the row and the filter do not fit the registers (a 5x5 filter
            # with AVX2's 16: 25 taps and 8 outputs are past the space's 32)
            while tw > min(WIDTHS) and not self.valid(
                    problem, device, {"tw": tw, "th": 1, "vec": 0, "local": 1}):
                tw = max(t for t in WIDTHS if t < tw)
            params = {"tw": tw, "th": 1, "vec": 0}
        return self.with_default_local(problem, device, params,
                                       sizes=(1, 2, 4, 8, 16, 32, 64))

    def _tiles(self, problem, params):
        geo = Geometry.of(problem)
        return geo, cdiv(geo.ow, params["tw"]), cdiv(geo.oh, params["th"])

    def work_items(self, problem, params) -> int:
        geo, ntx, nty = self._tiles(problem, params)
        return geo.n * geo.g * ntx * nty

    def render(self, problem, params, views, lang, dtype: str = "float32") -> KernelSource:
        geo, ntx, nty = self._tiles(problem, params)
        return KernelSource.make(self.name, self.template, lang, problem, params, views,
                                 self.work_items(problem, params), params["local"], geo=geo,
                                 ntx=ntx, nty=nty, dtype=dtype,
                                 vtiles=self._vector_tiles(geo, params, lang, views))

    def _vector_tiles(self, geo, params, lang, views) -> list:
        """The tile kinds whose rows are vectors, each (condition on ox0 and x0, the column
        its loads are relative to, the loads as (offset, stride-2 pair), per tap the
        vector expression over the loads L0, L1, ...): interior tiles (a load per tap: at
        stride 2 the even lanes of one and the odd lanes of another), then the first and
        the last tile of a row where they reach into the padding. Empty: scalar only."""
        vw = params["tw"]
        if not params.get("vec") or lang != "opencl" or views[1].strides[3] != 1 \
                or views[0].strides[3] != 1:
            return []
        out = []
        span = (vw - 1) * geo.sw + (geo.kw - 1) * geo.dw + 1
        if geo.sw in (1, 2):
            out.append((f"x0 >= 0 && x0 + {span} <= {geo.w}", "x0",
                        [(j * geo.dw, geo.sw == 2) for j in range(geo.kw)],
                        [f"L{j}" for j in range(geo.kw)]))
        for ox0 in sorted({0, geo.ow - vw}):
            x0 = ox0 * geo.sw - geo.pw
            if 0 <= x0 and x0 + span <= geo.w and geo.sw in (1, 2):
                continue  # an interior tile
            found = edge_taps(vw, geo.sw, geo.kw, geo.dw, x0, geo.w)
            if found:
                out.append((f"ox0 == {ox0}", "0", [(b, False) for b in found[0]],
                            [select_expr(vw, t) for t in found[1]]))
        return out

FAMILY = ConvDepthwise()
