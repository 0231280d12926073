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
their own row. The engines take turns of a few runs, as `boda bench`'s whole-network rounds
do (a pause, then runs not counted, before each turn: see compare/timing.py), so a slow
spell of a shared machine falls on each alike (run one after another, on a Zen 5 VM,
boda's SqueezeNet 1.1 kernels summed 2.06 ms in one profile and 3.94 in another); the
ratios are `boda bench`'s to claim, this says which part of each run is where.
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
from boda.compare.bench import PAUSE, WARMUP  # noqa: E402
from boda.frontend import zoo  # noqa: E402
from boda.tuner.side_by_side import in_turns  # noqa: E402

MODELS = [("squeezenet1_1", 1), ("squeezenet1_0", 1), ("mobilenet", 1), ("resnet18", 1),
          ("squeezenet1_1", 8)]
THREADS = 2
BLOCK = 5  # measured runs an engine a turn
RELAYOUT = "re-layout"
# OpenVINO's node types as ONNX op types, for nodes it names itself (a conv with its batch
# norm folded in becomes "Multiply_NNN")
OPENVINO_OPS = {"Convolution": "Conv", "GroupConvolution": "Conv", "FullyConnected": "Gemm",
                "MatMul": "Gemm", "Eltwise": "Add", "Pooling": "MaxPool"}
ACTIVATIONS = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh"}


def _median(values) -> float:
    return float(np.median(values)) if len(values) else 0.0


class BodaProfile:
    """boda on PoCL: each measured run's kernels by device events and its phases, taken in
    the same round (the gaps are a difference of the two, and a shared machine's speed
    drifts between minutes), and session.run's wall time."""

    def __init__(self, model, feeds):
        self.session = boda.compile(model, device="cpu")
        self.feeds = feeds
        self.session.run(None, feeds)
        self.engine = self.session.engine
        self.arrays = self.session.check_feeds(feeds)[2]
        self.launches = self.engine.launches()
        self.runs, self.phases, self.gaps, self.wall = [], defaultdict(list), [], []

    def warm(self):
        self.session.run(None, self.feeds)

    def measure(self):
        engine = self.engine
        self.runs += engine.backend.time_sequence(self.launches, 1)
        for key, seconds in engine.phases(self.arrays).items():
            self.phases[key].append(seconds)
        self.gaps.append(self.phases["wait"][-1] + self.phases["enqueue"][-1]
                         - sum(self.runs[-1]))
        t0 = time.perf_counter()
        self.session.run(None, self.feeds)
        self.wall.append(time.perf_counter() - t0)

    def result(self):
        engine, session = self.engine, self.session
        per_layer = defaultdict(float)
        for k, unit in enumerate(engine.units):  # layers side by side: one launch, one row
            name = "+".join(engine.layers[li].step.name for li in unit.layers)
            per_layer[name] += _median([r[k] for r in self.runs])
        parts = {key: _median(v) for key, v in self.phases.items()}
        # the session's own work (feed checks, engine lookup, outputs by name), timed with
        # the engine's run answered at once: the wall minus the phases waited one by one is
        # no measure of it (those phases overlap in a plain run)
        last = engine.run(self.arrays)
        engine.run = lambda _arrays: last
        python = []
        for _ in range(20 * len(self.wall)):
            t0 = time.perf_counter()
            session.run(None, self.feeds)
            python.append(time.perf_counter() - t0)
        del engine.run
        summary = {"wall": _median(self.wall), "kernels": sum(per_layer.values()),
                   "device gaps": max(_median(self.gaps), 0.0),
                   "enqueue": parts["enqueue"], "upload": parts["upload"],
                   "download": parts["download"],
                   "session Python": _median(python),
                   "launches": len(self.launches)}
        return summary, dict(per_layer)


def _node_of(name: str, nodes: set) -> str:
    """The ONNX node an engine's profile entry belongs to."""
    base = re.sub(r"(_nchwc)?(_kernel_time)?$", "", name).split("/")[0]
    if base in nodes:
        return base
    return RELAYOUT if "reorder" in name.lower() or "abcd" in name else base


class OrtProfile:
    """onnxruntime (CPU EP, its profiler): each node's kernel time in the measured runs, the
    executor's time per run and session.run's wall time."""

    def __init__(self, model, feeds):
        import onnxruntime as ort
        self.nodes = {n.name for n in model.graph.node}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = THREADS
        opts.log_severity_level = 3
        opts.enable_profiling = True
        opts.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
        self.sess = ort.InferenceSession(model.SerializeToString(), opts,
                                         providers=["CPUExecutionProvider"])
        self.feeds = feeds
        self.measured, self.wall = [], []  # measured: per run in order, counted or not

    def warm(self):
        self.sess.run(None, self.feeds)
        self.measured.append(False)

    def measure(self):
        t0 = time.perf_counter()
        self.sess.run(None, self.feeds)
        self.wall.append(time.perf_counter() - t0)
        self.measured.append(True)

    def result(self):
        with open(self.sess.end_profiling()) as f:
            events = json.load(f)
        runs = [e for e in events if e.get("name") == "model_run"]
        starts = [r["ts"] for r in runs]
        # each node's time summed per run, then its median over the measured runs, as the
        # run's own time is: a mean let one slow run's nodes sum past the median run
        per_run = [defaultdict(float) for _ in runs]
        for e in events:
            if (e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
                    and e["ts"] >= starts[0]):
                per_run[bisect.bisect_right(starts, e["ts"]) - 1][
                    _node_of(e["name"], self.nodes)] += e["dur"] * 1e-6
        counted = [k for k, m in enumerate(self.measured) if m]
        names = {k for r in per_run for k in r}
        per_layer = {k: _median([per_run[i].get(k, 0.0) for i in counted]) for k in names}
        kernels = sum(per_layer.values())
        run = _median([runs[i]["dur"] * 1e-6 for i in counted])
        wall = _median(self.wall)
        return {"wall": wall, "kernels": kernels, "executor gaps": run - kernels,
                "session Python": wall - run}, per_layer


class OpenvinoProfile:
    """OpenVINO (CPU, fp32 forced, PERF_COUNT): each executed node's real time in the
    measured runs and the infer call's wall time."""

    def __init__(self, model, feeds):
        import openvino as ov
        self.nodes = {n.name for n in model.graph.node}
        compiled = ov.Core().compile_model(
            ov.Core().read_model(model.SerializeToString(), b""), "CPU",
            {"PERF_COUNT": True, "INFERENCE_PRECISION_HINT": "f32",
             "INFERENCE_NUM_THREADS": THREADS})
        self.request = compiled.create_infer_request()
        self.inputs = list(feeds.values())
        self.wall, self.per_node = [], defaultdict(list)

    def warm(self):
        self.request.infer(self.inputs)

    def measure(self):
        t0 = time.perf_counter()
        self.request.infer(self.inputs)
        self.wall.append(time.perf_counter() - t0)
        for p in self.request.get_profiling_info():
            if str(p.status).endswith("EXECUTED"):
                node = (RELAYOUT if p.node_type == "Reorder"
                        else _node_of(p.node_name, self.nodes))
                if node not in self.nodes and node != RELAYOUT:  # a name of OpenVINO's own
                    node = f"{OPENVINO_OPS.get(p.node_type, p.node_type)}: {node}"
                self.per_node[node].append(p.real_time.total_seconds())

    def result(self):
        per_layer = {k: sum(v) / len(self.wall) for k, v in self.per_node.items()}
        kernels = sum(per_layer.values())
        return {"wall": _median(self.wall), "kernels": kernels,
                "host and gaps": _median(self.wall) - kernels}, per_layer


def profile_in_turns(profilers: dict, repeat: int) -> dict:
    """Every engine's profile over `repeat` measured runs, taken in interleaved turns of
    BLOCK runs (the order reversed every other round), each turn after a pause and WARMUP
    runs not counted, as `boda bench` times whole networks: a slow spell of a shared
    machine then falls on every engine alike."""
    taken, r = 0, 0
    while taken < repeat:
        count = min(BLOCK, repeat - taken)
        for profiler in in_turns(list(profilers.values()), r):
            time.sleep(PAUSE)
            for _ in range(WARMUP):
                profiler.warm()
            for _ in range(count):
                profiler.measure()
        taken, r = taken + count, r + 1
    return {name: p.result() for name, p in profilers.items()}


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
        profilers = {"boda": BodaProfile(model, feeds), "onnxruntime": OrtProfile(model, feeds)}
        try:
            profilers["openvino-f32"] = OpenvinoProfile(model, feeds)
        except ImportError:
            pass
        results = profile_in_turns(profilers, args.repeat)
        body += report_model(name, batch, model, results)
    try:
        import openvino
        version = openvino.__version__
    except ImportError:
        version = "not installed"
    lines += [f"OpenVINO {version} (fp32 forced, {THREADS} threads); load "
              f"average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; medians of "
              f"{args.repeat} runs per engine, taken in interleaved turns of {BLOCK} runs "
              f"({PAUSE} s pause and {WARMUP} runs not counted before each turn).", "", *body]
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
