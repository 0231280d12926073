"""Reading an ONNX node's attributes, the spatial ones convolutions and pools share, and the
error for a supported op used in a way boda does not support."""
from __future__ import annotations

import onnx

from ..errors import UnsupportedModelError


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def unsupported(node, opset, why: str) -> UnsupportedModelError:
    """A node whose op is supported but not with these attributes or inputs."""
    return UnsupportedModelError(
        f"unsupported {why} in node {node.name or node.output[0]!r} (opset {opset})")


def decode(v):
    return v.decode() if isinstance(v, bytes) else v


def spatial_attrs(node, nsp, kernel):
    strides = tuple(attr(node, "strides", None) or (1,) * nsp)
    dil = tuple(attr(node, "dilations", None) or (1,) * nsp)
    pads = attr(node, "pads", None)
    pads = tuple(pads) if pads else (0,) * (2 * nsp)
    pb, pe = pads[:nsp], pads[nsp:]
    return strides, dil, pb, pe


def auto_pad(node, in_size, kernel, strides, dil, pb, pe):
    mode = decode(attr(node, "auto_pad", "NOTSET"))
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
