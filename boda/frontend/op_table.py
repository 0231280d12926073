"""Every supported ONNX op in one table (`OPS`: op type -> handler), and the one-line error
naming every op a model uses that boda lacks."""
from __future__ import annotations

from ..errors import UnsupportedModelError
from ..ir.activations import BY_ONNX
from .ops import (eltwise, op_activation, op_alias, op_batchnorm, op_conv, op_dropout,
                  op_gemm, op_lrn, op_matmul, op_pad, op_softmax, pool)
from .ops_reduce import (REDUCE_MODES, op_arg, op_instance_norm, op_layer_norm, op_reduce,
                         op_topk)
from .ops_upsample import op_convtranspose, op_resize, op_upsample
from .shape_ops import (op_cast, op_concat, op_depth_to_space, op_expand, op_flatten,
                        op_gather, op_reshape, op_shape, op_slice, op_space_to_depth, op_split,
                        op_squeeze, op_tile, op_transpose, op_unsqueeze)


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


NO_FOLD = {"Shape", "Size"}  # folded by their own handler: they only need a known shape


OPS = {
    "Conv": op_conv,
    "MaxPool": lambda imp, n: pool(imp, n, "max"),
    "AveragePool": lambda imp, n: pool(imp, n, "avg"),
    "GlobalMaxPool": lambda imp, n: pool(imp, n, "max", True),
    "GlobalAveragePool": lambda imp, n: pool(imp, n, "avg", True),
    "Concat": op_concat,
    "Softmax": op_softmax,
    "LogSoftmax": lambda imp, n: op_softmax(imp, n, log=True),
    "LRN": op_lrn,
    "Flatten": op_flatten,
    "Reshape": op_reshape,
    "Squeeze": op_squeeze,
    "Unsqueeze": op_unsqueeze,
    "Transpose": op_transpose,
    "Slice": op_slice,
    "Split": op_split,
    "Expand": op_expand,
    "Tile": op_tile,
    "DepthToSpace": op_depth_to_space,
    "SpaceToDepth": op_space_to_depth,
    "Cast": op_cast,
    "Mean": eltwise("mean"),
    "Gemm": op_gemm,
    "MatMul": op_matmul,
    "Add": eltwise("add"),
    "Sub": eltwise("sub"),
    "Mul": eltwise("mul"),
    "Div": eltwise("div"),
    "Sum": eltwise("sum"),
    "Max": eltwise("max"),
    "Min": eltwise("min"),
    "BatchNormalization": op_batchnorm,
    "Dropout": op_dropout,
    "Identity": op_alias,
    "Pad": op_pad,
    "PRelu": eltwise("prelu"),
    **{op: op_reduce for op in REDUCE_MODES},
    "Gather": op_gather,
    "TopK": op_topk,
    "Where": eltwise("where"),
    # comparisons and logic compute 0/1 floats (bool graph outputs are converted back)
    "Greater": eltwise("greater"),
    "Less": eltwise("less"),
    "Equal": eltwise("equal"),
    "GreaterOrEqual": eltwise("greater_equal"),
    "LessOrEqual": eltwise("less_equal"),
    "And": eltwise("and"),
    "Or": eltwise("or"),
    "Xor": eltwise("xor"),
    "Not": eltwise("not"),
    "ArgMax": op_arg,
    "ArgMin": op_arg,
    "InstanceNormalization": op_instance_norm,
    "LayerNormalization": op_layer_norm,
    "Resize": op_resize,
    "Upsample": op_upsample,
    "ConvTranspose": op_convtranspose,
    **{op: op_activation for op in BY_ONNX},
    "Shape": op_shape,
    "Size": op_shape,
}
