"""onnxruntime (CPU execution provider) as a reference engine: a conv layer as a one-node
model, and the whole network. Times are wall-clock medians of session.run."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from ..ir.activations import ACTIVATIONS
from .timing import median_seconds

OPSET = 20  # Gelu's first opset; Conv is the same from opset 11

THREADS = 2


def session(model, threads: int = THREADS):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def activation_nodes(act: tuple, src: str, dst: str) -> tuple[list, list]:
    """The ONNX nodes (and initializers) computing a fused activation (ir/activations.py)
    from `src` into `dst`: the layer's activation, as onnxruntime runs it."""
    spec, params = ACTIVATIONS[act[0]], act[1:]

    def const(name, value):
        return onnx.numpy_helper.from_array(np.array(value, np.float32), f"{dst}_{name}")
    if spec.name == "clip":
        lo, hi = const("min", params[0]), const("max", params[1])
        return [helper.make_node("Clip", [src, lo.name, hi.name], [dst])], [lo, hi]
    if spec.name == "pow":
        e = const("exponent", params[0])
        return [helper.make_node("Pow", [src, e.name], [dst])], [e]
    attrs = {attr: value for (attr, _), value in zip(spec.params, params)}
    if spec.name == "gelu_tanh":
        attrs["approximate"] = "tanh"
    return [helper.make_node(spec.onnx, [src], [dst], **attrs)], []


def conv_model(p, inputs):
    """The conv layer `p` (its residual Add and its fused activation too) as an ONNX model
    with its weights (and residual) inside."""
    x, w, *rest = inputs
    b = rest[:1] if p.bias else []
    conv_out = "y" if not (p.act or p.residual) else "s" if p.residual else "c"
    nodes = [helper.make_node(
        "Conv", ["x", "w"] + (["b"] if b else []), [conv_out],
        kernel_shape=list(p.kernel), strides=list(p.stride), dilations=list(p.dilation),
        pads=list(p.pad_begin) + list(p.pad_end), group=p.group)]
    inits = [onnx.numpy_helper.from_array(w, "w")] + (
        [onnx.numpy_helper.from_array(b[0], "b")] if b else [])
    if p.residual:
        nodes.append(helper.make_node("Add", ["s", "r"], ["y" if not p.act else "c"]))
        inits.append(onnx.numpy_helper.from_array(rest[-1], "r"))
    if p.act:
        more, consts = activation_nodes(p.act, "c", "y")
        nodes += more
        inits += consts
    graph = helper.make_graph(
        nodes, "layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, p.out_shape)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                             ir_version=9)


class Reference:
    name = "onnxruntime"
    note = f"onnxruntime CPU execution provider, {THREADS} threads; wall-clock session.run"

    def __init__(self, device=None):
        import onnxruntime
        self.version = onnxruntime.__version__

    def time_layer(self, problem, inputs, repeat: int) -> dict:
        """Seconds of one conv layer (with its fused activation), by variant."""
        sess = session(conv_model(problem, inputs))
        feed = {"x": inputs[0]}
        return {"onnxruntime": median_seconds(lambda: sess.run(None, feed), repeat)}

    def network(self, model, feeds):
        """Variant -> a callable running the whole network once, and its outputs."""
        sess = session(model)
        return {"onnxruntime": (lambda: sess.run(None, feeds), sess.run(None, feeds))}
