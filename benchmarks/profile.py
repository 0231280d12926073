"""Where the time goes inside whole runs, per layer, for boda and for each reference's own
per-layer time (issue 16, item 1).

    python benchmarks/profile.py [--models squeezenet1_1,...] [--repeat 20] [--out FILE]

For each zoo model (squeezenet1_1, squeezenet1_0, mobilenet, resnet18 at batch 1, and
squeezenet1_1 at batch 8) and each engine:
- boda (PoCL, the kernels the runtime serves: the tuning databases, else the defaults):
  every kernel's device time inside whole runs (profiling-queue events), and the run split
  into the session's Python (feed checks), uploads, enqueueing the launches, waiting for the
  device and downloads (`Engine.phases`); the wait minus the kernels' sum is the device's
  launch gaps.
- onnxruntime (CPU EP, 2 threads, its profiler): each node's kernel time, the executor's
  time per run (gaps are what it spends between nodes) and session.run's wall time.
- OpenVINO (CPU, fp32 forced, 2 threads, PERF_COUNT): each executed node's real time and
  the infer call's wall time.
Per layer, the ONNX node names tie the engines together: boda names a step after its first
node, onnxruntime after the last node of a fused group, OpenVINO after the node with
suffixes ("/WithoutBiases"), or with a name of its own where it folded a batch norm (those
rows say OpenVINO's node type, and sit at the end); an activation or batch norm is counted
with the node before it, and re-layouts (onnxruntime's reorders, OpenVINO's Reorder) get
their own row. Engines run one after another, back to back (no idle spells: see
compare/timing.py on PoCL's way back from idle), so the ratios are `boda bench`'s to claim;
this says which part of each run is where.
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_lines, publish  # noqa: E402

import boda  # noqa: E402
from boda.devices import select_device  # noqa: E402
from boda.frontend import zoo  # noqa: E402

MODELS = [("squeezenet1_1", 1), ("squeezenet1_0", 1), ("mobilenet", 1), ("resnet18", 1),
          ("squeezenet1_1", 8)]
THREADS = 2
RELAYOUT = "re-layout"
# OpenVINO's node types as ONNX op types, for nodes it names itself (a conv with its batch
# norm folded in becomes "Multiply_NNN")
OPENVINO_OPS = {"Convolution": "Conv", "GroupConvolution": "Conv", "FullyConnected": "Gemm",
                "MatMul": "Gemm", "Eltwise": "Add", "Pooling": "MaxPool"}
ACTIVATIONS = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh"}


def _median(values) -> float:
    return float(np.median(values)) if len(values) else 0.0


def profile_boda(model, feeds, repeat):
    session = boda.compile(model, device="cpu")
    session.run(None, feeds)
    engine = session.engine
    arrays = session.check_feeds(feeds)[2]
    launches = engine.launches()
    runs = engine.backend.time_sequence(launches, repeat)
    per_layer = defaultdict(float)
    for k, unit in enumerate(engine.units):  # layers side by side: one launch, one row
        name = "+".join(engine.layers[li].step.name for li in unit.layers)
        per_layer[name] += _median([r[k] for r in runs])
    phases = defaultdict(list)
    wall = []
    for _ in range(repeat):
        for key, seconds in engine.phases(arrays).items():
            phases[key].append(seconds)
        t0 = time.perf_counter()
        session.run(None, feeds)
        wall.append(time.perf_counter() - t0)
    parts = {key: _median(v) for key, v in phases.items()}
    # the session's own work (feed checks, engine lookup, outputs by name), timed with the
    # engine's run answered at once: the wall minus the phases waited one by one is no
    # measure of it (those phases overlap in a plain run)
    last = engine.run(arrays)
    engine.run = lambda _arrays: last
    python = []
    for _ in range(20 * repeat):
        t0 = time.perf_counter()
        session.run(None, feeds)
        python.append(time.perf_counter() - t0)
    del engine.run
    kernels = sum(per_layer.values())
    summary = {"wall": _median(wall), "kernels": kernels,
               "device gaps": max(parts["wait"] + parts["enqueue"] - kernels, 0.0),
               "enqueue": parts["enqueue"], "upload": parts["upload"],
               "download": parts["download"],
               "session Python": _median(python),
               "launches": len(launches)}
    return summary, dict(per_layer)


def _node_of(name: str, nodes: set) -> str:
    """The ONNX node an engine's profile entry belongs to."""
    base = re.sub(r"(_nchwc)?(_kernel_time)?$", "", name).split("/")[0]
    if base in nodes:
        return base
    return RELAYOUT if "reorder" in name.lower() or "abcd" in name else base


