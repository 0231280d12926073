"""The handlers of the convolution, pooling, activation, elementwise, matrix and padding ops.
Each handler, called as handler(imp, node) with the running importer.Importer, turns one ONNX
node into boda nodes of the Graph (or into aliases and constants); op_table.py maps op types
to handlers."""
from __future__ import annotations

import numpy as np

from ..errors import BodaError, UnsupportedModelError
from ..ir.activations import BY_ONNX
from ..ir.problems import broadcast_shapes, conv_out_size
from .node_attrs import attr, auto_pad, decode, spatial_attrs, unsupported


def op_conv(imp, node):
    ins = imp.ins(node)
    x, w = imp.g.tensors[ins[0]], imp.g.tensors[ins[1]]
    nsp = len(x.shape) - 2
    kernel = tuple(attr(node, "kernel_shape", None) or w.shape[2:])
    group = int(attr(node, "group", 1))
    if nsp < 1 or len(w.shape) != nsp + 2 or w.shape[1] * group != x.shape[1] \
            or w.shape[0] % group or tuple(w.shape[2:]) != kernel:
        raise BodaError(f"Conv node {node.name!r}: weights {w.shape} do not fit input "
                        f"{x.shape} with group={group}")
    strides, dil, pb, pe = spatial_attrs(node, nsp, kernel)
    pb, pe = auto_pad(node, x.shape[2:], kernel, strides, dil, pb, pe)
    out = conv_out_size(x.shape[2:], kernel, strides, pb, pe, dil)
    attrs = dict(kernel=kernel, stride=strides, pad_begin=pb, pad_end=pe, dilation=dil,
                 group=group)
    imp.add("conv", node, ins, (x.shape[0], w.shape[0]) + out, attrs)


def pool(imp, node, mode, global_pool=False, output=None) -> str:
    src = imp.ins(node)[0]
    x = imp.g.tensors[src]
    nsp = len(x.shape) - 2
    if global_pool:
        kernel = tuple(x.shape[2:])
        strides = dil = (1,) * nsp
        pb = pe = (0,) * nsp
        ceil, cip = False, False
    else:
        kernel = tuple(attr(node, "kernel_shape"))
        strides, dil, pb, pe = spatial_attrs(node, nsp, kernel)
        pb, pe = auto_pad(node, x.shape[2:], kernel, strides, dil, pb, pe)
        ceil = bool(attr(node, "ceil_mode", 0))
        cip = bool(attr(node, "count_include_pad", 0))
    out = conv_out_size(x.shape[2:], kernel, strides, pb, pe, dil, ceil)
    attrs = dict(mode=mode, kernel=kernel, stride=strides, pad_begin=pb, pad_end=pe,
                 dilation=dil, out_size=out, count_include_pad=cip)
    return imp.add("pool", node, [src], x.shape[:2] + out, attrs, output=output)


def op_activation(imp, node):
    """An activation (ir/activations.py): its ONNX attributes, in order, make the Act tuple;
    the passes fuse it into its producer."""
    spec = BY_ONNX[node.op_type]
    name = spec.name
    params = [float(attr(node, key, default)) for key, default in spec.params]
    if node.op_type == "Gelu" and decode(attr(node, "approximate", "none")) == "tanh":
        name = "gelu_tanh"
    elif node.op_type == "Clip":  # attributes before opset 11, optional constant inputs after
        if imp.opset < 11:
            lo, hi = attr(node, "min", -np.inf), attr(node, "max", np.inf)
        else:
            ins = list(node.input) + ["", ""]
            if any(n and not imp.tensor(n).is_const for n in ins[1:3]):
                return _clip_from_tensors(imp, node, ins[1], ins[2])
            lo, hi = imp.const(node, 1, "min"), imp.const(node, 2, "max")
            lo = -np.inf if lo is None else lo
            hi = np.inf if hi is None else hi
        params = [float(lo), float(hi)]
    elif node.op_type == "Pow":
        exponent = imp.tensor(node.input[1])
        if not exponent.is_const or exponent.value.size != 1:
            return eltwise("pow")(imp, node)  # a tensor of exponents: an eltwise kernel
        params = [float(exponent.value.reshape(()))]
    src = imp.ins(node)[0]
    imp.add("act", node, [src], imp.g.tensors[src].shape, {"act": (name, *params)})


def _clip_from_tensors(imp, node, lo: str, hi: str):
    """Clip with run-time bounds: max(x, lo) then min(., hi) as eltwise kernels."""
    cur = imp.ins(node)[0]
    shape = imp.g.tensors[cur].shape
    steps = [(op, imp.alias.get(b, b)) for op, b in (("max", lo), ("min", hi)) if b]
    for k, (op, bound) in enumerate(steps):
        last = k == len(steps) - 1
        cur = imp.add("eltwise", node, [cur, bound], shape, {"op": op},
                      output=None if last else node.output[0] + "#lo")


def op_softmax(imp, node, log=False):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    flatten = imp.opset < 13
    axis = int(attr(node, "axis", 1 if flatten else -1))
    axis = axis + len(shape) if axis < 0 else axis
    imp.add("softmax", node, [src], shape, dict(axis=axis, flatten=flatten, log=log))


def op_lrn(imp, node):
    src = imp.ins(node)[0]
    imp.add("lrn", node, [src], imp.g.tensors[src].shape,
            dict(size=int(attr(node, "size")), alpha=float(attr(node, "alpha", 1e-4)),
                 beta=float(attr(node, "beta", 0.75)), bias=float(attr(node, "bias", 1.0))))


