"""The rewrite passes that run after import: BatchNorm folding, activation fusion and
dead-node removal (`optimize` runs them in that order)."""
from __future__ import annotations

import numpy as np

from .graph import Graph

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
    remove_dead_nodes(g)
    return g
