"""Models built locally with onnx.helper and seeded random weights (nothing is downloaded).

The topologies follow torchvision's: SqueezeNet 1.0 and 1.1, AlexNet, ResNet-18, and a
MobileNet-v1-like net (depthwise convs, BatchNorm, ReLU6). Weights are He-scaled so
activations stay in a sane range through the depth of the network.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class _Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def weight(self, shape, fan_in, prefix="w"):
        n = self.name(prefix)
        w = (self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        self.inits.append(numpy_helper.from_array(w, n))
        return n

    def const(self, value, prefix="c"):
        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, pad=0, group=1, bias=True):
        w = self.weight((cout, cin // group, k, k), cin // group * k * k)
        ins = [x, w]
        if bias:
            ins.append(self.const((self.rng.standard_normal(cout) * 0.05).astype(np.float32),
                                  "b"))
        return self.node("Conv", ins, kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad] * 4, group=group)

    def bn(self, x, c):
        scale = self.const((1 + 0.1 * self.rng.standard_normal(c)).astype(np.float32), "g")
        shift = self.const((0.1 * self.rng.standard_normal(c)).astype(np.float32), "beta")
        mean = self.const((0.1 * self.rng.standard_normal(c)).astype(np.float32), "mean")
        var = self.const((1 + 0.2 * self.rng.random(c)).astype(np.float32), "var")
        return self.node("BatchNormalization", [x, scale, shift, mean, var], epsilon=1e-5)

    def relu(self, x):
        return self.node("Relu", [x])

    def maxpool(self, x, k, s, pad=0, ceil=0):
        return self.node("MaxPool", [x], kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4,
                         ceil_mode=ceil)

    def linear(self, x, cin, cout):
        w = self.weight((cout, cin), cin)
        b = self.const((self.rng.standard_normal(cout) * 0.05).astype(np.float32), "b")
        return self.node("Gemm", [x, w, b], transB=1)

    def model(self, x_name, x_shape, out, out_shape, name):
        graph = helper.make_graph(
            self.nodes, name, [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, x_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="boda.zoo")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def _fire(b, x, cin, squeeze, expand):
    s = b.relu(b.conv(x, cin, squeeze, 1))
    e1 = b.relu(b.conv(s, squeeze, expand, 1))
    e3 = b.relu(b.conv(s, squeeze, expand, 3, pad=1))
    return b.node("Concat", [e1, e3], axis=1)


def _squeezenet(version, batch, seed, classes=1000):
    b = _Builder(seed)
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
    b = _Builder(seed)
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
    b = _Builder(seed)
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
    b = _Builder(seed)
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
}


def build(name: str, batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    if name not in MODELS:
        from ..errors import BodaError
        raise BodaError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name][0](batch=batch, seed=seed)