def profile_ort(model, feeds, repeat):
    import onnxruntime as ort
    nodes = {n.name for n in model.graph.node}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.log_severity_level = 3
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    for _ in range(3):
        sess.run(None, feeds)
    wall = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        wall.append(time.perf_counter() - t0)
    with open(sess.end_profiling()) as f:
        events = json.load(f)
    runs = [e for e in events if e.get("name") == "model_run"][-repeat:]
    starts = [r["ts"] for r in runs]
    # each node's time summed per run, then its median over the runs, as the run's own time
    # is: a mean let one slow run's nodes sum past the median run (negative gaps)
    per_run = [defaultdict(float) for _ in runs]
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= starts[0]:
            per_run[bisect.bisect_right(starts, e["ts"]) - 1][_node_of(e["name"], nodes)] += \
                e["dur"] * 1e-6
    names = {k for r in per_run for k in r}
    per_layer = {k: _median([r.get(k, 0.0) for r in per_run]) for k in names}
    kernels = sum(per_layer.values())
    run = _median([e["dur"] * 1e-6 for e in runs])
    return {"wall": _median(wall), "kernels": kernels, "executor gaps": run - kernels,
            "session Python": _median(wall) - run}, per_layer


def profile_openvino(model, feeds, repeat):
    import openvino as ov
    nodes = {n.name for n in model.graph.node}
    compiled = ov.Core().compile_model(
        ov.Core().read_model(model.SerializeToString(), b""), "CPU",
        {"PERF_COUNT": True, "INFERENCE_PRECISION_HINT": "f32",
         "INFERENCE_NUM_THREADS": THREADS})
    request = compiled.create_infer_request()
    inputs = list(feeds.values())
    for _ in range(3):
        request.infer(inputs)
    wall, per_node = [], defaultdict(list)
    for _ in range(repeat):
        t0 = time.perf_counter()
        request.infer(inputs)
        wall.append(time.perf_counter() - t0)
        for p in request.get_profiling_info():
            if str(p.status).endswith("EXECUTED"):
                node = RELAYOUT if p.node_type == "Reorder" else _node_of(p.node_name, nodes)
                if node not in nodes and node != RELAYOUT:  # a name of OpenVINO's own
                    node = f"{OPENVINO_OPS.get(p.node_type, p.node_type)}: {node}"
                per_node[node].append(p.real_time.total_seconds())
    per_layer = {k: sum(v) / repeat for k, v in per_node.items()}
    kernels = sum(per_layer.values())
    return {"wall": _median(wall), "kernels": kernels,
            "host and gaps": _median(wall) - kernels}, per_layer


def _activation_owners(model) -> dict:
    """Activation or BatchNormalization node -> the node it follows (through a chain): boda
    folds and fuses them into that node's kernel, onnxruntime names the fused group after
    the last of them, so every engine counts them with the first."""
    producer = {o: n.name for n in model.graph.node for o in n.output}
    owner = {}
    for n in model.graph.node:
        if n.op_type in ACTIVATIONS | {"BatchNormalization"} and n.input[0] in producer:
            first = producer[n.input[0]]
            owner[n.name] = owner.get(first, first)
    return owner


