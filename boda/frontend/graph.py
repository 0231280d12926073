"""The network as boda sees it: tensors with concrete shapes and nodes of boda ops.

Ops: conv, pool, matmul, eltwise, transpose, softmax, lrn, pad (computed by kernels),
reshape and slice (views when possible), concat (planned in place), batchnorm and act
(rewritten away by passes.py: folded or fused into their producer, or turned into eltwise
nodes).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Tensor:
    name: str
    shape: tuple
    dtype: np.dtype = np.dtype(np.float32)
    value: np.ndarray | None = None  # set for constants

    @property
    def is_const(self) -> bool:
        return self.value is not None


@dataclass
class Node:
    op: str
    name: str
    inputs: list
    output: str
    attrs: dict = field(default_factory=dict)
    source: str = ""  # the ONNX op type(s) this node came from, for messages and reports


@dataclass
class Graph:
    tensors: dict = field(default_factory=dict)
    nodes: list = field(default_factory=list)
    inputs: list = field(default_factory=list)   # runtime input tensor names, model order
    outputs: list = field(default_factory=list)  # (ONNX output name, tensor name)

    def producer(self, name: str):
        for n in self.nodes:
            if n.output == name:
                return n
        return None

    def consumers(self) -> Counter:
        uses = Counter(i for n in self.nodes for i in n.inputs)
        uses.update(t for _, t in self.outputs)
        return uses

    def const(self, name: str, value: np.ndarray) -> str:
        base, k = name, 0
        while name in self.tensors:
            k += 1
            name = f"{base}#{k}"
        self.tensors[name] = Tensor(name, tuple(value.shape), value.dtype, value)
        return name
