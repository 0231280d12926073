"""Planning: a Graph becomes the ordered kernel steps, every tensor placed in a storage at a
view, and the temporary storages packed into shared buffers.

    placement.py    steps, storages and views (concat in place, reshapes as views)
    memory.py       lifetimes and the shared buffers of temporaries
    layer_table.py  the per-layer table behind `boda ops`
"""
from __future__ import annotations

from ..frontend import graph_of
from ..frontend.onnx_file import batch_shapes, load_model
from .placement import Plan, Step, make_plan


def plan_model(model, batch: int | None = None) -> Plan:
    """The plan of a model (path, bytes or ModelProto), its inputs' batch set to `batch`."""
    proto = load_model(model)
    return make_plan(graph_of(proto, batch_shapes(proto, batch)))


__all__ = ["Plan", "Step", "make_plan", "plan_model"]
