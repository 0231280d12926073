"""ONNX -> Graph: the import itself, specialized to concrete input shapes.

Every node whose inputs are all constant (Constant, ConstantOfShape, Shape/Gather/Concat chains
feeding a Reshape, ...) is evaluated on the host by onnx's reference evaluator, so only real
tensor work reaches kernels; every other node goes to its handler (op_table.py, the table of
supported ops).
"""
from __future__ import annotations

import warnings

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import BodaError, InputError, UnsupportedModelError
from .graph import Graph, Node, Tensor
from .onnx_file import first_line, input_specs, opset_of
from .op_table import NO_FOLD, OPS, unsupported_ops

MIN_OPSET = 7
MAX_OPSET = onnx.defs.onnx_opset_version()  # the newest opset the installed onnx knows


class Importer:
    def __init__(self, model: onnx.ModelProto, shapes: dict, values: dict):
        self.model = model
        self.opset = opset_of(model)
        self.g = Graph()
        self.alias: dict[str, str] = {}
        self.shapes = shapes
        self.values = values
        self.extra_outputs: list[str] = []  # Dropout masks, MaxPool indices, ...
        self.missing: dict[str, list[str]] = {}  # unsupported op -> the nodes using it
        self.unknown: set[str] = set()  # tensors computed by unsupported nodes

    # -- helpers used by the op handlers ------------------------------------------------
    def tensor(self, name: str) -> Tensor:
        return self.g.tensors[self.alias.get(name, name)]

    def const(self, node, i: int, what: str):
        """The constant value of input i (None when the input is absent)."""
        if i >= len(node.input) or not node.input[i]:
            return None
        t = self.tensor(node.input[i])
        if not t.is_const:
            raise UnsupportedModelError(
                f"{node.op_type} node {node.name!r}: input {what} must be a constant")
        return t.value

    def add(self, op: str, node, inputs: list, shape, attrs=None, output=None) -> str:
        out = output or node.output[0]
        for i in inputs:
            t = self.g.tensors[i]
            if t.dtype != np.float32:
                raise UnsupportedModelError(
                    f"{node.op_type} node {node.name!r}: input {i!r} has dtype {t.dtype}; "
                    "boda computes in float32")
        self.g.tensors[out] = Tensor(out, tuple(int(d) for d in shape))
        self.g.nodes.append(Node(op, node.name or out, list(inputs), out, dict(attrs or {}),
                                 node.op_type))
        return out

    def ins(self, node) -> list[str]:
        return [self.alias.get(n, n) for n in node.input if n]

    def reshape(self, node, src: str, shape, output=None) -> str:
        return self.add("reshape", node, [src], shape, output=output)

    # -- the import itself ---------------------------------------------------------------
    def run(self) -> Graph:
        if self.opset < MIN_OPSET:
            raise UnsupportedModelError(
                f"opset {self.opset} is not supported (boda supports opsets {MIN_OPSET}+)")
        if self.opset > MAX_OPSET:
            raise UnsupportedModelError(
                f"the model's opset {self.opset} is newer than any this boda knows (opsets "
                f"{MIN_OPSET} to {MAX_OPSET}); re-export it at opset {MAX_OPSET} or lower")
        g = self.g
        for init in self.model.graph.initializer:
            arr = numpy_helper.to_array(init)
            g.tensors[init.name] = Tensor(init.name, arr.shape, arr.dtype, arr)
        for name, shape, dtype in input_specs(self.model):
            if name in self.values:
                arr = np.asarray(self.values[name])
                g.tensors[name] = Tensor(name, arr.shape, arr.dtype, arr)
                continue
            shape = tuple(self.shapes.get(name, shape))
            if any(d is None for d in shape):
                raise InputError(f"input {name!r} has symbolic shape {shape}; give its shape "
                                 "(--batch on the command line)")
            g.tensors[name] = Tensor(name, shape, np.dtype(dtype or np.float32))
            g.inputs.append(name)
        for node in self.model.graph.node:
            self.convert(node)
        if self.missing:
            raise unsupported_ops(self.missing, self.opset)
        for out in self.model.graph.output:
            name = self.alias.get(out.name, out.name)
            if name not in g.tensors:
                raise BodaError(f"graph output {out.name!r} is not produced by any node")
            g.outputs.append((out.name, name))
            declared = out.type.tensor_type.elem_type  # computed as floats: converted back
            if declared in (onnx.TensorProto.BOOL, onnx.TensorProto.INT64,
                            onnx.TensorProto.INT32) and g.tensors[name].dtype == np.float32 \
                    and not g.tensors[name].is_const:
                g.tensors[name].dtype = onnx.helper.tensor_dtype_to_np_dtype(declared)
        return g

    def convert(self, node):
        """Import one node. A node of an op boda lacks is noted, not fatal, and so is every
        node downstream of one, so that the error names every missing op at once."""
        domain = node.domain not in ("", "ai.onnx")
        if domain or any(self.alias.get(i, i) in self.unknown for i in node.input if i):
            if domain or node.op_type not in OPS:
                op = f"{node.domain}.{node.op_type}" if domain else node.op_type
                self.missing.setdefault(op, []).append(node.name or node.output[0])
            self.unknown.update(o for o in node.output if o)
            return
        for i in node.input:
            if i and self.alias.get(i, i) not in self.g.tensors:
                raise BodaError(f"{node.op_type} node {node.name!r} reads {i!r}, "
                                "which nothing produces")
        inputs = [self.tensor(i) for i in node.input if i]
        if node.op_type not in NO_FOLD and all(t.is_const for t in inputs):
            return self.fold(node)
        handler = OPS.get(node.op_type)
        if handler is None:
            self.missing.setdefault(node.op_type, []).append(node.name or node.output[0])
            self.unknown.update(o for o in node.output if o)
            return
        handler(self, node)
        self.extra_outputs += [o for o in node.output[1:]  # those the handler left
                               if o and o not in self.g.tensors and o not in self.alias]

    def fold(self, node):
        """Evaluate a node whose inputs are all constant, with onnx's reference evaluator."""
        from onnx.reference import ReferenceEvaluator
        feeds = {i: self.tensor(i).value for i in node.input if i}
        graph = onnx.helper.make_graph(
            [node], "fold",
            [onnx.helper.make_tensor_value_info(
                n, onnx.helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
             for n, v in feeds.items()],
            [onnx.helper.make_empty_tensor_value_info(o) for o in node.output if o])
        model = onnx.helper.make_model(graph, opset_imports=list(self.model.opset_import))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results = ReferenceEvaluator(model).run(None, feeds)
        except Exception as exc:
            raise UnsupportedModelError(
                f"{node.op_type} node {node.name!r}: constant folding failed: "
                f"{first_line(exc)}") from None
        for name, value in zip([o for o in node.output if o], results):
            value = np.asarray(value)
            self.g.tensors[name] = Tensor(name, value.shape, value.dtype, value)


def import_model(model: onnx.ModelProto, shapes: dict | None = None,
                 values: dict | None = None) -> Graph:
    """Import `model` specialized to `shapes` (name -> shape for inputs with symbolic dims,
    or to override them) and `values` (non-float inputs bound to constants)."""
    imp = Importer(model, shapes or {}, values or {})
    g = imp.run()
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    for e in imp.extra_outputs:
        if e in used:
            raise UnsupportedModelError(f"output {e!r} (an optional extra output) is used; "
                                        "boda only computes the first output of a node")
    return g
