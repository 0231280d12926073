"""Resize/Upsample, ConvTranspose, Reduce* over any axes, ArgMax/ArgMin and the
normalizations: each one-node model through boda.compile against onnxruntime on random
inputs, each kernel alone against the numpy reference (check_model), and the ConvTranspose
family at points across its space."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto

import boda
from boda.errors import BodaError, UnsupportedModelError
from boda.frontend.importer import import_model
from boda.ir.problems_upsample import ConvTranspose
from boda.kernels.convtranspose import FAMILY as CONVT
from conftest import assert_close, ort_run
from test_ops import SETTINGS, check_model, one_node_model
from test_other_families import check_family

F32 = lambda v: np.array(v, np.float32)  # noqa: E731
I64 = lambda v: np.array(v, np.int64)  # noqa: E731
COORDS = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
          "asymmetric", "tf_half_pixel_for_nearest"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]


@SETTINGS
@given(mode=st.sampled_from(["nearest", "linear"]), coord=st.sampled_from(COORDS),
       nearest=st.sampled_from(NEAREST), by_sizes=st.booleans(),
       shape=st.sampled_from([(1, 2, 5, 7), (2, 3, 4, 4), (1, 2, 9), (1, 1, 3, 4, 5)]),
       factors=st.lists(st.sampled_from([0.5, 0.6, 1.0, 1.5, 2.0, 3.0]), min_size=3,
                        max_size=3), seed=st.integers(0, 1000))
def test_resize(mode, coord, nearest, by_sizes, shape, factors, seed, device):
    if coord == "tf_half_pixel_for_nearest" and mode == "linear":
        coord = "half_pixel"  # onnxruntime allows it with nearest only
    nsp = len(shape) - 2
    scales = [1.0, 1.0] + factors[:nsp]
    attrs = dict(mode=mode, coordinate_transformation_mode=coord, nearest_mode=nearest)
    if by_sizes:
        sizes = [max(1, int(d * s)) for d, s in zip(shape, scales)]
        consts = [("roi", F32([])), ("scales", F32([])), ("sizes", I64(sizes))]
    else:
        consts = [("roi", F32([])), ("scales", F32(scales))]
    check_model(one_node_model("Resize", [("x", list(shape))], attrs, 13, consts), device, seed)


@pytest.mark.parametrize("opset,mode,scales", [(9, "nearest", [1, 1, 2, 3]),
                                               (9, "linear", [1, 1, 2, 2]),
                                               (7, "nearest", [1, 1, 3, 2]),
                                               (10, "nearest", [1, 1, 0.5, 0.5]),
                                               (10, "linear", [1, 1, 1.5, 2])])
def test_upsample_and_resize_10(opset, mode, scales, device):
    shape = [1, 3, 6, 5]
    if opset == 7:
        model = one_node_model("Upsample", [("x", shape)],
                               dict(mode=mode, scales=[float(s) for s in scales]), 7)
        dims = model.graph.output[0].type.tensor_type.shape.dim  # onnx infers none here
        for d, s in zip(shape, scales):
            dims.add().dim_value = int(d * s)
    else:
        op = "Upsample" if opset == 9 else "Resize"
        model = one_node_model(op, [("x", shape)], dict(mode=mode), opset,
                               [("scales", F32(scales))])
    check_model(model, device)


def test_resize_scales_as_a_graph_input_specialize_the_model(device):
    """onnx's own cases feed the scales as an input: the session binds its value."""
    from onnx import helper
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")
    graph = helper.make_graph([node], "g", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 3]),
        helper.make_tensor_value_info("s", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "h", "w"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = np.random.default_rng(0).standard_normal((1, 1, 2, 3)).astype(np.float32)
    sess = boda.compile(model, device)
    for scales in ([1, 1, 2, 2], [1, 1, 3, 1]):
        feeds = {"x": x, "s": F32(scales)}
        assert_close(sess.run(None, feeds)[0], ort_run(model, feeds)[0])


@pytest.mark.parametrize("attrs,why", [
    (dict(mode="cubic"), "mode 'cubic'"),
    (dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"),
     "tf_crop_and_resize"),
])
def test_unsupported_resize_is_refused_in_one_line(attrs, why):
    model = one_node_model("Resize", [("x", [1, 1, 4, 4])], attrs, 13,
                           [("roi", F32([])), ("scales", F32([1, 1, 2, 2]))])
    with pytest.raises(UnsupportedModelError, match=why):
        import_model(model)


@st.composite
def convt_cases(draw):
    nsp = draw(st.sampled_from([2, 2, 1, 3]))
    group = draw(st.sampled_from([1, 1, 2]))
    c, mg = group * draw(st.integers(1, 4)), draw(st.integers(1, 5))
    kernel = [draw(st.integers(1, 4 if nsp < 3 else 2)) for _ in range(nsp)]
    stride = [draw(st.integers(1, 3)) for _ in range(nsp)]
    dil = [draw(st.integers(1, 2)) for _ in range(nsp)]
    pads = [draw(st.integers(0, (k - 1) * d // 2)) for k, d in zip(kernel, dil)] * 2
    out_pad = [draw(st.integers(0, max(0, min(s, d) - 1))) for s, d in zip(stride, dil)]
    size = [draw(st.integers(1, 7 if nsp < 3 else 4)) for _ in range(nsp)]
    return dict(n=draw(st.integers(1, 2)), c=c, mg=mg, group=group, kernel=kernel,
                stride=stride, dil=dil, pads=pads, out_pad=out_pad, size=size,
                bias=draw(st.booleans()))


@SETTINGS
@given(case=convt_cases(), seed=st.integers(0, 1000))
def test_convtranspose(case, seed, device):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal([case["c"], case["mg"]] + case["kernel"]).astype(np.float32)
    consts = [("w", w)] + ([("b", rng.standard_normal(case["mg"] * case["group"])
                             .astype(np.float32))] if case["bias"] else [])
    attrs = dict(strides=case["stride"], dilations=case["dil"], pads=case["pads"],
                 output_padding=case["out_pad"], group=case["group"])
    model = one_node_model("ConvTranspose", [("x", [case["n"], case["c"]] + case["size"])],
                           attrs, 13, consts)
    check_model(model, device, seed)


@pytest.mark.parametrize("attrs", [dict(strides=[2, 2], auto_pad="SAME_UPPER"),
                                   dict(strides=[2, 2], auto_pad="SAME_LOWER"),
                                   dict(strides=[3, 2], output_shape=[10, 8]),
                                   dict(strides=[2, 2], auto_pad="VALID")])
def test_convtranspose_output_shapes(attrs, device):
    w = np.random.default_rng(3).standard_normal((2, 3, 3, 3)).astype(np.float32)
    check_model(one_node_model("ConvTranspose", [("x", [1, 2, 3, 3])], attrs, 13,
                               [("w", w)]), device)


def test_convtranspose_with_mismatched_weights_is_refused_in_one_line():
    w = np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(BodaError, match="weights"):
        import_model(one_node_model("ConvTranspose", [("x", [1, 2, 4, 4])], {}, 13,
                                    [("w", w)]))


@pytest.mark.parametrize("problem", [
    ConvTranspose(1, 4, 8, (5, 6), (4, 4), (2, 2), (1, 1), (1, 1), (10, 12), bias=True,
                  act=("relu",)),
    ConvTranspose(2, 6, 6, (4,), (3,), (3,), (0,), (2,), (12,), group=3),
    ConvTranspose(1, 3, 16, (3, 3), (2, 2), (2, 2), (0, 0), (1, 1), (6, 6)),
], ids=lambda p: p.signature)
def test_convtranspose_family_across_its_space(problem, device):
    check_family(CONVT, problem, device, seed=4)


REDUCES = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
           "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"]


@pytest.mark.parametrize("op", REDUCES)
@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([0, 2], 0), ([-1], 0), (None, 1)])
def test_reduce_over_any_axes(op, opset, axes, keepdims, device):
    attrs, consts = {"keepdims": keepdims}, []
    if axes is not None:
        if opset >= 18 or (op == "ReduceSum" and opset >= 13):
            consts = [("axes", I64(axes))]
        else:
            attrs["axes"] = axes
    check_model(one_node_model(op, [("x", [2, 3, 4, 5])], attrs, opset, consts), device)


def test_reduce_log_sum_of_positive_values(device):
    model = one_node_model("ReduceLogSum", [("x", [3, 4, 5])], {"axes": [1, 2]}, 13)
    x = np.random.default_rng(2).uniform(0.1, 2, (3, 4, 5)).astype(np.float32)
    assert_close(boda.compile(model, device).run(None, {"x": x})[0], ort_run(model, {"x": x})[0])


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis,keepdims,last", [(1, 1, 0), (-1, 0, 0), (0, 1, 1)])
def test_argmax_argmin(op, axis, keepdims, last, device):
    import onnx
    from onnx import helper
    node = helper.make_node(op, ["x"], ["y"], axis=axis, keepdims=keepdims,
                            select_last_index=last)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [3, 7, 4])], [helper.make_tensor_value_info(
            "y", TensorProto.INT64, None)])
    model = onnx.shape_inference.infer_shapes(helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8))
    # rounded values, so that ties exist and select_last_index matters
    x = np.round(np.random.default_rng(5).standard_normal((3, 7, 4))).astype(np.float32)
    out, ref = boda.compile(model, device).run(None, {"x": x})[0], ort_run(model, {"x": x})[0]
    assert out.dtype == np.int64 and np.array_equal(out, ref)


def test_instance_norm(device):
    rng = np.random.default_rng(7)
    consts = [("s", rng.standard_normal(4).astype(np.float32)),
              ("b", rng.standard_normal(4).astype(np.float32))]
    check_model(one_node_model("InstanceNormalization", [("x", [2, 4, 5, 6])],
                               {"epsilon": 1e-3}, 13, consts), device)


@pytest.mark.parametrize("axis,scale,bias", [(-1, (6,), (6,)), (1, (4, 1, 6), None),
                                             (2, (5, 6), (6,))])
def test_layer_norm(axis, scale, bias, device):
    rng = np.random.default_rng(8)
    consts = [("s", rng.standard_normal(scale).astype(np.float32))]
    consts += [("b", rng.standard_normal(bias).astype(np.float32))] if bias else []
    check_model(one_node_model("LayerNormalization", [("x", [2, 4, 5, 6])], {"axis": axis}, 17,
                               consts), device)