def _regroup(per_layer: dict, owner: dict) -> dict:
    out = defaultdict(float)
    for node, seconds in per_layer.items():
        out[owner.get(node, node)] += seconds
    return dict(out)


def ms(seconds) -> str:
    return f"{seconds * 1e3:.3f}" if seconds else "-"


def report_model(name, batch, model, results) -> list[str]:
    lines = [f"## {name}, batch {batch}", "",
             "| engine | wall ms | kernels ms | where the rest goes (ms) |", "|---|---|---|---|"]
    for engine, (summary, _) in results.items():
        rest = ", ".join(f"{k} {ms(v) if k != 'launches' else v}" for k, v in summary.items()
                         if k not in ("wall", "kernels"))
        lines.append(f"| {engine} | {ms(summary['wall'])} | {ms(summary['kernels'])} | "
                     f"{rest} |")
    ops = {n.name: n.op_type for n in model.graph.node}
    owner = _activation_owners(model)
    results = {e: (summary, _regroup(layers, owner)) for e, (summary, layers) in results.items()}
    engines = list(results)
    by_op = defaultdict(lambda: defaultdict(float))
    rows = []
    order = [n.name for n in model.graph.node] + [RELAYOUT]
    known = set(order)
    extra = sorted({k for _, layers in results.values() for k in layers} - known)
    for node in order + extra:
        times = [results[e][1].get(node, 0.0) for e in engines]
        if not any(times):
            continue
        op = ops.get(node, node if node == RELAYOUT else node.split(": ")[0]
                     if ": " in node else "other")
        for e, t in zip(engines, times):
            by_op[op][e] += t
        rows.append((node, op, times))
    lines += ["", "Per op type (ms per run; an activation or batch norm counts with the node "
              "before it):",
              "",
              "| op | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
    for op, t in sorted(by_op.items(), key=lambda kv: -kv[1]["boda"]):
        lines.append(f"| {op} | " + " | ".join(ms(t[e]) for e in engines) + " |")
    lines += ["", "<details><summary>per layer (ms per run)</summary>", "",
              "| node | op | " + " | ".join(engines) + " | boda / onnxruntime |",
              "|---|---|" + "---|" * (len(engines) + 1)]
    for node, op, times in rows:
        ratio = f"{times[0] / times[1]:.2f}" if times[0] and len(times) > 1 and times[1] \
            else "-"
        lines.append(f"| {node} | {op} | " + " | ".join(ms(t) for t in times) + f" | {ratio} |")
    lines += ["", "</details>", ""]
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(f"{m}:{b}" for m, b in MODELS),
                    help="zoo models as NAME:BATCH, comma-separated")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", help="also write the report here (markdown)")
    args = ap.parse_args(argv)
    device = select_device("cpu")
    load_before = os.getloadavg()[0]
    lines = ["# Where the time goes: boda beside onnxruntime and OpenVINO, per layer", "",
             f"Command: `python benchmarks/profile.py --repeat {args.repeat}`", "",
             *machine_lines(device), ""]
    body = []
    for spec in args.models.split(","):
        name, _, batch = spec.partition(":")
        batch = int(batch or 1)
        model = zoo.build(name, batch=batch)
        rng = np.random.default_rng(0)
        feeds = {i.name: rng.standard_normal(
            [d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32)
            for i in model.graph.input}
        print(f"profiling {name} b{batch} ...", file=sys.stderr, flush=True)
        results = {"boda": profile_boda(model, feeds, args.repeat),
                   "onnxruntime": profile_ort(model, feeds, args.repeat)}
        try:
            results["openvino-f32"] = profile_openvino(model, feeds, args.repeat)
        except ImportError:
            pass
        body += report_model(name, batch, model, results)
    try:
        import openvino
        version = openvino.__version__
    except ImportError:
        version = "not installed"
    lines += [f"OpenVINO {version} (fp32 forced, {THREADS} threads); load "
              f"average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; medians of "
              f"{args.repeat} runs per engine, engines one after another.", "", *body]
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
