"""The zoo's families deployed on phones and boards, as torchvision (or the paper) builds
them, at 224x224 with seeded weights and the op patterns PyTorch's exporter writes (opset 18:
ReduceMean for the pools inside squeeze-excitation, Clip for ReLU6, Sigmoid*Mul for SiLU).

    mobilenet_v2        inverted residuals with linear bottlenecks and residual Adds
    mobilenet_v3_small  HardSwish, squeeze-excitation gated by HardSigmoid
    efficientnet_b0     MBConv with SiLU and Sigmoid-gated squeeze-excitation, 5x5 depthwise
    shufflenet_v2       ShuffleNetV2 x0.5: channel Split, Concat and the channel shuffle
                        (Reshape, Transpose, Reshape)
    squeezenext         SqNxt-23 (Gholami et al. 2018, this project's lineage): 1x1
                        squeezes, 3x1 and 1x3 separable convs, residual bottlenecks
"""
from __future__ import annotations

import numpy as np

from .zoo_builder import Builder

OPSET = 18


def _divisible(v: float, d: int = 8) -> int:
    """torchvision's _make_divisible: channels rounded to a multiple of 8, never 10% down."""
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def _head(b, h, cin, batch, name, hidden=None, act="relu"):
    h = b.node("Flatten", [b.spatial_mean(h)], axis=1)
    if hidden:
        h = b.act(b.linear(h, cin, hidden), act)
        cin = hidden
    h = b.linear(b.node("Dropout", [h]), cin, 1000)
    return b.model("data", [batch, 3, 224, 224], h, [batch, 1000], name, OPSET)


def _inverted_residual(b, h, cin, hidden, c, k, stride, act, se=None):
    """Expand (1x1, unless hidden == cin), depthwise k x k, optional squeeze-excitation
    (se: (squeeze channels, inner activation, gate)), project (1x1, linear), and add the
    input when the shapes allow."""
    y = h if hidden == cin else b.conv_bn(h, cin, hidden, 1, act=act)
    y = b.conv_bn(y, hidden, hidden, k, stride, group=hidden, act=act)
    if se:
        y = b.squeeze_excite(y, hidden, *se)
    y = b.conv_bn(y, hidden, c, 1, act="none")
    return b.node("Add", [h, y]) if stride == 1 and cin == c else y


def mobilenet_v2(batch=1, seed=0):
    b = Builder(seed)
    h, cin = b.conv_bn("data", 3, 32, 3, 2, act="relu6"), 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            h = _inverted_residual(b, h, cin, cin * t, c, 3, s if i == 0 else 1, "relu6")
            cin = c
    h = b.conv_bn(h, cin, 1280, 1, act="relu6")
    return _head(b, h, 1280, batch, "mobilenet_v2")


