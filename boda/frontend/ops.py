"""Every supported ONNX op in one table (`OPS`): each handler, called as handler(imp, node)
with the running importer.Importer, turns one ONNX node into boda nodes of the Graph (or into
aliases and constants)."""
from __future__ import annotations

import numpy as np
import onnx

from ..errors import BodaError, UnsupportedModelError
from ..ir.problems import broadcast_shapes, conv_out_size
from ..ir.views import numel
from .graph import Tensor

def unsupported(node, opset, why: str) -> UnsupportedModelError:
    """A node whose op is supported but not with these attributes or inputs."""
    return UnsupportedModelError(
        f"unsupported {why} in node {node.name or node.output[0]!r} (opset {opset}); "
        f"supported ops: {', '.join(sorted(OPS))}")


def unsupported_ops(missing: dict, opset: int) -> UnsupportedModelError:
    """One line naming every op the model uses that boda lacks (op -> the nodes using it),
    each with its count and its first node."""
    if len(missing) == 1 and len(next(iter(missing.values()))) == 1:
        [(op, [name])] = missing.items()
        what = f"unsupported op {op!r} in node {name!r}"
    else:
        what = "unsupported ops " + ", ".join(
            f"{op!r} x{len(names)} (first in node {names[0]!r})" for op, names in missing.items())
    return UnsupportedModelError(f"{what} (opset {opset}); supported ops: "
                                 f"{', '.join(sorted(OPS))}")


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _decode(v):
    return v.decode() if isinstance(v, bytes) else v


def _spatial_attrs(node, nsp, kernel):
    strides = tuple(_attr(node, "strides", None) or (1,) * nsp)
    dil = tuple(_attr(node, "dilations", None) or (1,) * nsp)
    pads = _attr(node, "pads", None)
    pads = tuple(pads) if pads else (0,) * (2 * nsp)
    pb, pe = pads[:nsp], pads[nsp:]
    return strides, dil, pb, pe


