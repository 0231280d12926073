"""Lowering: each compute node of an optimized Graph (frontend.graph) becomes one Problem."""
from __future__ import annotations

from .problems import (Conv, Eltwise, Gather, Lrn, MatMul, Pad, Pool, Problem, Softmax,
                       Transpose)
from .problems_norm import Norm, Reduce, TopK
from .problems_upsample import ConvTranspose, Resize

COMPUTE_OPS = ("conv", "pool", "matmul", "eltwise", "transpose", "softmax", "lrn", "pad",
               "resize", "convtranspose", "reduce", "norm", "gather", "topk")


def problem_for(g, node) -> Problem:
    """The Problem of `node`, a compute node of Graph `g`."""
    shapes = [g.tensors[i].shape for i in node.inputs]
    out = g.tensors[node.output].shape
    a = node.attrs
    act = tuple(a.get("act", ()))
    if node.op == "conv":
        x, w = shapes[0], shapes[1]
        return Conv(n=x[0], c=x[1], m=w[0], in_size=tuple(x[2:]), kernel=tuple(a["kernel"]),
                    stride=tuple(a["stride"]), pad_begin=tuple(a["pad_begin"]),
                    pad_end=tuple(a["pad_end"]), dilation=tuple(a["dilation"]),
                    group=a["group"], bias=len(shapes) - a.get("residual", False) > 2,
                    act=act, residual=a.get("residual", False))
    if node.op == "pool":
        x = shapes[0]
        return Pool(mode=a["mode"], n=x[0], c=x[1], in_size=tuple(x[2:]),
                    kernel=tuple(a["kernel"]), stride=tuple(a["stride"]),
                    pad_begin=tuple(a["pad_begin"]), pad_end=tuple(a["pad_end"]),
                    dilation=tuple(a["dilation"]), out_size=tuple(a["out_size"]),
                    count_include_pad=a["count_include_pad"], act=act)
    if node.op == "matmul":
        return MatMul(a_shape=shapes[0], b_shape=shapes[1],
                      c_shape=shapes[2] if len(shapes) > 2 else None,
                      trans_a=a.get("trans_a", False), trans_b=a.get("trans_b", False),
                      alpha=a.get("alpha", 1.0), beta=a.get("beta", 1.0), act=act)
    if node.op == "eltwise":
        return Eltwise(op=a["op"], shape=out, inputs=tuple(shapes), act=act)
    if node.op == "transpose":
        return Transpose(in_shape=shapes[0], perm=tuple(a["perm"]))
    if node.op == "softmax":
        return Softmax(shape=out, axis=a["axis"], flatten=a["flatten"], log=a["log"])
    if node.op == "lrn":
        return Lrn(shape=out, size=a["size"], alpha=a["alpha"], beta=a["beta"], bias=a["bias"])
    if node.op == "pad":
        return Pad(in_shape=shapes[0], pad_begin=a["pad_begin"], pad_end=a["pad_end"],
                   mode=a["mode"], value=a["value"])
    if node.op == "gather":
        return Gather(in_shape=shapes[0], axis=a["axis"], index_shape=shapes[1])
    if node.op == "topk":
        return TopK(shape=shapes[0], axis=a["axis"], k=a["k"], largest=a["largest"],
                    indices=a["indices"])
    if node.op == "resize":
        return Resize(in_shape=shapes[0], shape=out, scales=tuple(a["scales"]), mode=a["mode"],
                      coord=a["coord"], nearest=a["nearest"])
    if node.op == "convtranspose":
        x, w = shapes[0], shapes[1]
        return ConvTranspose(n=x[0], c=x[1], m=out[1], in_size=tuple(x[2:]),
                             kernel=tuple(a["kernel"]), stride=tuple(a["stride"]),
                             pad_begin=tuple(a["pad_begin"]), dilation=tuple(a["dilation"]),
                             out_size=tuple(out[2:]), group=a["group"], bias=len(shapes) > 2,
                             act=act)
    if node.op == "reduce":
        return Reduce(mode=a["mode"], in_shape=shapes[0], axes=tuple(a["axes"]),
                      last=a.get("last", False), epsilon=a.get("epsilon", 0.0))
    if node.op == "norm":
        return Norm(shape=out, axis=a["axis"], epsilon=a["epsilon"],
                    instance=a.get("instance", False), scale_shape=shapes[1],
                    bias_shape=shapes[2] if len(shapes) > 2 else None)
    raise ValueError(f"{node.op} is not a compute op")
