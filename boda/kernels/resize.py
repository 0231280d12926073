"""Resize (nearest and multi-linear, every coordinate transform), one output element per
work-item. The coordinate transforms are written here as C expressions, mirroring
ir/numpy_reference.source_coordinate."""
from __future__ import annotations

import itertools

from ..ir.problems_upsample import Resize
from .family import OnePerOutput
from .templating import flt


def coordinate_expr(p: Resize, a: int) -> str:
    i, o, s = p.in_shape[a], p.shape[a], p.scales[a]
    x, half = f"(float)o{a}", f"((float)o{a} + 0.5f)"
    if p.coord == "align_corners":
        return "0.0f" if o == 1 else f"{x} * {flt(i - 1)} / {flt(o - 1)}"
    if p.coord == "asymmetric":
        return f"{x} / {flt(s)}"
    if p.coord == "pytorch_half_pixel":
        return "-0.5f" if o == 1 else f"{half} / {flt(s)} - 0.5f"
    if p.coord == "tf_half_pixel_for_nearest":
        return f"{half} / {flt(s)}"
    expr = f"{half} / {flt(s)} - 0.5f"
    if p.coord == "half_pixel_symmetric":
        expr = f"{flt(i / 2 * (1 - o / (s * i)))} + {expr}"
    return expr


def corners(p: Resize) -> list:
    """(weight expression, input coordinates) of each term the output sums."""
    nd, axes = len(p.shape), p.resampled_axes
    if p.mode != "linear":
        return [("1.0f", [f"i{a}" if a in axes else f"o{a}" for a in range(nd)])]
    out = []
    for bits in itertools.product((0, 1), repeat=len(axes)):
        pick = dict(zip(axes, bits))
        weight = " * ".join(f"f{a}" if b else f"(1.0f - f{a})" for a, b in pick.items())
        idx = [(f"b{a}" if pick[a] else f"a{a}") if a in pick else f"o{a}" for a in range(nd)]
        out.append((weight or "1.0f", idx))
    return out


def _context(p: Resize) -> dict:
    return {"coords": [(a, coordinate_expr(p, a)) for a in p.resampled_axes],
            "corners": corners(p)}


FAMILY = OnePerOutput("resize", "resize.j2", (Resize,), context=_context)
