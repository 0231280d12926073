"""The handlers of the ops that only move or re-view data (Concat, Flatten, Reshape, Squeeze,
Unsqueeze, Transpose, Slice, Split, Expand, Tile, DepthToSpace, SpaceToDepth, Cast between
float types) or read a shape (Shape, Size); ops.py holds the table of every op."""
from __future__ import annotations

import numpy as np
import onnx

from ..errors import BodaError, UnsupportedModelError
from ..ir.views import numel
from .graph import Tensor
from .node_attrs import attr, decode


def op_concat(imp, node):
    ins = imp.ins(node)
    shapes = [imp.g.tensors[i].shape for i in ins]
    rank = len(shapes[0])
    axis = int(attr(node, "axis", 1 if imp.opset < 4 else None))
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


def op_flatten(imp, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    axis = int(attr(node, "axis", 1))
    axis = axis + len(shape) if axis < 0 else axis
    imp.reshape(node, src, (numel(shape[:axis]), numel(shape[axis:])))


def op_reshape(imp, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    target = [int(d) for d in imp.const(node, 1, "shape")]
    allowzero = int(attr(node, "allowzero", 0))
    out = [shape[i] if d == 0 and not allowzero else d for i, d in enumerate(target)]
    if -1 in out:
        known = numel(d for d in out if d != -1)
        out[out.index(-1)] = numel(shape) // known if known else 0
    if numel(out) != numel(shape):
        raise BodaError(f"Reshape node {node.name!r}: cannot reshape {shape} to {target}")
    imp.reshape(node, src, out)


def _axes(imp, node, rank):
    axes = attr(node, "axes", None) if imp.opset < 13 else imp.const(node, 1, "axes")
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
    rank = len(out) + len(attr(node, "axes", None) if imp.opset < 13
                          else imp.const(node, 1, "axes"))
    for a in _axes(imp, node, rank):
        out.insert(a, 1)
    imp.reshape(node, src, out)


def op_transpose(imp, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    perm = tuple(attr(node, "perm", None) or reversed(range(len(shape))))
    imp.add("transpose", node, [src], tuple(shape[p] for p in perm), {"perm": perm})


def op_shape(imp, node):
    shape = np.array(imp.tensor(node.input[0]).shape, np.int64)
    if node.op_type == "Size":
        value = np.array(shape.prod(), np.int64)
    else:
        start, end = attr(node, "start", 0), attr(node, "end", None)
        value = shape[start:end]
    imp.g.tensors[node.output[0]] = Tensor(node.output[0], value.shape, value.dtype, value)


def _slice_node(imp, node, src, starts, steps, shape, output):
    imp.add("slice", node, [src], shape, {"starts": tuple(starts), "steps": tuple(steps)},
            output=output)


def op_slice(imp, node):
    """Slice with constant starts, ends, axes and steps (attributes before opset 10, inputs
    from it); indices are clamped as ONNX says, negative ones count from the end, and a
    negative step walks backwards (a copy through a view with negative strides)."""
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    rank = len(shape)
    if imp.opset < 10:
        starts, ends = attr(node, "starts"), attr(node, "ends")
        axes, steps = attr(node, "axes", None), None
    else:
        starts, ends = imp.const(node, 1, "starts"), imp.const(node, 2, "ends")
        axes, steps = imp.const(node, 3, "axes"), imp.const(node, 4, "steps")
    starts, ends = [int(v) for v in np.ravel(starts)], [int(v) for v in np.ravel(ends)]
    axes = list(range(len(starts))) if axes is None else [int(a) % rank for a in np.ravel(axes)]
    steps = [1] * len(starts) if steps is None else [int(v) for v in np.ravel(steps)]
    begin, step, out = [0] * rank, [1] * rank, list(shape)
    for a, b, e, k in zip(axes, starts, ends, steps):
        if k == 0:
            raise UnsupportedModelError(
                f"Slice node {node.name or node.output[0]!r}: a step of 0")
        d = shape[a]
        b, e = b + d if b < 0 else b, e + d if e < 0 else e
        if k > 0:
            b, e = min(max(b, 0), d), min(max(e, 0), d)
        else:
            b, e = min(max(b, 0), d - 1), min(max(e, -1), d - 1)
        begin[a], step[a], out[a] = b, k, max(0, -(-(e - b) // k))
    _slice_node(imp, node, src, begin, step, out, None)


def op_gather(imp, node):
    """Gather by constant indices: indices stepping evenly (a scalar included) are a slice,
    so a view or a strided copy; any others a gather kernel reading them."""
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    rank = len(shape)
    axis = int(attr(node, "axis", 0)) % rank
    idx = np.asarray(imp.const(node, 1, "indices")).astype(np.int64)
    d = shape[axis]
    if idx.size and (idx.min() < -d or idx.max() >= d):
        raise BodaError(f"Gather node {node.name!r}: indices outside [-{d}, {d})")
    idx = np.where(idx < 0, idx + d, idx)
    flat = idx.ravel()
    steps = set(np.diff(flat).tolist())
    if idx.ndim <= 1 and flat.size and (flat.size == 1 or (len(steps) == 1 and 0 not in steps)):
        begin, step, out = [0] * rank, [1] * rank, list(shape)
        begin[axis], out[axis] = int(flat[0]), flat.size
        step[axis] = int(flat[1] - flat[0]) if flat.size > 1 else 1
        if idx.ndim == 0:  # the axis goes away: a view of the one-element slice
            one = node.output[0] + "#one"
            _slice_node(imp, node, src, begin, step, out, one)
            imp.reshape(node, one, shape[:axis] + shape[axis + 1:])
        else:
            _slice_node(imp, node, src, begin, step, out, None)
        return
    ind = imp.g.const(node.output[0] + "#indices", idx.astype(np.float32))
    imp.add("gather", node, [src, ind], shape[:axis] + idx.shape + shape[axis + 1:],
            {"axis": axis})


def op_split(imp, node):
    """Split into windows along one axis; the sizes are an attribute before opset 13, an
    input from it, or (opset 18) `num_outputs` equal parts, the last one smaller."""
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    axis = int(attr(node, "axis", 0)) % len(shape)
    sizes = attr(node, "split", None) if imp.opset < 13 else imp.const(node, 1, "split")
    outputs = list(node.output)
    if sizes is None:
        parts = int(attr(node, "num_outputs", len(outputs)))
        each = -(-shape[axis] // parts)
        sizes = [max(0, min(each, shape[axis] - k * each)) for k in range(parts)]
    sizes = [int(v) for v in np.ravel(sizes)]
    if sum(sizes) != shape[axis] or len(sizes) != len(outputs):
        raise BodaError(f"Split node {node.name!r}: sizes {sizes} do not split axis {axis} "
                        f"of {shape} into {len(outputs)} outputs")
    start = 0
    for size, output in zip(sizes, outputs):
        begin = [0] * len(shape)
        begin[axis] = start
        out = list(shape)
        out[axis] = size
        if output:
            _slice_node(imp, node, src, begin, [1] * len(shape), out, output)
        start += size


def op_expand(imp, node):
    """Expand to a constant shape: a copy kernel reading the input broadcast."""
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    target = tuple(int(d) for d in imp.const(node, 1, "shape"))
    rank = max(len(shape), len(target))
    a, b = (1,) * (rank - len(shape)) + shape, (1,) * (rank - len(target)) + target
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        raise BodaError(f"Expand node {node.name!r}: {shape} does not broadcast to {target}")
    imp.add("eltwise", node, [src], tuple(max(x, y) for x, y in zip(a, b)), {"op": "copy"})


def op_tile(imp, node):
    """Tile by constant repeats: each axis d becomes (r, d) by a broadcast copy of the input
    viewed as (1, d), then the pairs merge (a view)."""
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    repeats = [int(r) for r in np.ravel(imp.const(node, 1, "repeats"))]
    if len(repeats) != len(shape) or min(repeats, default=1) < 0:
        raise BodaError(f"Tile node {node.name!r}: repeats {repeats} for shape {shape}")
    out = node.output[0]
    paired = imp.reshape(node, src, [v for d in shape for v in (1, d)], output=out + "#pairs")
    wide = imp.add("eltwise", node, [paired], [v for r, d in zip(repeats, shape)
                                               for v in (r, d)], {"op": "copy"},
                   output=out + "#tiled")
    imp.reshape(node, wide, [r * d for r, d in zip(repeats, shape)])


def _rearrange(imp, node, src, split_shape, perm, out_shape):
    """Reshape -> Transpose -> Reshape, as DepthToSpace and SpaceToDepth are defined."""
    out = node.output[0]
    a = imp.reshape(node, src, split_shape, output=out + "#split")
    t = imp.add("transpose", node, [a], tuple(split_shape[p] for p in perm),
                {"perm": tuple(perm)}, output=out + "#moved")
    imp.reshape(node, t, out_shape)


def op_depth_to_space(imp, node):
    src = imp.ins(node)[0]
    n, c, h, w = imp.g.tensors[src].shape
    k = int(attr(node, "blocksize"))
    if c % (k * k):
        raise BodaError(f"DepthToSpace node {node.name!r}: {c} channels are not a multiple of "
                        f"blocksize^2 = {k * k}")
    if decode(attr(node, "mode", "DCR")) == "CRD":
        split, perm = (n, c // (k * k), k, k, h, w), (0, 1, 4, 2, 5, 3)
    else:
        split, perm = (n, k, k, c // (k * k), h, w), (0, 3, 4, 1, 5, 2)
    _rearrange(imp, node, src, split, perm, (n, c // (k * k), h * k, w * k))


def op_space_to_depth(imp, node):
    src = imp.ins(node)[0]
    n, c, h, w = imp.g.tensors[src].shape
    k = int(attr(node, "blocksize"))
    if h % k or w % k:
        raise BodaError(f"SpaceToDepth node {node.name!r}: {h}x{w} is not a multiple of "
                        f"blocksize {k}")
    crd = decode(attr(node, "mode", "DCR")) == "CRD"  # the mode attribute is newer
    _rearrange(imp, node, src, (n, c, h // k, k, w // k, k),
               (0, 1, 3, 5, 2, 4) if crd else (0, 3, 5, 1, 2, 4), (n, c * k * k, h // k, w // k))


FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}


def op_cast(imp, node):
    """A Cast between float types is the identity: boda computes in float32."""
    to = int(attr(node, "to"))
    if to not in FLOAT_TYPES:
        raise UnsupportedModelError(
            f"unsupported Cast to {onnx.helper.tensor_dtype_to_np_dtype(to).name} in node "
            f"{node.name or node.output[0]!r} (opset {imp.opset}); boda computes in float32")
    imp.alias[node.output[0]] = imp.ins(node)[0]
