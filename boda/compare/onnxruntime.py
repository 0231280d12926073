"""onnxruntime (CPU execution provider) as a reference engine: a conv layer as a one-node
model, and the whole network. Times are wall-clock medians of session.run."""
from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from .timing import median_seconds

THREADS = 2


def session(model, threads: int = THREADS):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def conv_model(p, inputs):
    """The conv layer `p` (and its fused ReLU) as an ONNX model with its weights inside."""
    x, w, *b = inputs
    nodes = [helper.make_node(
        "Conv", ["x", "w"] + (["b"] if b else []), ["y" if not p.act else "c"],
        kernel_shape=list(p.kernel), strides=list(p.stride), dilations=list(p.dilation),
        pads=list(p.pad_begin) + list(p.pad_end), group=p.group)]
    if p.act:
        assert p.act == ("relu",), p.act
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    inits = [onnx.numpy_helper.from_array(w, "w")] + (
        [onnx.numpy_helper.from_array(b[0], "b")] if b else [])
    graph = helper.make_graph(
        nodes, "layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, p.out_shape)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


class Reference:
    name = "onnxruntime"
    note = f"onnxruntime CPU execution provider, {THREADS} threads; wall-clock session.run"

    def __init__(self, device=None):
        import onnxruntime
        self.version = onnxruntime.__version__

    def time_layer(self, problem, inputs, repeat: int) -> dict:
        """Seconds of one conv layer (with its fused ReLU), by variant."""
        sess = session(conv_model(problem, inputs))
        feed = {"x": inputs[0]}
        return {"onnxruntime": median_seconds(lambda: sess.run(None, feed), repeat)}

    def network(self, model, feeds):
        """Variant -> a callable running the whole network once, and its outputs."""
        sess = session(model)
        return {"onnxruntime": (lambda: sess.run(None, feeds), sess.run(None, feeds))}
