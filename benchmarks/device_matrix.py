"""The device matrix: the zoo's models through boda against onnxruntime on every OpenCL
configuration here (PoCL at each forced CPU class, Mesa's rusticl on llvmpipe), with the max
relative error and boda's latency of each.

    python benchmarks/device_matrix.py [--models squeezenet1_0,...] [--out FILE]
    python benchmarks/device_matrix.py --one DEVICE MODEL...   (one configuration, as the
        environment sets it up; one JSON line a model: what tests/test_device_matrix.py runs;
        a MODEL ending in .onnx is that file, its first input random)

Latency is the median of 3 runs after the first; rusticl's llvmpipe is a GPU-style driver
on the CPU, so its times say how far untuned defaults are from a device they fit.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

import boda
from boda.frontend import zoo


def one(device: str, names: list[str]):
    for name in names:
        model = onnx.load(name) if name.endswith(".onnx") else zoo.build(name)
        data = model.graph.input[0]
        shape = [d.dim_value for d in data.type.tensor_type.shape.dim]
        x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        ref = ort.InferenceSession(model.SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"]).run(None, {data.name: x})[0]
        t0 = time.perf_counter()
        sess = boda.compile(model, device=device)
        out = sess.run(None, {data.name: x})[0]
        first = time.perf_counter() - t0
        times = []
        for _ in range(3):
            t = time.perf_counter()
            sess.run(None, {data.name: x})
            times.append(time.perf_counter() - t)
        target = getattr(sess.engine.backend, "target", None)
        err = float(np.abs(out.astype(np.float64) - ref).max() / np.abs(ref).max())
        print(json.dumps({"model": os.path.basename(name), "device": sess.device.name,
                          "max_rel_error": err,
                          "ms": 1e3 * statistics.median(times), "first_s": first,
                          "target": target[0] if target else ""}), flush=True)


# configuration -> (--device, environment)
CONFIGS = {
    "PoCL, no forced pick": ("cpu", {}),
    "PoCL, forced SSE4 pick (x86-64-v2)": ("cpu", {"BODA_POCL_TARGET": "x86-64-v2"}),
    "PoCL, forced AVX2 pick (haswell)": ("cpu", {"BODA_POCL_TARGET": "haswell"}),
    "PoCL, forced Zen 4 pick (znver3)": ("cpu", {"BODA_POCL_TARGET": "znver3"}),
    "PoCL, forced Zen 5 pick (generic)": ("cpu", {"BODA_POCL_TARGET": "generic"}),
    "PoCL, forced AVX-512 pick (skylake-avx512)": ("cpu",
                                                   {"BODA_POCL_TARGET": "skylake-avx512"}),
    "rusticl, llvmpipe": ("llvmpipe", {"RUSTICL_ENABLE": "llvmpipe"}),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--one", nargs="+", metavar="ARG")
    ap.add_argument("--models", default="squeezenet1_0,squeezenet1_1,mobilenet,resnet18")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.one:
        return one(args.one[0], args.one[1:])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from boda.devices import select_device
    from common import machine_lines, publish
    names = args.models.split(",")
    lines = ["# The device matrix: boda against onnxruntime", "",
             f"Command: `python benchmarks/device_matrix.py --models {args.models}`", "",
             *machine_lines(select_device("cpu")), "",
             "| configuration | target | " + " | ".join(f"{n}: error, ms" for n in names)
             + " |", "|---|---|" + "---|" * len(names)]
    for label, (device, env) in CONFIGS.items():
        res = subprocess.run([sys.executable, __file__, "--one", device, *names],
                             capture_output=True, text=True, env=dict(os.environ, **env))
        rows = [json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")]
        if res.returncode or len(rows) != len(names):
            why = (res.stderr.strip().splitlines() or ["failed"])[-1]
            lines.append(f"| {label} | - | {why} |" + " |" * (len(names) - 1))
            continue
        cells = [f"{r['max_rel_error']:.1e}, {r['ms']:.1f}" for r in rows]
        lines.append(f"| {label} | {rows[0]['target'] or '-'} | " + " | ".join(cells) + " |")
    lines += ["", "error: max|boda - onnxruntime| / max|onnxruntime| (the bar is 1e-4); ms: "
              "boda's batch-1 latency, untuned defaults, median of 3 runs."]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