def op_gemm(imp, node):
    ins = imp.ins(node)
    a, b = imp.g.tensors[ins[0]].shape, imp.g.tensors[ins[1]].shape
    ta, tb = bool(attr(node, "transA", 0)), bool(attr(node, "transB", 0))
    m, k = (a[1], a[0]) if ta else a
    k2, n = (b[1], b[0]) if tb else b
    if k != k2:
        raise BodaError(f"Gemm node {node.name!r}: inner dims differ ({a} x {b})")
    attrs = dict(trans_a=ta, trans_b=tb, alpha=float(attr(node, "alpha", 1.0)),
                 beta=float(attr(node, "beta", 1.0)))
    imp.add("matmul", node, ins, (m, n), attrs)


def op_matmul(imp, node):
    ins = imp.ins(node)
    a, b = imp.g.tensors[ins[0]].shape, imp.g.tensors[ins[1]].shape
    a2, b2 = ins[0], ins[1]
    if len(a) == 1:
        a2 = imp.reshape(node, ins[0], (1,) + a, output=node.output[0] + "#a2d")
    if len(b) == 1:
        b2 = imp.reshape(node, ins[1], b + (1,), output=node.output[0] + "#b2d")
    sa, sb = imp.g.tensors[a2].shape, imp.g.tensors[b2].shape
    if sa[-1] != sb[-2]:
        raise BodaError(f"MatMul node {node.name!r}: inner dims differ ({a} x {b})")
    out = broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
    final = tuple(d for i, d in enumerate(out)
                  if not ((len(a) == 1 and i == len(out) - 2) or (len(b) == 1 and i == len(out) - 1)))
    if final != out:
        mm = imp.add("matmul", node, [a2, b2], out, output=node.output[0] + "#mm")
        imp.reshape(node, mm, final)
    else:
        imp.add("matmul", node, [a2, b2], out)


def eltwise(op):
    def handler(imp, node):
        ins = imp.ins(node)
        for k, i in enumerate(ins):  # a constant bool operand (logic ops, Where): 0/1 floats
            t = imp.g.tensors[i]
            if t.is_const and t.dtype == np.bool_:
                ins[k] = imp.g.const(f"{node.output[0]}#bool{k}", t.value.astype(np.float32))
        shapes = [imp.g.tensors[i].shape for i in ins]
        try:
            out = broadcast_shapes(*shapes)
        except ValueError:
            raise BodaError(f"{node.op_type} node {node.name!r}: shapes {shapes} do not "
                            "broadcast") from None
        if op in ("max", "min") and len(ins) > 2:  # n-ary max/min as a chain of binary ops
            cur = ins[0]
            for k, nxt in enumerate(ins[1:]):
                last = k == len(ins) - 2
                shp = broadcast_shapes(imp.g.tensors[cur].shape, imp.g.tensors[nxt].shape)
                cur = imp.add("eltwise", node, [cur, nxt], shp, {"op": op},
                              output=None if last else f"{node.output[0]}#{k}")
            return
        kind = "copy" if len(ins) == 1 and op != "not" else op
        imp.add("eltwise", node, ins, out, {"op": kind})
    return handler


def op_batchnorm(imp, node):
    ins = imp.ins(node)
    if int(attr(node, "training_mode", 0)):
        raise unsupported(node, imp.opset, "BatchNormalization with training_mode=1")
    for i, what in enumerate(("scale", "B", "mean", "var"), start=1):
        imp.const(node, i, what)
    imp.add("batchnorm", node, ins[:1], imp.g.tensors[ins[0]].shape,
            {"epsilon": float(attr(node, "epsilon", 1e-5))})
    imp.g.nodes[-1].inputs = ins[:5]  # the constant parameters ride along for fold_batchnorm


def op_alias(imp, node):
    imp.alias[node.output[0]] = imp.ins(node)[0]


def op_dropout(imp, node):
    if imp.opset >= 12 and len(node.input) > 2 and node.input[2]:
        training = imp.const(node, 2, "training_mode")
        if training is not None and bool(training):
            raise unsupported(node, imp.opset, "Dropout with training_mode=1")
    op_alias(imp, node)


def op_pad(imp, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    rank = len(shape)
    mode = decode(attr(node, "mode", "constant"))
    if mode not in ("constant", "reflect", "edge"):
        raise unsupported(node, imp.opset, f"Pad mode {mode!r}")
    if imp.opset < 11:
        pads = list(attr(node, "pads", attr(node, "paddings", [])))
        value = float(attr(node, "value", 0.0))
    else:
        pads = [int(p) for p in imp.const(node, 1, "pads")]
        v = imp.const(node, 2, "constant_value")
        value = float(v) if v is not None and v.size else 0.0
    axes = imp.const(node, 3, "axes") if imp.opset >= 18 else None
    axes = list(range(rank)) if axes is None else [int(a) + rank if a < 0 else int(a)
                                                   for a in axes]
    pb, pe = [0] * rank, [0] * rank
    for k, a in enumerate(axes):
        pb[a], pe[a] = pads[k], pads[k + len(axes)]
    if mode == "reflect" and any(p >= d for p, d in zip(pb + pe, shape + shape)):
        raise UnsupportedModelError(f"Pad node {node.name!r}: reflect pads must be smaller "
                                    "than the padded dimension")
    out = tuple(d + b + e for d, b, e in zip(shape, pb, pe))
    imp.add("pad", node, [src], out, dict(pad_begin=tuple(pb), pad_end=tuple(pe), mode=mode,
                                           value=value))
