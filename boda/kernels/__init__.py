"""Kernel families: for each Problem, which families apply and which one the runtime uses.

Each family lives in its own module and exposes FAMILY with applies / space / default /
render. Until tuning lands, the runtime uses the first applicable family's default.
"""
from __future__ import annotations

from . import direct_conv, eltwise, lrn, matmul, pad, pool, softmax
from .templating import KernelSource, prelude

FAMILIES = [direct_conv.FAMILY, pool.FAMILY, matmul.FAMILY, eltwise.FAMILY, softmax.FAMILY,
            lrn.FAMILY, pad.FAMILY]


def families_for(problem) -> list:
    return [f for f in FAMILIES if f.applies(problem)]


def choose(problem, device):
    """The family and parameters the runtime uses for `problem` on `device`."""
    fams = families_for(problem)
    if not fams:
        raise LookupError(f"no kernel family for {problem.signature}")
    family = fams[0]
    return family, family.default(problem, device)


__all__ = ["FAMILIES", "KernelSource", "choose", "families_for", "prelude"]
