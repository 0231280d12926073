"""Models built locally with onnx.helper and seeded random weights (nothing is downloaded).

The topologies follow torchvision's: SqueezeNet 1.0 and 1.1, AlexNet, ResNet-18, and a
MobileNet-v1-like net (depthwise convs, BatchNorm, ReLU6); zoo_mobile.py has the families
deployed on phones and boards (MobileNetV2, MobileNetV3-small, EfficientNet-B0,
ShuffleNetV2, SqueezeNext) and zoo_dense.py the dense-prediction ones (a U-Net and an LR-ASPP
segmentation head).
Weights are He-scaled so activations stay in a sane range through the depth of the network.
"""
from __future__ import annotations

import numpy as np
import onnx

from .zoo_builder import Builder
from .zoo_dense import DENSE_MODELS
from .zoo_mobile import MOBILE_MODELS


def _fire(b, x, cin, squeeze, expand):
    s = b.relu(b.conv(x, cin, squeeze, 1))
    e1 = b.relu(b.conv(s, squeeze, expand, 1))
    e3 = b.relu(b.conv(s, squeeze, expand, 3, pad=1))
    return b.node("Concat", [e1, e3], axis=1)


def _squeezenet(version, batch, seed, classes=1000):
    b = Builder(seed)
    x = "data"
    if version == "1_0":
        h = b.maxpool(b.relu(b.conv(x, 3, 96, 7, stride=2)), 3, 2, ceil=1)
        fires = [(96, 16, 64), (128, 16, 64), (128, 32, 128), "pool", (256, 32, 128),
                 (256, 48, 192), (384, 48, 192), (384, 64, 256), "pool", (512, 64, 256)]
    else:
        h = b.maxpool(b.relu(b.conv(x, 3, 64, 3, stride=2)), 3, 2, ceil=1)
        fires = [(64, 16, 64), (128, 16, 64), "pool", (128, 32, 128), (256, 32, 128), "pool",
                 (256, 48, 192), (384, 48, 192), (384, 64, 256), (512, 64, 256)]
    for f in fires:
        h = b.maxpool(h, 3, 2, ceil=1) if f == "pool" else _fire(b, h, *f)
    h = b.node("Dropout", [h])
    h = b.relu(b.conv(h, 512, classes, 1))
    h = b.node("GlobalAveragePool", [h])
    h = b.node("Flatten", [h], axis=1)
    return b.model(x, [batch, 3, 224, 224], h, [batch, classes], f"squeezenet{version}")


def squeezenet1_0(batch=1, seed=0):
    return _squeezenet("1_0", batch, seed)


def squeezenet1_1(batch=1, seed=0):
    return _squeezenet("1_1", batch, seed)


def alexnet(batch=1, seed=0):
    b = Builder(seed)
    h = b.maxpool(b.relu(b.conv("data", 3, 64, 11, stride=4, pad=2)), 3, 2)
    h = b.maxpool(b.relu(b.conv(h, 64, 192, 5, pad=2)), 3, 2)
    h = b.relu(b.conv(h, 192, 384, 3, pad=1))
    h = b.relu(b.conv(h, 384, 256, 3, pad=1))
    h = b.maxpool(b.relu(b.conv(h, 256, 256, 3, pad=1)), 3, 2)
    h = b.node("Flatten", [h], axis=1)
    h = b.relu(b.linear(b.node("Dropout", [h]), 256 * 6 * 6, 4096))
    h = b.relu(b.linear(b.node("Dropout", [h]), 4096, 4096))
    h = b.linear(h, 4096, 1000)
    return b.model("data", [batch, 3, 224, 224], h, [batch, 1000], "alexnet")


def resnet18(batch=1, seed=0):
    b = Builder(seed)
    h = b.relu(b.bn(b.conv("data", 3, 64, 7, stride=2, pad=3, bias=False), 64))
    h = b.maxpool(h, 3, 2, pad=1)
    cin = 64
    for cout, stride in [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                         (512, 1)]:
        y = b.relu(b.bn(b.conv(h, cin, cout, 3, stride=stride, pad=1, bias=False), cout))
        y = b.bn(b.conv(y, cout, cout, 3, pad=1, bias=False), cout)
        if stride != 1 or cin != cout:
            h = b.bn(b.conv(h, cin, cout, 1, stride=stride, bias=False), cout)
        h = b.relu(b.node("Add", [y, h]))
        cin = cout
    h = b.node("Flatten", [b.node("GlobalAveragePool", [h])], axis=1)
    h = b.linear(h, 512, 1000)
    return b.model("data", [batch, 3, 224, 224], h, [batch, 1000], "resnet18")


def mobilenet(batch=1, seed=0):
    """MobileNet-v1-like (width 0.5): depthwise 3x3 + pointwise 1x1, BatchNorm, ReLU6 (Clip)."""
    b = Builder(seed)
    lo, hi = b.const(np.float32(0.0), "lo"), b.const(np.float32(6.0), "hi")

    def block(x, cin, cout, k, stride, group):
        y = b.bn(b.conv(x, cin, cout, k, stride=stride, pad=k // 2, group=group, bias=False),
                 cout)
        return b.node("Clip", [y, lo, hi])

    h = block("data", 3, 16, 3, 2, 1)
    cin = 16
    for cout, stride in [(32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1),
                         (256, 1), (512, 2), (512, 1)]:
        h = block(h, cin, cin, 3, stride, cin)
        h = block(h, cin, cout, 1, 1, 1)
        cin = cout
    h = b.node("Flatten", [b.node("GlobalAveragePool", [h])], axis=1)
    h = b.node("Softmax", [b.linear(h, cin, 1000)], axis=1)
    return b.model("data", [batch, 3, 224, 224], h, [batch, 1000], "mobilenet")


MODELS = {
    "squeezenet1_0": (squeezenet1_0, "SqueezeNet 1.0 (Iandola et al. 2016), 1.7 GFLOP"),
    "squeezenet1_1": (squeezenet1_1, "SqueezeNet 1.1, same accuracy at 2.4x fewer FLOPs"),
    "alexnet": (alexnet, "AlexNet (torchvision variant), LRN-free"),
    "resnet18": (resnet18, "ResNet-18 with BatchNorm and residual Adds"),
    "mobilenet": (mobilenet, "MobileNet-v1-like, width 0.5: depthwise convs, BN, ReLU6"),
    **MOBILE_MODELS,
    **DENSE_MODELS,
}


def build(name: str, batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    if name not in MODELS:
        from ..errors import BodaError
        raise BodaError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name][0](batch=batch, seed=seed)
