"""The zoo's dense-prediction models: a per-pixel output as large as the input, so decoders
that grow feature maps back (ConvTranspose, Resize) and skip connections (Concat), built
with seeded weights and the op patterns PyTorch's exporter writes.

    unet_small      a 3-level U-Net (Ronneberger et al. 2015) at 128x128: ConvTranspose
                    and bilinear Resize up, skip Concats, InstanceNorm in the bottleneck
    lraspp_small    torchvision's LR-ASPP segmentation head on a small MobileNetV3-style
                    encoder at 224x224: a sigmoid-gated global branch, bilinear Resize to
                    given sizes, 21 classes
"""
from __future__ import annotations

import numpy as np

from .zoo_builder import Builder

OPSET = 18


def _double_conv(b, x, cin, cout):
    return b.conv_bn(b.conv_bn(x, cin, cout, 3), cout, cout, 3)


def _up_transpose(b, x, cin, cout):
    """ConvTranspose 2x2, stride 2 (PyTorch's nn.ConvTranspose2d(cin, cout, 2, 2))."""
    w = b.weight((cin, cout, 2, 2), cin * 4)
    bias = b.const((b.rng.standard_normal(cout) * 0.05).astype(np.float32), "b")
    return b.node("ConvTranspose", [x, w, bias], kernel_shape=[2, 2], strides=[2, 2])


def _resize(b, x, scales=None, sizes=None):
    """Bilinear Resize as PyTorch exports F.interpolate(align_corners=False): half_pixel
    (pytorch_half_pixel from the TorchScript exporter), scales or sizes as inputs."""
    roi = b.const(np.array([], np.float32), "roi")
    if sizes is not None:
        ins = [x, roi, b.const(np.array([], np.float32), "scales"),
               b.const(np.array(sizes, np.int64), "sizes")]
    else:
        ins = [x, roi, b.const(np.array(scales, np.float32), "scales")]
    return b.node("Resize", ins, mode="linear", coordinate_transformation_mode="half_pixel")


def unet_small(batch=1, seed=0, size=128, classes=2):
    b = Builder(seed)
    e1 = _double_conv(b, "data", 3, 16)
    e2 = _double_conv(b, b.maxpool(e1, 2, 2), 16, 32)
    e3 = _double_conv(b, b.maxpool(e2, 2, 2), 32, 64)
    h = b.conv(b.maxpool(e3, 2, 2), 64, 128, 3, pad=1)
    scale = b.const(np.ones(128, np.float32), "g")
    shift = b.const(np.zeros(128, np.float32), "beta")
    h = b.relu(b.node("InstanceNormalization", [h, scale, shift], epsilon=1e-5))
    d3 = _double_conv(b, b.node("Concat", [_up_transpose(b, h, 128, 64), e3], axis=1), 128, 64)
    up = b.conv(_resize(b, d3, scales=[1, 1, 2, 2]), 64, 32, 1)
    d2 = _double_conv(b, b.node("Concat", [up, e2], axis=1), 64, 32)
    d1 = _double_conv(b, b.node("Concat", [_up_transpose(b, d2, 32, 16), e1], axis=1), 32, 16)
    out = b.conv(d1, 16, classes, 1)
    return b.model("data", [batch, 3, size, size], out, [batch, classes, size, size],
                   "unet_small", OPSET)


def _dw_block(b, x, cin, cout, stride, act="hardswish"):
    """Depthwise 3x3 -> pointwise 1x1, each with BatchNorm (MobileNetV3's pattern)."""
    x = b.conv_bn(x, cin, cin, 3, stride, group=cin, act="hardswish")
    return b.conv_bn(x, cin, cout, 1, act=act)


def lraspp_small(batch=1, seed=0, size=224, classes=21):
    b = Builder(seed)
    h = b.conv_bn("data", 3, 16, 3, 2, act="hardswish")          # 1/2
    h = _dw_block(b, h, 16, 24, 2, act="none")                   # 1/4
    low = _dw_block(b, _dw_block(b, h, 24, 24, 1, act="none"), 24, 40, 2, act="none")  # 1/8
    high = _dw_block(b, _dw_block(b, low, 40, 48, 2), 48, 96, 1)  # 1/16
    # LR-ASPP: a 1x1 branch gated by a sigmoid of the global average, up to 1/8, plus a
    # classifier on the 1/8 features, up to the input size
    x = b.conv_bn(high, 96, 64, 1)
    gate = b.node("Sigmoid", [b.conv(b.node("GlobalAveragePool", [high]), 96, 64, 1,
                                     bias=False)])
    x = _resize(b, b.node("Mul", [x, gate]), sizes=[batch, 64, size // 8, size // 8])
    x = b.node("Add", [b.conv(low, 40, classes, 1), b.conv(x, 64, classes, 1)])
    out = _resize(b, x, sizes=[batch, classes, size, size])
    return b.model("data", [batch, 3, size, size], out, [batch, classes, size, size],
                   "lraspp_small", OPSET)


DENSE_MODELS = {
    "unet_small": (unet_small, "U-Net, 3 levels, 128x128: ConvTranspose, Resize, skip concats"),
    "lraspp_small": (lraspp_small, "LR-ASPP segmentation head on a MobileNetV3-style encoder"),
}
