"""InstanceNormalization and LayerNormalization, one normalized group per work-item; the
scale and bias of LayerNormalization are viewed broadcast to the normalized axes."""
from ..ir.problems_norm import Norm
from .family import OnePerOutput


def _views(p: Norm, views):
    out, x, *affine = views
    if p.instance:
        return [out, x] + affine
    return [out, x] + [v.broadcast_to(p.shape[p.axis:]) for v in affine]


FAMILY = OnePerOutput("norm", "norm.j2", (Norm,), adapt_views=_views,
                      work_items=lambda p: p.groups)
