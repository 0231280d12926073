"""The rewrite passes that run after import: BatchNorm folding, activation fusion, residual
Adds into the convolution before them, Gemm by a constant as a 1x1 convolution and
dead-node removal (`optimize` runs them in that order)."""
from __future__ import annotations

import numpy as np

from .graph import Graph, Node, Tensor

FUSABLE_ACT_PRODUCERS = ("conv", "pool", "matmul", "eltwise", "convtranspose")


def fold_batchnorm(g: Graph):
    """BatchNormalization after a Conv with constant weights becomes new Conv weights and
    bias; any other BatchNormalization becomes x * scale + shift (one eltwise kernel)."""
    uses = g.consumers()
    outputs = {t for _, t in g.outputs}
    for bn in [n for n in g.nodes if n.op == "batchnorm"]:
        x, scale, bias, mean, var = (g.tensors[i] for i in bn.inputs)
        a = scale.value / np.sqrt(var.value.astype(np.float64) + bn.attrs["epsilon"])
        shift = bias.value - mean.value * a
        conv = g.producer(x.name)
        if (conv is not None and conv.op == "conv" and not conv.attrs.get("act")
                and uses[x.name] == 1 and x.name not in outputs
                and all(g.tensors[i].is_const for i in conv.inputs[1:])):
            w = g.tensors[conv.inputs[1]].value
            new_w = (w * a.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32)
            old_b = (g.tensors[conv.inputs[2]].value if len(conv.inputs) > 2
                     else np.zeros(w.shape[0], np.float32))
            new_b = (old_b * a + shift).astype(np.float32)
            conv.inputs = [conv.inputs[0], g.const(conv.inputs[1] + "_bn", new_w),
                           g.const(conv.name + "_bias_bn", new_b)]
            conv.output = bn.output
            conv.source += "+BatchNormalization"
            g.nodes.remove(bn)
        else:
            bshape = (-1,) + (1,) * (len(x.shape) - 2)
            bn.op, bn.attrs = "eltwise", {"op": "muladd"}
            bn.inputs = [x.name, g.const(bn.name + "_scale", a.astype(np.float32).reshape(bshape)),
                         g.const(bn.name + "_shift", shift.astype(np.float32).reshape(bshape))]


def fuse_activations(g: Graph):
    """Relu, LeakyRelu, Clip and Sigmoid join the kernel that produces their input when that
    kernel's result has no other reader; otherwise they run as an eltwise kernel."""
    for node in [n for n in g.nodes if n.op == "act"]:
        uses = g.consumers()
        outputs = {t for _, t in g.outputs}
        src = node.inputs[0]
        prod = g.producer(src)
        if (prod is not None and prod.op in FUSABLE_ACT_PRODUCERS and not prod.attrs.get("act")
                and uses[src] == 1 and src not in outputs):
            prod.attrs["act"] = node.attrs["act"]
            prod.output = node.output
            prod.source += "+" + node.source
            g.nodes.remove(node)
        else:
            node.op, node.attrs = "eltwise", {"op": "copy", "act": node.attrs["act"]}


def fuse_residual_adds(g: Graph):
    """An Add of a convolution's result (read by nothing else) and another tensor of its
    shape, with the activation after it (a ResNet block's, MobileNetV2's inverted
    residual), becomes that convolution with a residual operand: one kernel fewer, and the
    sum is never written and read back. The convolution moves to just before the Add, so
    the other operand is computed first."""
    outputs = {t for _, t in g.outputs}
    for add in [n for n in g.nodes if n.op == "eltwise" and n.attrs.get("op") == "add"]:
        uses = g.consumers()
        shape = g.tensors[add.output].shape
        if len(add.inputs) != 2 or add.inputs[0] == add.inputs[1]:
            continue
        for k, src in enumerate(add.inputs):
            conv, other = g.producer(src), g.tensors[add.inputs[1 - k]]
            if (conv is not None and conv.op == "conv" and not conv.attrs.get("act")
                    and not conv.attrs.get("residual") and uses[src] == 1
                    and src not in outputs and other.shape == shape
                    and g.tensors[src].shape == shape and not other.is_const
                    and other.dtype == np.float32):
                break
        else:
            continue
        g.nodes.remove(conv)
        g.nodes.insert(g.nodes.index(add), conv)
        conv.inputs = conv.inputs + [other.name]
        conv.attrs["residual"] = True
        conv.attrs["act"] = add.attrs.get("act", ())
        conv.output = add.output
        conv.source += "+" + add.source
        g.nodes.remove(add)


def gemm_as_conv(g: Graph):
    """A matrix product of a 2-D input by a constant matrix (Gemm, a Linear layer), with a
    constant bias vector or none, becomes a 1x1 convolution of M images of 1x1 pixels, so the
    convolution families (filters packed per channel tile, streamed in order) and their
    tuning serve it: on PoCL MobileNet's 512 -> 1000 classifier 0.10 -> 0.03 ms. The input
    and output are reshaped to 4-D and back, which are views."""
    for node in [n for n in g.nodes if n.op == "matmul"]:
        a = node.attrs
        x, b = g.tensors[node.inputs[0]], g.tensors[node.inputs[1]]
        c = g.tensors[node.inputs[2]] if len(node.inputs) > 2 else None
        if len(x.shape) != 2 or len(b.shape) != 2 or not b.is_const or a.get("trans_a"):
            continue
        w = b.value if a.get("trans_b") else b.value.T  # [N, K]
        (m, k), n, out = x.shape, w.shape[0], node.output
        bias = None if c is None else _bias_vector(c, n)
        if c is not None and bias is None:
            continue  # a bias that varies along the rows: stays a matmul
        w = (np.float32(a.get("alpha", 1.0)) * w).astype(np.float32)
        inputs = [f"{node.name}_as_images", g.const(node.name + "_as_filters",
                                                     w.reshape(n, k, 1, 1))]
        if bias is not None:
            bias = (np.float32(a.get("beta", 1.0)) * bias).astype(np.float32)
            inputs.append(g.const(node.name + "_as_bias", bias))
        conv_out = f"{node.name}_as_conv"
        g.tensors[inputs[0]] = Tensor(inputs[0], (m, k, 1, 1))
        g.tensors[conv_out] = Tensor(conv_out, (m, n, 1, 1))
        at = g.nodes.index(node)
        g.nodes[at:at + 1] = [
            Node("reshape", inputs[0], [x.name], inputs[0], source=node.source),
            Node("conv", node.name, inputs, conv_out, dict(
                kernel=(1, 1), stride=(1, 1), pad_begin=(0, 0), pad_end=(0, 0),
                dilation=(1, 1), group=1, act=a.get("act", ())), node.source),
            Node("reshape", out, [conv_out], out, source=node.source)]


def _bias_vector(c: Tensor, n: int):
    """A Gemm's C as one value per output column, if it is constant and is one."""
    if not c.is_const:
        return None
    if c.value.shape in ((n,), (1, n)):
        return c.value.reshape(n)
    return np.full(n, c.value.item(), np.float32) if c.value.size == 1 else None


def remove_dead_nodes(g: Graph):
    live = {t for _, t in g.outputs}
    kept = []
    for n in reversed(g.nodes):
        if n.output in live:
            kept.append(n)
            live.update(n.inputs)
    g.nodes = list(reversed(kept))


def optimize(g: Graph) -> Graph:
    fold_batchnorm(g)
    fuse_activations(g)
    fuse_residual_adds(g)
    gemm_as_conv(g)
    remove_dead_nodes(g)
    return g
