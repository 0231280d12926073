"""The front end: an ONNX model in, an optimized Graph out.

    onnx_file.py  loading and checking a model, its opset, its runtime inputs
    importer.py   ONNX nodes -> Graph nodes, constant subgraphs folded on the host
    ops.py        the table of supported ONNX ops, one handler each
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
