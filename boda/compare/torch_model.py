"""An ONNX graph run op by op with PyTorch, so cuDNN can run the very network boda runs (the
GPU machines have PyTorch but no onnx2torch, and no registry to fetch it from).

Covers the ops of the CNNs boda benchmarks; anything else is refused naming the op and node.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import UnsupportedModelError


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads(a, dims):
    pads = list(a.get("pads", [0] * 2 * dims))
    return pads[:dims], pads[dims:]


class TorchModel:
    """`TorchModel(model, device)(feeds)` -> the graph outputs as torch tensors."""

    def __init__(self, model, device):
        import torch
        self.torch, self.device = torch, device
        self.model = model
        self.consts = {t.name: _tensor(torch, numpy_helper.to_array(t), device)
                       for t in model.graph.initializer}
        inits = set(self.consts)
        self.inputs = [i.name for i in model.graph.input if i.name not in inits]
        self.outputs = [o.name for o in model.graph.output]
        for node in model.graph.node:
            if node.op_type not in OPS and node.op_type != "Constant":
                raise UnsupportedModelError(
                    f"the PyTorch reference does not support op {node.op_type} "
                    f"(node {node.name or node.output[0]})")

    def __call__(self, feeds: dict) -> list:
        env = dict(self.consts)
        env.update(feeds)
        for node in self.model.graph.node:
            args = [env[n] if n else None for n in node.input]
            if node.op_type == "Constant":
                out = _tensor(self.torch, numpy_helper.to_array(node.attribute[0].t),
                              self.device)
            else:
                out = OPS[node.op_type](self.torch, args, _attrs(node))
            outs = out if isinstance(out, tuple) else (out,)
            for name, value in zip(node.output, outs):
                env[name] = value
        return [env[n] for n in self.outputs]


def _tensor(torch, array, device):
    """Shapes and scalars stay on the host: ops read them there, and a device-to-host read
    would break CUDA graph capture."""
    t = torch.from_numpy(np.array(array))
    return t if array.dtype.kind in "iub" or array.size <= 1 else t.to(device)


def _conv(torch, args, a):
    x, w, *b = args
    F = torch.nn.functional
    dims = w.dim() - 2
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise UnsupportedModelError("the PyTorch reference does not support Conv auto_pad")
    begin, end = _pads(a, dims)
    if begin != end:
        x = F.pad(x, [p for d in reversed(range(dims)) for p in (begin[d], end[d])])
        begin = [0] * dims
    conv = getattr(F, f"conv{dims}d")
    return conv(x, w, b[0] if b else None, stride=a.get("strides", 1), padding=begin,
                dilation=a.get("dilations", 1), groups=a.get("group", 1))


def _pool(kind):
    def pool(torch, args, a):
        F = torch.nn.functional
        x = args[0]
        dims = x.dim() - 2
        begin, end = _pads(a, dims)
        ceil = bool(a.get("ceil_mode", 0))
        if begin != end:
            fill = -float("inf") if kind == "max" else 0.0
            x = F.pad(x, [p for d in reversed(range(dims)) for p in (begin[d], end[d])],
                      value=fill)
            begin = [0] * dims
        kernel, stride = a["kernel_shape"], a.get("strides", 1)
        if kind == "max":
            return getattr(F, f"max_pool{dims}d")(x, kernel, stride, begin, ceil_mode=ceil)
        return getattr(F, f"avg_pool{dims}d")(
            x, kernel, stride, begin, ceil_mode=ceil,
            count_include_pad=bool(a.get("count_include_pad", 0)))
    return pool


def _reshape(torch, args, a):
    x, shape = args
    shape = [int(s) for s in shape.tolist()]
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _gemm(torch, args, a):
    x, w, *c = args
    x = x.t() if a.get("transA", 0) else x
    w = w.t() if a.get("transB", 0) else w
    y = a.get("alpha", 1.0) * (x @ w)
    return y + a.get("beta", 1.0) * c[0] if c and c[0] is not None else y


def _batchnorm(torch, args, a):
    x, scale, bias, mean, var = args[:5]
    return torch.nn.functional.batch_norm(x, mean, var, scale, bias, False, 0.0,
                                          a.get("epsilon", 1e-5))


def _lrn(torch, args, a):
    return torch.nn.functional.local_response_norm(
        args[0], a["size"], a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0))


def _clip(torch, args, a):
    lo = args[1] if len(args) > 1 and args[1] is not None else a.get("min")
    hi = args[2] if len(args) > 2 and args[2] is not None else a.get("max")
    return torch.clamp(args[0], None if lo is None else float(lo),
                       None if hi is None else float(hi))


def _softmax(torch, args, a):
    return torch.softmax(args[0], a.get("axis", -1))


def _flatten(torch, args, a):
    x = args[0]
    axis = a.get("axis", 1) % max(x.dim(), 1)
    return x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)


OPS = {
    "Conv": _conv,
    "Relu": lambda torch, args, a: torch.relu(args[0]),
    "Sigmoid": lambda torch, args, a: torch.sigmoid(args[0]),
    "Clip": _clip,
    "MaxPool": _pool("max"),
    "AveragePool": _pool("avg"),
    "GlobalAveragePool": lambda torch, args, a: args[0].mean(
        dim=tuple(range(2, args[0].dim())), keepdim=True),
    "GlobalMaxPool": lambda torch, args, a: args[0].amax(
        dim=tuple(range(2, args[0].dim())), keepdim=True),
    "Concat": lambda torch, args, a: torch.cat(args, a["axis"]),
    "Dropout": lambda torch, args, a: args[0],
    "Identity": lambda torch, args, a: args[0],
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Softmax": _softmax,
    "Gemm": _gemm,
    "MatMul": lambda torch, args, a: args[0] @ args[1],
    "Add": lambda torch, args, a: args[0] + args[1],
    "Mul": lambda torch, args, a: args[0] * args[1],
    "BatchNormalization": _batchnorm,
    "LRN": _lrn,
}
