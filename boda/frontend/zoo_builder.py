"""Building the zoo's models with onnx.helper: nodes, seeded He-scaled weights, and the
layers the topologies share (conv, BatchNorm, pools, linear, squeeze-excitation)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class Builder:
    """Appends nodes and seeded weights; `model()` checks and returns the ModelProto."""

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

    def node_outputs(self, op, inputs, count, **attrs):
        """A node with `count` outputs (Split); their names."""
        base = self.name(op.lower())
        outs = [f"{base}_{k}" for k in range(count)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=base, **attrs))
        return outs

    def conv(self, x, cin, cout, k, stride=1, pad=0, group=1, bias=True):
        """k and pad: one size for both axes, or (height, width)."""
        (kh, kw), (ph, pw) = ((k, k) if isinstance(k, int) else k,
                              (pad, pad) if isinstance(pad, int) else pad)
        w = self.weight((cout, cin // group, kh, kw), cin // group * kh * kw)
        ins = [x, w]
        if bias:
            ins.append(self.const((self.rng.standard_normal(cout) * 0.05).astype(np.float32),
                                  "b"))
        return self.node("Conv", ins, kernel_shape=[kh, kw], strides=[stride, stride],
                         pads=[ph, pw, ph, pw], group=group)

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

    def act(self, x, kind: str):
        """relu, relu6 (Clip 0..6), hardswish, silu (x * Sigmoid(x), as PyTorch exports it)
        or none."""
        if kind == "relu":
            return self.relu(x)
        if kind == "relu6":
            return self.node("Clip", [x, self.const(np.float32(0.0), "lo"),
                                      self.const(np.float32(6.0), "hi")])
        if kind == "hardswish":
            return self.node("HardSwish", [x])
        if kind == "silu":
            return self.node("Mul", [x, self.node("Sigmoid", [x])])
        return x

    def conv_bn(self, x, cin, cout, k, stride=1, group=1, act="relu"):
        """Conv (padding k // 2, no bias) -> BatchNorm -> activation."""
        pad = (k // 2, k // 2) if isinstance(k, int) else (k[0] // 2, k[1] // 2)
        y = self.conv(x, cin, cout, k, stride=stride, pad=pad, group=group, bias=False)
        return self.act(self.bn(y, cout), act)

    def spatial_mean(self, x):
        """ReduceMean over H and W, keepdims (PyTorch's export of an adaptive pool to 1x1;
        axes as an input, opset 18)."""
        return self.node("ReduceMean", [x, self.const(np.array([2, 3], np.int64), "axes")],
                         keepdims=1)

    def squeeze_excite(self, x, c, squeeze, inner="relu", gate="hardsigmoid"):
        """x * gate(conv(inner(conv(mean(x))))): MobileNetV3's and EfficientNet's SE."""
        s = self.act(self.conv(self.spatial_mean(x), c, squeeze, 1), inner)
        s = self.conv(s, squeeze, c, 1)
        s = (self.node("HardSigmoid", [s], alpha=1 / 6, beta=0.5) if gate == "hardsigmoid"
             else self.node("Sigmoid", [s]))
        return self.node("Mul", [x, s])

    def linear(self, x, cin, cout):
        w = self.weight((cout, cin), cin)
        b = self.const((self.rng.standard_normal(cout) * 0.05).astype(np.float32), "b")
        return self.node("Gemm", [x, w, b], transB=1)

    def model(self, x_name, x_shape, out, out_shape, name, opset=OPSET):
        graph = helper.make_graph(
            self.nodes, name, [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, x_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="boda.zoo")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m
