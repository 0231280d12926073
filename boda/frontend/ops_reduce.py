"""The handlers of the ops that reduce: Reduce* over any axes, ArgMax/ArgMin, TopK, and the
normalizations InstanceNormalization and LayerNormalization. Mean or max over exactly the
spatial axes stays a global pool (ops.pool); everything else becomes a reduce or norm node,
lowering to the Problems of ir/problems_norm.py. A keepdims=0 output is a view (reshape) of
the kept-dims one."""
from __future__ import annotations

import numpy as np

from ..errors import BodaError
from .node_attrs import attr, unsupported
from .ops import op_alias, pool

REDUCE_MODES = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max",
                "ReduceMin": "min", "ReduceProd": "prod", "ReduceL1": "l1", "ReduceL2": "l2",
                "ReduceSumSquare": "sumsquare", "ReduceLogSum": "logsum",
                "ReduceLogSumExp": "logsumexp"}
POOL_MODES = {"mean": "avg", "max": "max"}


def _keepdims_output(node, kept_shape, axes):
    """The name the kernel writes: the node's output, or with keepdims=0 a temporary that
    the output views without the reduced axes."""
    if attr(node, "keepdims", 1):
        return None, None
    final = tuple(d for a, d in enumerate(kept_shape) if a not in axes)
    return node.output[0] + "#kept", final


def op_reduce(imp, node):
    mode = REDUCE_MODES[node.op_type]
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    rank = len(shape)
    axes_input = imp.opset >= (13 if node.op_type == "ReduceSum" else 18)
    given = imp.const(node, 1, "axes") if axes_input else attr(node, "axes", None)
    axes = [] if given is None else sorted({int(a) % rank for a in np.ravel(given)})
    if not axes:
        if attr(node, "noop_with_empty_axes", 0):
            return op_alias(imp, node)
        axes = list(range(rank))
    if any(shape[a] == 0 for a in axes):
        raise unsupported(node, imp.opset, f"{node.op_type} over an empty axis")
    kept = tuple(1 if a in axes else d for a, d in enumerate(shape))
    tmp, final = _keepdims_output(node, kept, axes)
    if mode in POOL_MODES and rank >= 3 and axes == list(range(2, rank)):
        out = pool(imp, node, POOL_MODES[mode], global_pool=True, output=tmp)
    else:
        out = imp.add("reduce", node, [src], kept, dict(mode=mode, axes=tuple(axes)),
                      output=tmp)
    if tmp:
        imp.reshape(node, out, final)


def op_arg(imp, node):
    """ArgMax / ArgMin along one axis. The kernel writes the index as a float (exact below
    2^24); the output tensor is int64, which the session returns as onnxruntime does."""
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    axis = int(attr(node, "axis", 0)) % len(shape)
    if shape[axis] >= 2 ** 24:
        raise unsupported(node, imp.opset, f"{node.op_type} over an axis of {shape[axis]}")
    kept = tuple(1 if a == axis else d for a, d in enumerate(shape))
    tmp, final = _keepdims_output(node, kept, [axis])
    out = imp.add("reduce", node, [src], kept,
                  dict(mode=node.op_type.lower(), axes=(axis,),
                       last=bool(attr(node, "select_last_index", 0))), output=tmp)
    if tmp:
        out = imp.reshape(node, out, final)
    imp.g.tensors[out].dtype = np.dtype(np.int64)


def op_topk(imp, node):
    """TopK (k an attribute before opset 10, a constant input from it): one kernel for the
    values and one for the indices (int64), each where its output is used."""
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    axis = int(attr(node, "axis", -1)) % len(shape)
    k = int(attr(node, "k")) if imp.opset < 10 else int(np.ravel(imp.const(node, 1, "K"))[0])
    if not 0 < k <= shape[axis]:
        raise BodaError(f"TopK node {node.name!r}: k={k} for an axis of {shape[axis]}")
    out_shape = shape[:axis] + (k,) + shape[axis + 1:]
    for i, output in enumerate(node.output[:2]):
        if output:
            imp.add("topk", node, [src], out_shape, dict(
                axis=axis, k=k, largest=bool(attr(node, "largest", 1)), indices=i == 1),
                output=output)
    if len(node.output) > 1 and node.output[1]:
        imp.g.tensors[node.output[1]].dtype = np.dtype(np.int64)


def op_instance_norm(imp, node):
    ins = imp.ins(node)
    shape = imp.g.tensors[ins[0]].shape
    if len(shape) < 3 or len(ins) != 3 or any(
            imp.g.tensors[i].shape != (shape[1],) for i in ins[1:]):
        raise BodaError(f"InstanceNormalization node {node.name!r}: scale and B must have "
                        f"shape ({shape[1] if len(shape) > 1 else '?'},) for input {shape}")
    imp.add("norm", node, ins, shape, dict(axis=2, instance=True,
                                           epsilon=float(attr(node, "epsilon", 1e-5))))


def op_layer_norm(imp, node):
    ins = imp.ins(node)
    shape = imp.g.tensors[ins[0]].shape
    axis = int(attr(node, "axis", -1)) % len(shape)
    tail = shape[axis:]
    for i in ins[1:]:
        s = imp.g.tensors[i].shape
        if len(s) > len(tail) or any(a not in (1, b) for a, b in zip(s[::-1], tail[::-1])):
            raise BodaError(f"LayerNormalization node {node.name!r}: {i!r} of shape {s} "
                            f"does not broadcast to the normalized shape {tail}")
    epsilon = float(attr(node, "epsilon", 1e-5))
    imp.add("norm", node, ins, shape, dict(axis=axis, epsilon=epsilon))
    axes = tuple(range(axis, len(shape)))
    kept = tuple(1 if a in axes else d for a, d in enumerate(shape))
    for out, mode in zip(node.output[1:], ("mean", "invstddev")):  # the optional statistics
        if out:
            imp.add("reduce", node, [ins[0]], kept, dict(mode=mode, axes=axes, epsilon=epsilon),
                    output=out)
