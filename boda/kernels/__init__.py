"""Kernel families: for each Problem, which families apply and which one the runtime uses.

Each family lives in its own module and exposes FAMILY (see base.Family). Until tuning
lands, the runtime uses the applicable family whose default has the lowest cost estimate.
"""
from __future__ import annotations

from . import conv_gemm, direct_conv, eltwise, lrn, matmul, pad, pool, softmax
from .base import Family
from .templating import KernelSource, prelude

FAMILIES = [conv_gemm.FAMILY, direct_conv.FAMILY, pool.FAMILY, matmul.FAMILY,
            eltwise.FAMILY, softmax.FAMILY, lrn.FAMILY, pad.FAMILY]
BY_NAME = {f.name: f for f in FAMILIES}


def families_for(problem, const_operands=None) -> list:
    """Families that can compute `problem`. A family that re-lays-out an operand at upload
    needs it constant; `const_operands` (operand indices) says which are, None meaning all."""
    out = []
    for f in FAMILIES:
        if not f.applies(problem):
            continue
        if const_operands is not None and not set(f.transformed) <= set(const_operands):
            continue
        out.append(f)
    return out


def choose(problem, device, const_operands=None) -> tuple[Family, dict]:
    """The family and parameters the runtime uses for `problem` on `device`: the applicable
    default with the lowest estimated cost."""
    best = None
    for family in families_for(problem, const_operands):
        params = family.default(problem, device)
        cost = family.estimate(problem, params, device)
        if best is None or cost < best[0]:
            best = (cost, family, params)
    if best is None:
        raise LookupError(f"no kernel family for {problem.signature}")
    return best[1], best[2]


def program_source(sources, lang: str) -> str:
    """One program: the language prelude and each distinct kernel once."""
    seen, parts = set(), [prelude(lang)]
    for ks in sources:
        if ks.name not in seen:
            seen.add(ks.name)
            parts.append(ks.source)
    return "\n".join(parts)


__all__ = ["BY_NAME", "FAMILIES", "Family", "KernelSource", "choose", "families_for",
           "prelude", "program_source"]
