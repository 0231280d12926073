"""The handlers of the ops that grow a feature map: Resize (opsets 10 to 19), Upsample (7, 9)
and ConvTranspose. Each becomes one node (resize, convtranspose) lowering to the Problems of
ir/problems_upsample.py."""
from __future__ import annotations

import numpy as np

from ..errors import BodaError
from ..ir.problems_upsample import COORDINATE_MODES, NEAREST_MODES, convtranspose_out_size
from .node_attrs import attr, decode, spatial_attrs, unsupported


def _resize_node(imp, node, src, scales, sizes, mode, coord, nearest):
    if mode not in ("nearest", "linear"):
        raise unsupported(node, imp.opset, f"{node.op_type} mode {mode!r} (boda resizes "
                          "with nearest and linear)")
    if coord not in COORDINATE_MODES:
        raise unsupported(node, imp.opset, f"{node.op_type} coordinate_transformation_mode "
                          f"{coord!r}")
    if nearest not in NEAREST_MODES:
        raise unsupported(node, imp.opset, f"{node.op_type} nearest_mode {nearest!r}")
    if any(s <= 0 for s in scales) or any(d <= 0 for d in sizes):
        raise BodaError(f"{node.op_type} node {node.name!r}: scales {list(scales)} and "
                        f"sizes {list(sizes)} must be positive")
    imp.add("resize", node, [src], sizes, dict(scales=tuple(float(s) for s in scales),
                                               mode=mode, coord=coord, nearest=nearest))


def _legacy_nearest(node, opset, scales):
    """Upsample and Resize-10 sample asymmetrically, rounding down when enlarging and up when
    shrinking (onnxruntime's rule for these opsets)."""
    changed = [s for s in scales if s != 1.0]
    if all(s > 1 for s in changed):
        return "floor"
    if all(s < 1 for s in changed):
        return "ceil"
    raise unsupported(node, opset, f"{node.op_type} that enlarges some axes and shrinks others")


def op_upsample(imp, node):
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    scales = attr(node, "scales", None) if imp.opset < 9 else imp.const(node, 1, "scales")
    scales = [float(s) for s in np.ravel(scales)]
    if len(scales) != len(shape):
        raise BodaError(f"{node.op_type} node {node.name!r}: {len(scales)} scales for a "
                        f"rank-{len(shape)} input")
    mode = decode(attr(node, "mode", "nearest"))
    mode = "linear" if mode == "bilinear" else mode
    sizes = [int(np.floor(d * s)) for d, s in zip(shape, scales)]
    _resize_node(imp, node, src, scales, sizes, mode, "asymmetric",
                 _legacy_nearest(node, imp.opset, scales))


def op_resize(imp, node):
    if imp.opset < 11:
        return op_upsample(imp, node)
    src = imp.ins(node)[0]
    shape = imp.g.tensors[src].shape
    rank = len(shape)
    mode = decode(attr(node, "mode", "nearest"))
    coord = decode(attr(node, "coordinate_transformation_mode", "half_pixel"))
    if coord == "tf_crop_and_resize":
        raise unsupported(node, imp.opset, "Resize with tf_crop_and_resize (a region of "
                          "interest)")
    if attr(node, "antialias", 0) and mode == "linear":
        raise unsupported(node, imp.opset, "Resize with antialias=1")
    axes = attr(node, "axes", None)
    axes = list(range(rank)) if axes is None else [int(a) % rank for a in axes]
    scales_in, sizes_in = imp.const(node, 2, "scales"), imp.const(node, 3, "sizes")
    scales, sizes = [1.0] * rank, list(shape)
    if sizes_in is not None and np.size(sizes_in):
        given = [int(v) for v in np.ravel(sizes_in)]
        ratios = [g / shape[a] for a, g in zip(axes, given)]
        policy = decode(attr(node, "keep_aspect_ratio_policy", "stretch"))
        if policy != "stretch":
            scale = min(ratios) if policy == "not_larger" else max(ratios)
            ratios = [scale] * len(axes)
            given = [int(scale * shape[a] + 0.5) for a in axes]
        for a, g, r in zip(axes, given, ratios):
            sizes[a], scales[a] = g, r
    elif scales_in is not None and np.size(scales_in):
        for a, s in zip(axes, np.ravel(scales_in)):
            scales[a], sizes[a] = float(s), int(np.floor(shape[a] * float(s)))
    else:
        raise BodaError(f"Resize node {node.name!r}: neither scales nor sizes given")
    _resize_node(imp, node, src, scales, sizes, mode, coord,
                 decode(attr(node, "nearest_mode", "round_prefer_floor")))


def transpose_pads(node, in_size, kernel, strides, dil, pb, pe, out_pad):
    """ConvTranspose's pads: as given, or derived from output_shape or SAME auto_pad (the
    total padding split as ONNX says: the odd one at the end for SAME_UPPER)."""
    nsp = len(in_size)
    mode = decode(attr(node, "auto_pad", "NOTSET"))
    wanted = attr(node, "output_shape", None)
    if wanted is None and mode in ("SAME_UPPER", "SAME_LOWER"):
        wanted = [i * s for i, s in zip(in_size, strides)]
    if mode == "VALID":
        return (0,) * nsp, (0,) * nsp
    if wanted is None:
        return pb, pe
    wanted = list(wanted)[-nsp:]
    b, e = [], []
    for i, k, s, d, op, o in zip(in_size, kernel, strides, dil, out_pad, wanted):
        total = max(0, s * (i - 1) + op + (k - 1) * d + 1 - o)
        small = total // 2
        b.append(small if mode == "SAME_UPPER" else total - small)
        e.append(total - b[-1])
    return tuple(b), tuple(e)


def op_convtranspose(imp, node):
    ins = imp.ins(node)
    x, w = imp.g.tensors[ins[0]], imp.g.tensors[ins[1]]
    nsp = len(x.shape) - 2
    group = int(attr(node, "group", 1))
    kernel = tuple(attr(node, "kernel_shape", None) or w.shape[2:])
    if nsp < 1 or len(w.shape) != nsp + 2 or w.shape[0] != x.shape[1] \
            or x.shape[1] % group or tuple(w.shape[2:]) != kernel:
        raise BodaError(f"ConvTranspose node {node.name!r}: weights {w.shape} do not fit "
                        f"input {x.shape} with group={group}")
    strides, dil, pb, pe = spatial_attrs(node, nsp, kernel)
    out_pad = tuple(attr(node, "output_padding", None) or (0,) * nsp)
    pb, pe = transpose_pads(node, x.shape[2:], kernel, strides, dil, pb, pe, out_pad)
    out = convtranspose_out_size(x.shape[2:], kernel, strides, pb, pe, dil, out_pad)
    wanted = attr(node, "output_shape", None)
    if wanted is not None:  # larger than the kernels reach: the rest is zeros (and bias)
        out = tuple(int(o) for o in list(wanted)[-nsp:])
    if any(o <= 0 for o in out) or any(p < 0 for p in pb):
        raise BodaError(f"ConvTranspose node {node.name!r}: pads {pb + pe} leave output "
                        f"size {out}")
    attrs = dict(kernel=kernel, stride=strides, pad_begin=pb, dilation=dil, group=group)
    imp.add("convtranspose", node, ins, (x.shape[0], w.shape[1] * group) + out, attrs)
