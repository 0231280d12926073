"""Elementwise ops with broadcasting, copies, transposes and standalone activations."""
from ..ir.problems import Eltwise, Transpose
from .family import OnePerOutput


def _views(p, views):
    out, *ins = views
    if isinstance(p, Transpose):
        return [out, ins[0].permute(p.perm)]
    return [out] + [v.broadcast_to(p.shape) for v in ins]


FAMILY = OnePerOutput("eltwise", "eltwise.j2", (Eltwise, Transpose), adapt_views=_views)
