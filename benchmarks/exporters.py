"""Models exported from PyTorch (tests/torch_exports.py: torchvision's families, segmentation
and detection heads, a U-Net decoder) by both exporters, run by boda (untuned, the shipped
database) beside onnxruntime: status, max relative error, and latency side by side.

    BODA_TORCH_PYTHON=... python benchmarks/exporters.py [--models a,b] [--repeat 10]
        [--out benchmarks/results/exporters-pocl-cpu.md]

The exports run in $BODA_TORCH_PYTHON (PyTorch's environment, see .ci/run); latency is the
median over interleaved turns of boda and onnxruntime (2 threads) on the same input.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

import boda
from boda.errors import BodaError
from common import interleaved_medians, machine_lines, ort_session, publish

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from torch_exports import EXPORTERS, MODELS  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    names = args.models.split(",")
    python = os.environ.get("BODA_TORCH_PYTHON", sys.executable)
    out = Path(tempfile.mkdtemp(prefix="boda-exports-"))
    subprocess.run([python, "-W", "ignore", str(TESTS / "torch_exports.py"), str(out), *names],
                   check=True, capture_output=True)
    exporter_versions = subprocess.run(
        [python, "-c", "import torch, torchvision, onnxscript; print(f'torch {torch.__version__},"
         " torchvision {torchvision.__version__}, onnxscript {onnxscript.__version__}')"],
        check=True, capture_output=True, text=True).stdout.strip()
    rows = ["| model | exporter | opset | status | max rel. error | boda (ms) | "
            "onnxruntime (ms) | boda / ort |", "|---|---|---|---|---|---|---|---|"]
    device = None
    load = []
    for name in names:
        for exporter in EXPORTERS:
            path = out / f"{name}.{exporter}.onnx"
            if not path.exists():
                rows.append(f"| {name} | {exporter} | | export failed | | | | |")
                continue
            model = onnx.load(path)
            data = model.graph.input[0]
            shape = [d.dim_value for d in data.type.tensor_type.shape.dim]
            feeds = {data.name: np.random.default_rng(0).standard_normal(shape)
                     .astype(np.float32)}
            opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
            try:
                sess = boda.compile(model)
                outs = sess.run(None, feeds)
            except BodaError as exc:
                rows.append(f"| {name} | {exporter} | {opset} | {str(exc)[:80]} | | | | |")
                continue
            device = sess.device
            ort = ort_session(model)
            refs = ort.run(None, feeds)
            err = max(float(np.abs(o.astype(np.float64) - r).max() / np.abs(r).max())
                      for o, r in zip(outs, refs))
            load.append(os.getloadavg()[0])
            tb, to = interleaved_medians([lambda: sess.run(None, feeds),
                                          lambda: ort.run(None, feeds)], args.repeat, 5)
            rows.append(f"| {name} | {exporter} | {opset} | ok | {err:.1e} | {tb * 1e3:.2f} | "
                        f"{to * 1e3:.2f} | {tb / to:.2f} |")
            print(rows[-1], flush=True)
    text = "\n".join([
        "# PyTorch exports through boda and onnxruntime", "",
        f"Command: `BODA_TORCH_PYTHON=... python benchmarks/exporters.py --repeat {args.repeat}`"
        f" ({time.strftime('%Y-%m-%d')})", "",
        *(machine_lines(device) if device else []),
        f"Exported with {exporter_versions}",
        f"Load average (1 min) while timing: {min(load, default=0):.1f} to "
        f"{max(load, default=0):.1f}", "",
        "Untuned (defaults and the shipped database); boda / ort below 1 is boda faster.", "",
        *rows, ""])
    publish(text, args.out)


if __name__ == "__main__":
    main()