def mobilenet_v3_small(batch=1, seed=0):
    b = Builder(seed)
    h, cin = b.conv_bn("data", 3, 16, 3, 2, act="hardswish"), 16
    for k, exp, c, se, act, s in [
            (3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2),
            (3, 88, 24, False, "relu", 1), (5, 96, 40, True, "hardswish", 2),
            (5, 240, 40, True, "hardswish", 1), (5, 240, 40, True, "hardswish", 1),
            (5, 120, 48, True, "hardswish", 1), (5, 144, 48, True, "hardswish", 1),
            (5, 288, 96, True, "hardswish", 2), (5, 576, 96, True, "hardswish", 1),
            (5, 576, 96, True, "hardswish", 1)]:
        h = _inverted_residual(b, h, cin, exp, c, k, s, act,
                               (_divisible(exp // 4), "relu", "hardsigmoid") if se else None)
        cin = c
    h = b.conv_bn(h, cin, 576, 1, act="hardswish")
    return _head(b, h, 576, batch, "mobilenet_v3_small", hidden=1024, act="hardswish")


def efficientnet_b0(batch=1, seed=0):
    b = Builder(seed)
    h, cin = b.conv_bn("data", 3, 32, 3, 2, act="silu"), 32
    for t, k, s, c, n in [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2),
                          (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
                          (6, 3, 1, 320, 1)]:
        for i in range(n):
            h = _inverted_residual(b, h, cin, cin * t, c, k, s if i == 0 else 1, "silu",
                                   (max(1, cin // 4), "silu", "sigmoid"))
            cin = c
    h = b.conv_bn(h, cin, 1280, 1, act="silu")
    return _head(b, h, 1280, batch, "efficientnet_b0")


def shufflenet_v2(batch=1, seed=0):
    """torchvision's shufflenet_v2_x0_5: a stride-1 unit splits the channels in halves and
    convolves one; a stride-2 unit convolves both branches; then the halves are shuffled."""
    b = Builder(seed)
    h = b.maxpool(b.conv_bn("data", 3, 24, 3, 2), 3, 2, pad=1)
    cin, size = 24, 56

    def branch(x, c_in, c, stride):
        y = b.conv_bn(x, c_in, c, 1)
        y = b.conv_bn(y, c, c, 3, stride, group=c, act="none")
        return b.conv_bn(y, c, c, 1)

    for cout, repeats in [(48, 4), (96, 8), (192, 4)]:
        for i in range(repeats):
            half = cout // 2
            if i == 0:  # stride 2: both branches see the whole input
                size //= 2
                left = b.conv_bn(b.conv_bn(h, cin, cin, 3, 2, group=cin, act="none"),
                                 cin, half, 1)
                right = branch(h, cin, half, 2)
            else:
                left, x2 = b.node_outputs("Split", [h], 2, axis=1, num_outputs=2)
                right = branch(x2, half, half, 1)
            h = b.node("Concat", [left, right], axis=1)
            h = b.node("Reshape", [h, b.const(np.array([0, 2, half, size, size], np.int64))])
            h = b.node("Transpose", [h], perm=[0, 2, 1, 3, 4])
            h = b.node("Reshape", [h, b.const(np.array([0, cout, size, size], np.int64))])
            cin = cout
    h = b.conv_bn(h, cin, 1024, 1)
    return _head(b, h, 1024, batch, "shufflenet_v2")


def squeezenext(batch=1, seed=0):
    """1.0-SqNxt-23: each block squeezes with two 1x1 convs (C/2, C/4), filters with a 3x1
    and a 1x3 conv, expands with a 1x1 conv, and adds the (projected) input."""
    b = Builder(seed)
    h = b.maxpool(b.conv_bn("data", 3, 64, 7, 2), 3, 2, pad=1)
    cin = 64
    for c, n, s in [(32, 6, 1), (64, 6, 2), (128, 8, 2), (256, 1, 2)]:
        for i in range(n):
            stride = s if i == 0 else 1
            y = b.conv_bn(h, cin, c // 2, 1, stride)
            y = b.conv_bn(y, c // 2, c // 4, 1)
            y = b.conv_bn(y, c // 4, c // 2, (3, 1))
            y = b.conv_bn(y, c // 2, c // 2, (1, 3))
            y = b.conv_bn(y, c // 2, c, 1, act="none")
            skip = h if stride == 1 and cin == c else b.conv_bn(h, cin, c, 1, stride,
                                                                   act="none")
            h = b.relu(b.node("Add", [y, skip]))
            cin = c
    h = b.conv_bn(h, cin, 128, 1)
    return _head(b, h, 128, batch, "squeezenext")


MOBILE_MODELS = {
    "mobilenet_v2": (mobilenet_v2, "MobileNetV2 (torchvision): inverted residuals, ReLU6"),
    "mobilenet_v3_small": (mobilenet_v3_small, "MobileNetV3-small: HardSwish, SE blocks"),
    "efficientnet_b0": (efficientnet_b0, "EfficientNet-B0: MBConv, SiLU, SE, 5x5 depthwise"),
    "shufflenet_v2": (shufflenet_v2, "ShuffleNetV2 x0.5: channel split, concat, shuffle"),
    "squeezenext": (squeezenext, "1.0-SqNxt-23: 1x1 squeezes, 3x1/1x3 convs, residuals"),
}
