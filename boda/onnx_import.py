"""ONNX -> Graph: loading, checking, constant folding, and every supported op in one table.

Import specializes the model to concrete input shapes: every node whose inputs are all
constant (Constant, ConstantOfShape, Shape/Gather/Concat chains feeding a Reshape, ...) is
evaluated on the host by onnx's reference evaluator, so only real tensor work reaches kernels.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import onnx
from onnx import numpy_helper

from .errors import BodaError, InputError, UnsupportedModelError
from .graph import Graph, Node, Tensor
from .layout import numel
from .problems import broadcast_shapes, conv_out_size

MIN_OPSET = 7


def load_model(model) -> onnx.ModelProto:
    """A ModelProto from a path, bytes or a ModelProto; BodaError if it is not valid ONNX."""
    if isinstance(model, onnx.ModelProto):
        proto = model
        label = "model"
    else:
        label = str(model)
        try:
            if isinstance(model, (bytes, bytearray)):
                proto = onnx.load_from_string(bytes(model))
            else:
                if not os.path.isfile(model):
                    raise BodaError(f"model file not found: {model}")
                proto = onnx.load(model, load_external_data=True)
        except BodaError:
            raise
        except Exception as exc:
            raise BodaError(f"{label} is not a valid ONNX file ({type(exc).__name__}: "
                            f"{_first_line(exc)})") from None
    if not proto.graph.node and not proto.graph.output:
        raise BodaError(f"{label} is not an ONNX model (no graph)")
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise BodaError(f"{label} failed the ONNX checker: {_first_line(exc)}") from None
    return proto


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def opset_of(model: onnx.ModelProto) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    return 1


def input_specs(model: onnx.ModelProto) -> list[tuple[str, tuple, np.dtype]]:
    """(name, shape with None for symbolic dims, dtype) of each runtime input."""
    inits = {i.name for i in model.graph.initializer}
    specs = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type) if tt.elem_type else None
        specs.append((vi.name, shape, np.dtype(dtype) if dtype is not None else None))
    return specs


class Importer:
    def __init__(self, model: onnx.ModelProto, shapes: dict, values: dict):
        self.model = model
        self.opset = opset_of(model)
        self.g = Graph()
        self.alias: dict[str, str] = {}
        self.shapes = shapes
        self.values = values
        self.extra_outputs: list[str] = []  # Dropout masks, MaxPool indices, ...

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
        for out in self.model.graph.output:
            name = self.alias.get(out.name, out.name)
            if name not in g.tensors:
                raise BodaError(f"graph output {out.name!r} is not produced by any node")
            g.outputs.append((out.name, name))
        return g

    def convert(self, node):
        if node.domain not in ("", "ai.onnx"):
            raise _unsupported(node, self.opset, f"domain {node.domain!r}")
        for i in node.input:
            if i and self.alias.get(i, i) not in self.g.tensors:
                raise BodaError(f"{node.op_type} node {node.name!r} reads {i!r}, "
                                "which nothing produces")
        inputs = [self.tensor(i) for i in node.input if i]
        if node.op_type not in NO_FOLD and all(t.is_const for t in inputs):
            return self.fold(node)
        handler = OPS.get(node.op_type)
        if handler is None:
            raise _unsupported(node, self.opset)
        handler(self, node)
        self.extra_outputs += [o for o in node.output[1:] if o]

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
                f"{_first_line(exc)}") from None
        for name, value in zip([o for o in node.output if o], results):
            value = np.asarray(value)
            self.g.tensors[name] = Tensor(name, value.shape, value.dtype, value)


def _unsupported(node, opset, why=None) -> UnsupportedModelError:
    what = why or f"op {node.op_type!r}"
    return UnsupportedModelError(
        f"unsupported {what} in node {node.name or node.output[0]!r} (opset {opset}); "
        f"supported ops: {', '.join(sorted(OPS))}")


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


# ---------------------------------------------------------------------------------------
# op handlers: each turns one ONNX node into boda nodes (or aliases / constants)

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


def op_conv(imp: Importer, node):
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


def _pool(imp: Importer, node, mode, global_pool=False):
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
    def handler(imp: Importer, node):
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


def _clip_from_tensors(imp: Importer, node, lo: str, hi: str):
    """Clip with run-time bounds: max(x, lo) then min(., hi) as eltwise kernels."""
    cur = imp.ins(node)[0]
    shape = imp.g.tensors[cur].shape
    steps = [(op, imp.alias.get(b, b)) for op, b in (("max", lo), ("min", hi)) if b]
    for k, (op, bound) in enumerate(steps):
        last = k == len(steps) - 1
        cur = imp.add("eltwise", node, [cur, bound], shape, {"op": op},
                      output=None if last else node.output[0] + "#lo")


def op_concat(imp: Importer, node):
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


def op_softmax(imp: Importer, node, log=False):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    flatten = imp.opset < 13
    axis = int(_attr(node, "axis", 1 if flatten else -1))
    axis = axis + len(shape) if axis < 0 else axis
    imp.add("softmax", node, [src], shape, dict(axis=axis, flatten=flatten, log=log))


def op_lrn(imp: Importer, node):
    src = imp.ins(node)[0]
    imp.add("lrn", node, [src], imp.g.tensors[src].shape,
            dict(size=int(_attr(node, "size")), alpha=float(_attr(node, "alpha", 1e-4)),
                 beta=float(_attr(node, "beta", 0.75)), bias=float(_attr(node, "bias", 1.0))))


def op_flatten(imp: Importer, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    axis = int(_attr(node, "axis", 1))
    axis = axis + len(shape) if axis < 0 else axis
    imp.reshape(node, src, (numel(shape[:axis]), numel(shape[axis:])))


def op_reshape(imp: Importer, node):
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


def op_squeeze(imp: Importer, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    axes = _axes(imp, node, len(shape))
    out = [d for i, d in enumerate(shape) if (d != 1 if axes is None else i not in axes)]
    imp.reshape(node, src, out)


def op_unsqueeze(imp: Importer, node):
    src = imp.ins(node)[0]
    out = list(imp.g.tensors[src].shape)
    rank = len(out) + len(_attr(node, "axes", None) if imp.opset < 13
                          else imp.const(node, 1, "axes"))
    for a in _axes(imp, node, rank):
        out.insert(a, 1)
    imp.reshape(node, src, out)


def op_transpose(imp: Importer, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    perm = tuple(_attr(node, "perm", None) or reversed(range(len(shape))))
    imp.add("transpose", node, [src], tuple(shape[p] for p in perm), {"perm": perm})


def op_gemm(imp: Importer, node):
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


def op_matmul(imp: Importer, node):
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
    def handler(imp: Importer, node):
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


def op_batchnorm(imp: Importer, node):
    ins = imp.ins(node)
    if int(_attr(node, "training_mode", 0)):
        raise _unsupported(node, imp.opset, "BatchNormalization with training_mode=1")
    for i, what in enumerate(("scale", "B", "mean", "var"), start=1):
        imp.const(node, i, what)
    imp.add("batchnorm", node, ins[:1], imp.g.tensors[ins[0]].shape,
            {"epsilon": float(_attr(node, "epsilon", 1e-5))})
    imp.g.nodes[-1].inputs = ins[:5]  # the constant parameters ride along for fold_batchnorm


def op_alias(imp: Importer, node):
    imp.alias[node.output[0]] = imp.ins(node)[0]


def op_dropout(imp: Importer, node):
    if imp.opset >= 12 and len(node.input) > 2 and node.input[2]:
        training = imp.const(node, 2, "training_mode")
        if training is not None and bool(training):
            raise _unsupported(node, imp.opset, "Dropout with training_mode=1")
    op_alias(imp, node)


def op_pad(imp: Importer, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    rank = len(shape)
    mode = _decode(_attr(node, "mode", "constant"))
    if mode not in ("constant", "reflect", "edge"):
        raise _unsupported(node, imp.opset, f"Pad mode {mode!r}")
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


def op_shape(imp: Importer, node):
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
