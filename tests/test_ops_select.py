"""Gather (evenly stepped indices as slices, any others by the gather kernel), TopK, Where,
and the comparison and logic ops: one-node models through boda.compile against
onnxruntime on random inputs, and each kernel alone against the numpy reference."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import boda
from boda.frontend.importer import import_model
from boda.frontend.passes import optimize
from boda.plan.placement import make_plan
from conftest import ort_run
from test_ops import check_model, one_node_model


@pytest.mark.parametrize("axis,indices,kernel", [
    (1, [2], False), (1, 1, False), (2, [0, 2, 4], False), (1, [3, 1], False),
    (-1, [[0, 3], [4, 4]], True), (1, [0, 2, 1], True), (0, [-1, 0], False), (0, [1, 1], True)])
def test_gather_on_a_constant_index(axis, indices, kernel, device):
    model = one_node_model("Gather", [("x", [2, 4, 5])], {"axis": axis}, 13,
                           [("i", np.array(indices, np.int64))])
    ops = {s.problem.kind for s in make_plan(optimize(import_model(model))).steps}
    assert ("gather" in ops) == kernel, ops
    check_model(model, device)


def test_gather_of_an_index_out_of_range_is_refused_in_one_line():
    model = one_node_model("Gather", [("x", [2, 4])], {"axis": 1}, 13,
                           [("i", np.array([4], np.int64))])
    with pytest.raises(boda.BodaError, match="outside"):
        import_model(model)


def _two_output_topk(shape, k, axis, largest):
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("i", TensorProto.INT64, None)],
        [onnx.numpy_helper.from_array(np.array([k], np.int64), "k")])
    return onnx.shape_inference.infer_shapes(helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8))


@pytest.mark.parametrize("shape,k,axis,largest", [((2, 1000), 5, -1, 1), ((3, 7, 4), 3, 1, 0),
                                                   ((4, 6), 6, 1, 1)])
def test_topk_values_and_indices(shape, k, axis, largest, device):
    model = _two_output_topk(shape, k, axis, largest)
    # rounded, so that ties exist: they go to the lower index, as in onnxruntime
    x = np.round(np.random.default_rng(2).standard_normal(shape) * 4).astype(np.float32)
    (v, i), (rv, ri) = boda.compile(model, device).run(None, {"x": x}), ort_run(model, {"x": x})
    assert i.dtype == np.int64 and np.array_equal(i, ri)
    assert np.array_equal(v, rv)


@pytest.mark.parametrize("op", ["Greater", "Less", "Equal", "GreaterOrEqual", "LessOrEqual"])
def test_comparison_feeding_where(op, device):
    """x op y -> Where(cond, x, y): the cond a kernel's 0/1 floats; and as a bool output."""
    opset = 16 if op.endswith("Equal") and op != "Equal" else 13
    nodes = [helper.make_node(op, ["x", "y"], ["c"]),
             helper.make_node("Where", ["c", "x", "y"], ["w"])]
    graph = helper.make_graph(nodes, "g", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4]),
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("w", TensorProto.FLOAT, [3, 4]),
         helper.make_tensor_value_info("c", TensorProto.BOOL, [3, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    rng = np.random.default_rng(4)
    feeds = {"x": np.round(rng.standard_normal((3, 4))).astype(np.float32),
             "y": np.round(rng.standard_normal(4)).astype(np.float32)}
    (w, c), (rw, rc) = boda.compile(model, device).run(None, feeds), ort_run(model, feeds)
    assert c.dtype == np.bool_ and np.array_equal(c, rc)
    assert np.array_equal(w, rw)


def test_where_with_a_constant_condition_and_logic_ops(device):
    cond = np.random.default_rng(1).random((2, 1, 5)) > 0.5
    nodes = [helper.make_node("Greater", ["x", "zero"], ["pos"]),
             helper.make_node("Not", ["pos"], ["neg"]),
             helper.make_node("Xor", ["neg", "mask"], ["sel"]),
             helper.make_node("Where", ["sel", "x", "neg_x"], ["y"]),
             helper.make_node("Neg", ["x"], ["neg_x"])]
    nodes = nodes[:3] + [nodes[4], nodes[3]]
    graph = helper.make_graph(nodes, "g", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 5])],
        [onnx.numpy_helper.from_array(np.array(0, np.float32), "zero"),
         onnx.numpy_helper.from_array(cond, "mask")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    check_model(model, device)
