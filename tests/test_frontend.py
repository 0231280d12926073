"""Import, rewrite passes, lowering and planning: no device needed."""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from boda.errors import BodaError, UnsupportedModelError
from boda.frontend import zoo
from boda.frontend.importer import import_model
from boda.frontend.onnx_file import load_model
from boda.frontend.passes import optimize
from boda.ir.problems import Conv
from boda.ir.views import View
from boda.plan.memory import assign_slots, lifetimes
from boda.plan.placement import make_plan

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def plan_of(model):
    return make_plan(optimize(import_model(load_model(model))))


@pytest.mark.parametrize("name", sorted(f[6:-5] for f in os.listdir(LIGHT) if f.endswith(".onnx")))
def test_light_models_load_as_shipped(name):
    plan = plan_of(os.path.join(LIGHT, f"light_{name}.onnx"))
    kinds = {s.problem.kind for s in plan.steps}
    assert "conv" in kinds
    # weights came from ConstantOfShape nodes: all folded into constants, none computed
    assert all(s.role != "input" or s.size > 1000 for s in plan.storages)


def test_squeezenet_fusions_and_concat_in_place():
    plan = plan_of(zoo.squeezenet1_1())
    kinds = [s.problem.kind for s in plan.steps]
    # 26 convs with fused ReLU, 3 max pools, 1 global average pool; no copies for the 8
    # concats (each expand conv writes into its slice) and no standalone activations
    assert kinds.count("conv") == 26 and kinds.count("pool") == 4
    assert "eltwise" not in kinds
    assert all(s.problem.act == ("relu",) for s in plan.steps if s.problem.kind == "conv")
    at_offset = [s for s in plan.steps if plan.placement[s.output][1].offset > 0]
    assert len(at_offset) == 8  # each expand3x3 conv writes at a channel offset of its concat
    assert len(plan.steps) == 30
    plan2 = plan_of(zoo.squeezenet1_1(batch=2))  # with batch > 1 both expand slices are strided
    assert sum(not plan2.placement[s.output][1].is_contiguous for s in plan2.steps) == 16


def test_identical_layers_share_one_problem():
    plan = plan_of(zoo.squeezenet1_1())
    problems = [s.problem for s in plan.steps]
    assert len(set(problems)) < len(problems)
    a, b = (Conv(1, 16, 64, (55, 55), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, True, ("relu",))
            for _ in range(2))
    assert a == b and hash(a) == hash(b) and a.signature == b.signature
    assert a.flops == 2 * 64 * 55 * 55 * 16 * 9


def test_batchnorm_folds_into_conv_and_clip_fuses():
    plan = plan_of(zoo.mobilenet())
    kinds = {s.problem.kind for s in plan.steps}
    assert "eltwise" not in kinds  # no BatchNorm or Clip kernel left
    assert all(s.problem.act == ("clip", 0.0, 6.0) for s in plan.steps
               if s.problem.kind == "conv" and s.source.startswith("Conv"))


def test_shape_chain_folds_into_reshape():
    # x -> Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape(x): a flatten
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
             helper.make_node("Concat", ["n1", "m1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"])]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "i0"),
             numpy_helper.from_array(np.array([0], np.int64), "ax"),
             numpy_helper.from_array(np.array([-1], np.int64), "m1")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     [2, 3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 12])], inits)
    plan = plan_of(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))
    assert [s.problem.kind for s in plan.steps] == ["eltwise"]
    assert plan.steps[0].problem.shape == (2, 12)


def test_unsupported_op_names_op_node_and_opset():
    node = helper.make_node("Celu", ["x"], ["y"], name="my_celu")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                      [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    with pytest.raises(UnsupportedModelError) as err:
        plan_of(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))
    msg = str(err.value)
    assert "'Celu'" in msg and "my_celu" in msg and "opset 13" in msg and "Conv" in msg
    assert "\n" not in msg


def test_not_onnx_and_truncated(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a model at all\n" * 10)
    with pytest.raises(BodaError):
        load_model(str(junk))
    data = zoo.squeezenet1_1().SerializeToString()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(BodaError):
        load_model(str(cut))


def test_views():
    v = View.contiguous((2, 6, 5, 5))
    s = v.slice(1, 2, (2, 3, 5, 5))
    assert s.offset == 50 and s.strides == v.strides and not s.is_contiguous
    b = View.contiguous((3, 1)).broadcast_to((2, 3, 4))
    assert b.strides == (0, 1, 0)
    assert View.contiguous((2, 3)).permute((1, 0)).strides == (1, 3)


def test_memory_plan_shares_only_disjoint_lifetimes():
    plan = plan_of(zoo.squeezenet1_0())
    spans = lifetimes(plan)
    sizes = {s.id: s.size for s in plan.storages if s.role == "temp"}
    slot_of, slot_size = assign_slots(sizes, {k: spans[k] for k in sizes})
    assert sum(slot_size) < 0.5 * sum(sizes.values())  # real sharing happens
    for a in sizes:
        assert slot_size[slot_of[a]] >= sizes[a]
        for b in sizes:
            if a < b and slot_of[a] == slot_of[b]:
                (fa, la), (fb, lb) = spans[a], spans[b]
                assert la < fb or lb < fa, "two live storages share a buffer"