def _auto_pad(node, in_size, kernel, strides, dil, pb, pe):
    mode = _decode(_attr(node, "auto_pad", "NOTSET"))
    if mode in ("NOTSET", ""):
        return pb, pe
    if mode == "VALID":
        return (0,) * len(in_size), (0,) * len(in_size)
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        raise UnsupportedModelError(f"{node.op_type} node {node.name!r}: auto_pad {mode!r}")
    b, e = [], []
    for i, k, s, d in zip(in_size, kernel, strides, dil):
        out = -(-i // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - i)
        small = total // 2
        b.append(small if mode == "SAME_UPPER" else total - small)
        e.append(total - b[-1])
    return tuple(b), tuple(e)


def op_conv(imp, node):
    ins = imp.ins(node)
    x, w = imp.g.tensors[ins[0]], imp.g.tensors[ins[1]]
    nsp = len(x.shape) - 2
    kernel = tuple(_attr(node, "kernel_shape", None) or w.shape[2:])
    group = int(_attr(node, "group", 1))
    if nsp < 1 or len(w.shape) != nsp + 2 or w.shape[1] * group != x.shape[1] \
            or w.shape[0] % group or tuple(w.shape[2:]) != kernel:
        raise BodaError(f"Conv node {node.name!r}: weights {w.shape} do not fit input "
                        f"{x.shape} with group={group}")
    strides, dil, pb, pe = _spatial_attrs(node, nsp, kernel)
    pb, pe = _auto_pad(node, x.shape[2:], kernel, strides, dil, pb, pe)
    out = conv_out_size(x.shape[2:], kernel, strides, pb, pe, dil)
    attrs = dict(kernel=kernel, stride=strides, pad_begin=pb, pad_end=pe, dilation=dil,
                 group=group)
    imp.add("conv", node, ins, (x.shape[0], w.shape[0]) + out, attrs)


def _pool(imp, node, mode, global_pool=False):
    src = imp.ins(node)[0]
    x = imp.g.tensors[src]
    nsp = len(x.shape) - 2
    if global_pool:
        kernel = tuple(x.shape[2:])
        strides = dil = (1,) * nsp
        pb = pe = (0,) * nsp
        ceil, cip = False, False
    else:
        kernel = tuple(_attr(node, "kernel_shape"))
        strides, dil, pb, pe = _spatial_attrs(node, nsp, kernel)
        pb, pe = _auto_pad(node, x.shape[2:], kernel, strides, dil, pb, pe)
        ceil = bool(_attr(node, "ceil_mode", 0))
        cip = bool(_attr(node, "count_include_pad", 0))
    out = conv_out_size(x.shape[2:], kernel, strides, pb, pe, dil, ceil)
    attrs = dict(mode=mode, kernel=kernel, stride=strides, pad_begin=pb, pad_end=pe,
                 dilation=dil, out_size=out, count_include_pad=cip)
    imp.add("pool", node, [src], x.shape[:2] + out, attrs)


def _act(name):
    def handler(imp, node):
        if name == "relu":
            act = ("relu",)
        elif name == "leakyrelu":
            act = ("leakyrelu", float(_attr(node, "alpha", 0.01)))
        elif name == "sigmoid":
            act = ("sigmoid",)
        else:  # clip: attributes before opset 11, optional constant inputs after
            if imp.opset < 11:
                lo, hi = _attr(node, "min", -np.inf), _attr(node, "max", np.inf)
            else:
                ins = list(node.input) + ["", ""]
                if any(n and not imp.tensor(n).is_const for n in ins[1:3]):
                    return _clip_from_tensors(imp, node, ins[1], ins[2])
                lo, hi = imp.const(node, 1, "min"), imp.const(node, 2, "max")
                lo = -np.inf if lo is None else lo
                hi = np.inf if hi is None else hi
            act = ("clip", float(lo), float(hi))
        src = imp.ins(node)[0]
        imp.add("act", node, [src], imp.g.tensors[src].shape, {"act": act})
    return handler


def _clip_from_tensors(imp, node, lo: str, hi: str):
    """Clip with run-time bounds: max(x, lo) then min(., hi) as eltwise kernels."""
    cur = imp.ins(node)[0]
    shape = imp.g.tensors[cur].shape
    steps = [(op, imp.alias.get(b, b)) for op, b in (("max", lo), ("min", hi)) if b]
    for k, (op, bound) in enumerate(steps):
        last = k == len(steps) - 1
        cur = imp.add("eltwise", node, [cur, bound], shape, {"op": op},
                      output=None if last else node.output[0] + "#lo")


def op_concat(imp, node):
    ins = imp.ins(node)
    shapes = [imp.g.tensors[i].shape for i in ins]
    rank = len(shapes[0])
    axis = int(_attr(node, "axis", 1 if imp.opset < 4 else None))
    axis = axis + rank if axis < 0 else axis
    for s in shapes:
        if len(s) != rank or any(a != b for k, (a, b) in enumerate(zip(s, shapes[0]))
                                 if k != axis):
            raise BodaError(f"Concat node {node.name!r}: shapes {shapes} do not concatenate "
                            f"on axis {axis}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    for i in ins:  # constants reach the concat through a copy kernel
        if imp.g.tensors[i].is_const:
            imp.g.tensors[i] = Tensor(i, imp.g.tensors[i].shape, np.dtype(np.float32),
                                      imp.g.tensors[i].value.astype(np.float32))
    imp.add("concat", node, ins, out, {"axis": axis})


def op_softmax(imp, node, log=False):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    flatten = imp.opset < 13
    axis = int(_attr(node, "axis", 1 if flatten else -1))
    axis = axis + len(shape) if axis < 0 else axis
    imp.add("softmax", node, [src], shape, dict(axis=axis, flatten=flatten, log=log))


def op_lrn(imp, node):
    src = imp.ins(node)[0]
    imp.add("lrn", node, [src], imp.g.tensors[src].shape,
            dict(size=int(_attr(node, "size")), alpha=float(_attr(node, "alpha", 1e-4)),
                 beta=float(_attr(node, "beta", 0.75)), bias=float(_attr(node, "bias", 1.0))))


def op_flatten(imp, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    axis = int(_attr(node, "axis", 1))
    axis = axis + len(shape) if axis < 0 else axis
    imp.reshape(node, src, (numel(shape[:axis]), numel(shape[axis:])))


def op_reshape(imp, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    target = [int(d) for d in imp.const(node, 1, "shape")]
    allowzero = int(_attr(node, "allowzero", 0))
    out = [shape[i] if d == 0 and not allowzero else d for i, d in enumerate(target)]
    if -1 in out:
        known = numel(d for d in out if d != -1)
        out[out.index(-1)] = numel(shape) // known if known else 0
    if numel(out) != numel(shape):
        raise BodaError(f"Reshape node {node.name!r}: cannot reshape {shape} to {target}")
    imp.reshape(node, src, out)


def _axes(imp, node, rank):
    axes = _attr(node, "axes", None) if imp.opset < 13 else imp.const(node, 1, "axes")
    return None if axes is None else sorted(int(a) + rank if a < 0 else int(a) for a in axes)


def op_squeeze(imp, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    axes = _axes(imp, node, len(shape))
    out = [d for i, d in enumerate(shape) if (d != 1 if axes is None else i not in axes)]
    imp.reshape(node, src, out)


def op_unsqueeze(imp, node):
    src = imp.ins(node)[0]
    out = list(imp.g.tensors[src].shape)
    rank = len(out) + len(_attr(node, "axes", None) if imp.opset < 13
                          else imp.const(node, 1, "axes"))
    for a in _axes(imp, node, rank):
        out.insert(a, 1)
    imp.reshape(node, src, out)


def op_transpose(imp, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    perm = tuple(_attr(node, "perm", None) or reversed(range(len(shape))))
    imp.add("transpose", node, [src], tuple(shape[p] for p in perm), {"perm": perm})


def op_gemm(imp, node):
    ins = imp.ins(node)
    a, b = imp.g.tensors[ins[0]].shape, imp.g.tensors[ins[1]].shape
    ta, tb = bool(_attr(node, "transA", 0)), bool(_attr(node, "transB", 0))
    m, k = (a[1], a[0]) if ta else a
    k2, n = (b[1], b[0]) if tb else b
    if k != k2:
        raise BodaError(f"Gemm node {node.name!r}: inner dims differ ({a} x {b})")
    attrs = dict(trans_a=ta, trans_b=tb, alpha=float(_attr(node, "alpha", 1.0)),
                 beta=float(_attr(node, "beta", 1.0)))
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


def _eltwise(op):
    def handler(imp, node):
        ins = imp.ins(node)
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
        kind = "copy" if len(ins) == 1 else op
        imp.add("eltwise", node, ins, out, {"op": kind})
    return handler


def op_batchnorm(imp, node):
    ins = imp.ins(node)
    if int(_attr(node, "training_mode", 0)):
        raise unsupported(node, imp.opset, "BatchNormalization with training_mode=1")
    for i, what in enumerate(("scale", "B", "mean", "var"), start=1):
        imp.const(node, i, what)
    imp.add("batchnorm", node, ins[:1], imp.g.tensors[ins[0]].shape,
            {"epsilon": float(_attr(node, "epsilon", 1e-5))})
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
    mode = _decode(_attr(node, "mode", "constant"))
    if mode not in ("constant", "reflect", "edge"):
        raise unsupported(node, imp.opset, f"Pad mode {mode!r}")
    if imp.opset < 11:
        pads = list(_attr(node, "pads", _attr(node, "paddings", [])))
        value = float(_attr(node, "value", 0.0))
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


def op_shape(imp, node):
    shape = np.array(imp.tensor(node.input[0]).shape, np.int64)
    if node.op_type == "Size":
        value = np.array(shape.prod(), np.int64)
    else:
        start, end = _attr(node, "start", 0), _attr(node, "end", None)
        value = shape[start:end]
    imp.g.tensors[node.output[0]] = Tensor(node.output[0], value.shape, value.dtype, value)


NO_FOLD = {"Shape", "Size"}  # folded by their own handler: they only need a known shape

OPS = {
    "Conv": op_conv,
    "MaxPool": lambda imp, n: _pool(imp, n, "max"),
    "AveragePool": lambda imp, n: _pool(imp, n, "avg"),
    "GlobalMaxPool": lambda imp, n: _pool(imp, n, "max", True),
    "GlobalAveragePool": lambda imp, n: _pool(imp, n, "avg", True),
    "Relu": _act("relu"),
    "LeakyRelu": _act("leakyrelu"),
    "Clip": _act("clip"),
    "Sigmoid": _act("sigmoid"),
    "Concat": op_concat,
    "Softmax": op_softmax,
    "LogSoftmax": lambda imp, n: op_softmax(imp, n, log=True),
    "LRN": op_lrn,
    "Flatten": op_flatten,
    "Reshape": op_reshape,
    "Squeeze": op_squeeze,
    "Unsqueeze": op_unsqueeze,
    "Transpose": op_transpose,
    "Gemm": op_gemm,
    "MatMul": op_matmul,
    "Add": _eltwise("add"),
    "Sub": _eltwise("sub"),
    "Mul": _eltwise("mul"),
    "Div": _eltwise("div"),
    "Sum": _eltwise("sum"),
    "Max": _eltwise("max"),
    "Min": _eltwise("min"),
    "BatchNormalization": op_batchnorm,
    "Dropout": op_dropout,
    "Identity": op_alias,
    "Pad": op_pad,
    "Shape": op_shape,
    "Size": op_shape,
}
