"""Run by test_device_matrix.py under Oclgrind: every kernel family at its default and at the
edges of its space (each parameter at both ends of its valid range) on small problems, each
checked against the numpy reference. Oclgrind, with its checks on, logs every
out-of-bounds access, uninitialized read and data race; the test reads its log.

    python tests/oclgrind_families.py   (prints one JSON line per family and problem)
"""
from __future__ import annotations

import json
import sys

from boda import kernels
from boda.devices import select_device
from boda.ir.problems import Conv, Eltwise, Gather, Lrn, MatMul, Pad, Pool, Softmax, Transpose
from boda.ir.problems_norm import Norm, Reduce, TopK
from boda.ir.problems_upsample import ConvTranspose, Resize
from boda.tuner.measure import ProblemBench

RELU = ("relu",)


def conv(c, m, size, k, s=1, p=0, group=1, dilation=1, residual=False):
    return Conv(n=1, c=c, m=m, in_size=(size, size), kernel=(k, k), stride=(s, s),
                pad_begin=(p, p), pad_end=(p, p), dilation=(dilation, dilation), group=group,
                bias=True, act=RELU, residual=residual)


PROBLEMS = [
    conv(8, 12, 7, 1),                       # 1x1 (conv_k1)
    conv(16, 8, 6, 3, p=1),                  # 3x3 pad 1 (winograd, split-K)
    conv(4, 6, 9, 3, s=2),                   # strided, no pad
    conv(8, 8, 6, 3, p=1, group=8),          # depthwise
    conv(6, 6, 9, 3, s=2, p=1, group=6),     # depthwise, strided
    conv(4, 4, 7, 3, p=2, dilation=2),       # dilated
    conv(16, 8, 6, 3, p=1, residual=True),   # a residual Add fused (conv_gemm, split-K, tiled)
    conv(8, 12, 7, 1, residual=True),        # the same, 1x1 (conv_k1)
    Pool("max", 1, 5, (9, 9), (3, 3), (2, 2), (0, 0), (0, 0), (1, 1), (4, 4)),
    Pool("avg", 1, 5, (6, 6), (6, 6), (1, 1), (0, 0), (0, 0), (1, 1), (1, 1)),
    Pool("max", 1, 3, (5, 10), (3, 3), (2, 2), (0, 0), (0, 0), (1, 1), (2, 4)),  # reads to
    Pool("avg", 1, 3, (6, 10), (3, 3), (1, 1), (0, 0), (0, 0), (1, 1), (4, 8)),  # row ends
    Pool("max", 1, 3, (7, 11), (3, 3), (2, 2), (0, 0), (0, 0), (2, 2), (2, 4)),  # dilated
    Pool("max", 1, 3, (9, 12), (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), (5, 6)),  # padded
    MatMul((2, 24), (10, 24), (10,), trans_b=True),
    Eltwise("add", (1, 6, 5, 5), ((1, 6, 5, 5), (1, 6, 5, 5)), RELU),
    Softmax((2, 10), 1),
    Lrn((1, 7, 4, 4), 5, 1e-4, 0.75, 1.0),
    Pad((1, 3, 4, 4), (0, 0, 1, 2), (0, 0, 2, 1)),
    Transpose((2, 3, 4), (2, 0, 1)),
    Resize((1, 2, 3, 4), (1, 2, 6, 6), (1.0, 1.0, 2.0, 1.5), "linear", "half_pixel"),
    Resize((1, 2, 5, 4), (1, 2, 2, 8), (1.0, 1.0, 0.5, 2.0), "nearest", "asymmetric", "floor"),
    ConvTranspose(1, 4, 4, (3, 3), (3, 3), (2, 2), (1, 1), (1, 1), (6, 6), bias=True,
                  act=RELU),
    Reduce("l2", (2, 3, 4), (0, 2)),
    Reduce("argmax", (3, 5), (1,)),
    Norm((1, 3, 4, 4), 2, 1e-5, instance=True, scale_shape=(3,), bias_shape=(3,)),
    Norm((2, 3, 6), 2, 1e-5, scale_shape=(6,)),
    Gather((2, 5, 3), 1, (2, 2)),
    TopK((3, 9), 1, 4),
    Eltwise("where", (2, 4), ((2, 4), (4,), (2, 1))),
]


PLANTED = """__kernel void overrun(__global float *out) {
    out[get_global_id(0) + 1] = 1.0f;  /* the last work-item writes past the end */
}"""


def plant_overrun(device):
    import numpy as np

    from boda.runtime.backends import backend_for
    be = backend_for(device)
    buf = be.alloc(16)
    be.launch(be.kernel(be.compile(PLANTED), "overrun", [buf]), 16, 16)
    be.download(buf, np.empty(16, np.float32))
    be.finish()


def main():
    device = select_device("oclgrind")
    if "--plant-overrun" in sys.argv:
        return plant_overrun(device)
    for problem in PROBLEMS:
        bench = None
        for family in kernels.families_for(problem, None, device):
            points = family.sample(problem, device, count=0, edges=True)
            bench = bench or ProblemBench(problem, device)
            trials = bench.check([(family, p) for p in points])
            print(json.dumps({"problem": problem.signature, "family": family.name,
                              "points": len(points),
                              "failed": [(t.params, t.status, t.cause) for t in trials
                                         if t.status != "ok"]}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
