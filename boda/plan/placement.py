"""Placement: the ordered kernel steps (one per layer) and where every tensor lives.

Each tensor is placed in a storage (a future device buffer) at a View. Concat outputs get a
storage, and each input of a concat is placed directly in its slice, so the kernel that
produces it writes there and no copy kernel runs. Inputs that cannot be placed (graph inputs,
constants, tensors used by two concats, graph outputs, reshape views) are copied into their
slice. Reshapes of contiguous tensors, and slices (Slice, Split) that stay contiguous, are
views of the same storage; a strided slice is a copy kernel reading a view.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..frontend.graph import Graph
from ..ir.lowering import COMPUTE_OPS, problem_for
from ..ir.problems import Eltwise, Problem
from ..ir.views import View, numel


@dataclass
class Storage:
    id: int
    size: int  # elements
    role: str  # "input" | "const" | "temp"
    value: np.ndarray | None = None


@dataclass
class Step:
    """One layer: the kernel that computes one compute node (or a planned copy)."""
    name: str      # the layer name (ONNX node name)
    source: str    # the ONNX op types it came from, e.g. "Conv+Relu"
    problem: Problem
    inputs: list   # tensor names, in the problem's operand order
    output: str


@dataclass
class Plan:
    steps: list = field(default_factory=list)
    placement: dict = field(default_factory=dict)  # tensor name -> (storage id, View)
    storages: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)    # (ONNX name, tensor name)
    # tensor name -> dtype of the outputs that are not float32 (ArgMax's int64, a folded
    # Shape): kernels compute them in float, the engine converts them when read back
    output_dtypes: dict = field(default_factory=dict)

    def operand_storages(self, step) -> list:
        """The storage behind each input of `step`, in operand order."""
        return [self.storages[self.placement[i][0]] for i in step.inputs]

    def const_operands(self, step) -> frozenset:
        """Indices of `step`'s operands that are constants (which families may re-lay-out)."""
        return frozenset(k for k, s in enumerate(self.operand_storages(step))
                         if s.role == "const")


VIEW_OPS = ("reshape", "slice")  # their outputs are views of their inputs' storage


def make_plan(g: Graph) -> Plan:
    plan = Plan(inputs=list(g.inputs), outputs=list(g.outputs))
    plan.output_dtypes = {t: g.tensors[t].dtype for _, t in g.outputs
                          if g.tensors[t].dtype != np.float32}
    producers = {n.output: n for n in g.nodes}
    graph_outputs = {t for _, t in g.outputs}

    def new_storage(role, size, value=None):
        s = Storage(len(plan.storages), int(size), role, value)
        plan.storages.append(s)
        return s.id

    def own(name, role="temp"):
        t = g.tensors[name]
        sid = new_storage(role, numel(t.shape), t.value)
        plan.placement[name] = (sid, View.contiguous(t.shape))

    for name in g.inputs:
        own(name, "input")

    # Concats, last first, so a concat placed inside another passes the slice on.
    copies = {}  # concat output -> list of (input tensor, target View) needing a copy
    for node in reversed([n for n in g.nodes if n.op == "concat"]):
        if node.output not in plan.placement:
            own(node.output)
        sid, view = plan.placement[node.output]
        axis, start, seen = node.attrs["axis"], 0, set()
        copies[node.output] = []
        for src in node.inputs:
            shape = g.tensors[src].shape
            target = view.slice(axis, start, shape)
            start += shape[axis]
            prod = producers.get(src)
            placeable = (prod is not None and prod.op not in VIEW_OPS and src not in seen
                         and src not in graph_outputs and src not in plan.placement)
            seen.add(src)
            if placeable:
                plan.placement[src] = (sid, target)
            else:
                copies[node.output].append((src, target))

    def place_const(name):
        if name not in plan.placement and g.tensors[name].is_const:
            value = np.ascontiguousarray(g.tensors[name].value, np.float32)
            sid = new_storage("const", value.size, value)
            plan.placement[name] = (sid, View.contiguous(value.shape))

    def add_copy(src, sid, view, label, source):
        out = f"{label}#copy{len(plan.steps)}"
        plan.placement[out] = (sid, view)
        plan.steps.append(Step(label, source, Eltwise("copy", view.shape, (view.shape,)),
                               [src], out))

    for node in g.nodes:
        for i in node.inputs:
            place_const(i)
        if node.op in COMPUTE_OPS:
            if node.output not in plan.placement:
                own(node.output)
            plan.steps.append(Step(node.name, node.source, problem_for(g, node),
                                   list(node.inputs), node.output))
        elif node.op == "reshape":
            src = node.inputs[0]
            sid, view = plan.placement[src]
            if not view.is_contiguous:  # materialize a contiguous copy, then view it
                tmp = new_storage("temp", numel(view.shape))
                add_copy(src, tmp, View.contiguous(view.shape), node.name, node.source)
                sid, view = tmp, View.contiguous(view.shape)
                src = plan.steps[-1].output
            plan.placement[node.output] = (sid, view.reshape(g.tensors[node.output].shape))
        elif node.op == "slice":  # a window of its input: a view, or a copy of one
            sid, view = plan.placement[node.inputs[0]]
            shape = g.tensors[node.output].shape
            window = view.window(node.attrs["starts"], node.attrs["steps"], shape)
            if not window.is_contiguous and numel(shape):  # copy the strided window
                plan.placement[node.output + "#window"] = (sid, window)
                sid, window = new_storage("temp", numel(shape)), View.contiguous(shape)
                add_copy(node.output + "#window", sid, window, node.name, node.source)
            plan.placement[node.output] = (sid, window)
        elif node.op == "concat":
            sid = plan.placement[node.output][0]
            for src, target in copies[node.output]:
                add_copy(src, sid, target, node.name, node.source)
        else:
            raise ValueError(f"unplanned op {node.op}")
    for _, name in g.outputs:
        place_const(name)
    return plan
