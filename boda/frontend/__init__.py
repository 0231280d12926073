"""The front end: an ONNX model in, an optimized Graph out.

    onnx_file.py  loading and checking a model, its opset, its runtime inputs
    importer.py   ONNX nodes -> Graph nodes, constant subgraphs folded on the host
    op_table.py   the table of supported ONNX ops (op type -> handler)
    ops.py        handlers: conv, pools, activations, eltwise, matmul/gemm, pad, ...
    ops_reduce.py handlers: Reduce*, ArgMax/ArgMin, Instance/LayerNormalization
    ops_upsample.py handlers: Resize, Upsample, ConvTranspose
    shape_ops.py  handlers of the ops that move data: reshape, slice, split, concat, ...
    node_attrs.py reading node attributes
    graph.py      the Graph: tensors with concrete shapes, nodes of boda ops
    passes.py     BatchNorm folding, activation fusion, dead-node removal
    zoo.py        built-in models with seeded weights (`boda zoo`)
    image.py      an image file as an ImageNet model's input
"""
from __future__ import annotations

from .graph import Graph
from .importer import import_model
from .passes import optimize


def graph_of(model, shapes: dict | None = None, values: dict | None = None) -> Graph:
    """The optimized Graph of a loaded model (onnx_file.load_model), specialized to `shapes`
    (input name -> shape) and `values` (non-float inputs bound to constants)."""
    return optimize(import_model(model, shapes, values))
