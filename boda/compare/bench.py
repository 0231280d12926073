"""`boda bench`: boda beside the reference engines, per conv layer and for the whole network.

Per conv layer: boda's device time for the kernel the runtime uses (the tuning database's
winner, else the family default; `Engine.profile`, the layer alone), each reference's time
for the same layer, their ratio, GFLOP/s and % of the device's nominal fp32 peak. Whole
network: each engine's wall-clock latency (inputs in, outputs out), all measured in turns
in one run, and how far each reference's outputs are from boda's. report.py writes it out.

A reference engine is a module of this package with a `Reference(device)` class:
`time_layer(problem, inputs, repeat)` -> {variant: seconds} and `network(model, feeds)` ->
{variant: (run once, outputs)}.
"""
from __future__ import annotations

import copy
import importlib
import math
import os
import platform

import numpy as np

from ..devices import peak_flops
from ..errors import BodaError
from ..frontend.onnx_file import batch_shapes, load_model
from ..ir.numpy_reference import max_rel_error, random_inputs
from ..session import compile as boda_compile
from ..version import __version__
from .timing import cores, cpu_id, cpu_name, interleaved_medians

PAUSE = 0.1  # seconds between engines' turns in the whole-network rounds
WARMUP = 10  # runs not counted at the start of each turn: the way back from idle
REFERENCES = ("cudnn", "onnxruntime", "openvino")
INSTALL = {"cudnn": "PyTorch with CUDA", "onnxruntime": "onnxruntime (pip install 'boda[bench]')",
           "openvino": "OpenVINO (pip install 'boda[bench]')"}


def default_against(device) -> list[str]:
    """cuDNN on NVIDIA devices, onnxruntime everywhere."""
    return (["cudnn"] if device.family == "nvidia" else []) + ["onnxruntime"]


def load_references(names, device) -> list:
    refs = []
    for name in names:
        if name not in REFERENCES:
            raise BodaError(f"unknown reference {name!r}; choose from {', '.join(REFERENCES)}")
        try:
            module = importlib.import_module(f".{name}", __package__)
            refs.append(module.Reference(device))
        except ImportError as exc:
            raise BodaError(f"--against {name} needs {INSTALL[name]} ({exc})") from None
    return refs


def geomean(values) -> float:
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def with_input_shapes(model, shapes: dict):
    """A copy of `model` declaring `shapes` for its inputs (and a free batch dim on its
    outputs), as the references need when --batch changes the batch size."""
    model = copy.deepcopy(model)
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if value.name in shapes:
            for dim, size in zip(dims, shapes[value.name]):
                dim.dim_value = size
        elif dims:
            dims[0].dim_param = "batch"
    del model.graph.value_info[:]
    return model


def run_bench(model_path, device, against, batch=None, repeat: int = 50, db=None,
              progress=None, warmup: int = WARMUP) -> dict:
    """Measure; returns the report as plain data (what report.py writes). `warmup`: runs
    of each engine not counted at the start of its every turn (timing.interleaved_medians)."""
    progress = progress or (lambda message: None)
    proto = load_model(model_path)
    shapes = batch_shapes(proto, batch)
    refs = load_references(against, device)
    progress(f"compiling {model_path} for {device.name}")
    session = boda_compile(proto, device, input_shapes=shapes, db=db)
    rng = np.random.default_rng(0)
    feeds = {name: rng.standard_normal(shape).astype(np.float32)
             for name, shape in shapes.items()}
    boda_outputs = session.run(None, feeds)
    engine = session.engine
    peak = peak_flops(device)

    layers, ref_times = [], {}
    profile = engine.profile(session.check_feeds(feeds)[2], repeat)
    convs = [(layer, alone) for layer, alone, _ in profile if layer.step.problem.kind == "conv"]
    for k, (layer, alone) in enumerate(convs):
        p = layer.step.problem
        if p not in ref_times:
            progress(f"conv layer {k + 1}/{len(convs)}: {layer.step.name}")
            inputs = random_inputs(p, seed=k)
            ref_times[p] = {}
            for ref in refs:
                ref_times[p].update(ref.time_layer(p, inputs, repeat))
        layers.append({
            "layer": layer.step.name, "signature": p.signature, "family": layer.family,
            "params": layer.params, "level": layer.level, "gflop": p.flops / 1e9,
            "boda_ms": alone * 1e3, "gflops": p.flops / alone / 1e9,
            "peak_pct": 100 * p.flops / alone / peak,
            "reference_ms": {v: s * 1e3 for v, s in ref_times[p].items()},
            "ratio": {v: alone / s for v, s in ref_times[p].items()}})

    progress("whole network")
    engines = [("boda", lambda: session.run(None, feeds), boda_outputs)]
    shaped = with_input_shapes(proto, shapes)
    for ref in refs:
        for variant, (fn, outputs) in ref.network(shaped, feeds).items():
            engines.append((variant, fn, outputs))
    load_before = os.getloadavg()[0]
    seconds = interleaved_medians([fn for _, fn, _ in engines], repeat, pause=PAUSE,
                                  warmup=warmup)
    load_after = os.getloadavg()[0]
    network = [{"engine": name, "ms": s * 1e3, "vs_boda": s / seconds[0],
                "max_rel_diff": max(max_rel_error(np.asarray(a), b)
                                    for a, b in zip(outputs, boda_outputs))}
               for (name, _, outputs), s in zip(engines, seconds)]
    variants = list(layers[0]["ratio"]) if layers else []
    return {
        "model": str(model_path), "batch": next(iter(shapes.values()))[0] if shapes else None,
        "device": {"name": device.name, "spec": device.spec, "family": device.family,
                   "platform": device.platform, "driver": device.driver_version,
                   "compute_capability": device.compute_capability,
                   "remote": device.remote, "clock_mhz": device.clock_mhz},
        "peak_gflops": peak / 1e9, "repeat": repeat,
        "load": {"before": load_before, "after": load_after, "pause_s": PAUSE,
                 "warmup_runs": warmup},
        "tuned_layers": sum(1 for x in layers if x["level"] != "default"),
        "layers": layers, "network": network,
        "geomean_ratio": {v: geomean(x["ratio"][v] for x in layers) for v in variants},
        "references": {ref.name: {"version": ref.version, "note": ref.note} for ref in refs},
        "machine": {"cpu": cpu_name(), "cpu_id": cpu_id(), "cores": cores(),
                    "python": platform.python_version(), "boda": __version__,
                    "numpy": np.__version__},
    }
