"""Every distinct conv layer of a model, per kernel family: the family's default and the best
of a sample of its space, beside onnxruntime running the same layer as a one-node model.

    python benchmarks/conv_layers.py [--model squeezenet1_1] [--batch 1,8] [--sample 6]
        [--device SEL] [--out benchmarks/results/conv-layers-pocl-cpu.md]

Boda's times are device-event medians (boda.tuner.measure, after verification against the
numpy reference); onnxruntime's are wall-clock medians of session.run on the same inputs.
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict

from boda import kernels
from boda.compare.onnxruntime import conv_model
from boda.devices import select_device
from boda.frontend import zoo
from boda.plan import plan_model
from boda.tuner.measure import ProblemBench
from common import machine_lines, median_seconds, ort_session, publish


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="squeezenet1_1", help="a zoo model name")
    ap.add_argument("--batch", default="1,8", help="comma-separated batch sizes")
    ap.add_argument("--sample", type=int, default=6, help="random points per family")
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    device = select_device(args.device)
    out = []
    for batch in [int(b) for b in args.batch.split(",")]:
        layers = defaultdict(list)
        for step in plan_model(zoo.build(args.model), batch=batch).steps:
            if step.problem.kind == "conv":
                layers[step.problem].append(step.name)
        out += [f"\n## {args.model}, batch {batch}\n",
                "| layer | GFLOP | family | params | ms | GFLOP/s | boda / ort |",
                "|---|---|---|---|---|---|---|"]
        best_total, default_total, ort_total = 0.0, 0.0, 0.0
        for p, names in layers.items():
            t0 = time.perf_counter()
            bench = ProblemBench(p, device)
            ort_s = median_seconds(lambda s=ort_session(conv_model(p, bench.inputs)):
                                   s.run(None, {"x": bench.inputs[0]}), 20)
            label = f"{', '.join(names)}<br>`{_short(p)}`"
            chosen, _ = kernels.default_choice(p, device)
            rows = []
            for family in kernels.families_for(p):
                default = family.default(p, device)
                cands = [(family, q) for q in family.sample(p, device, args.sample, seed=1,
                                                            edges=False)]
                trials = bench.measure(cands, min_seconds=0.02)
                ok = [t for t in trials if t.status == "ok"]
                d = next(t for t in trials if t.params == default)
                for kind, t in (("default", d), ("best of sample", ok[0] if ok else d)):
                    mark = " (runtime's pick)" if family is chosen and kind == "default" else ""
                    rows.append((t.seconds, f"| {label} | {p.flops * len(names) / 1e9:.3f} | "
                                 f"{family.name} {kind}{mark} | {_params(t.params)} | "
                                 f"{t.seconds * 1e3:.3f} | {p.flops / t.seconds / 1e9:.1f} | "
                                 f"{t.seconds / ort_s:.2f} |"))
                    label = ""
                if family is chosen:
                    default_total += d.seconds * len(names)
            best = min(s for s, _ in rows)
            best_total += best * len(names)
            ort_total += ort_s * len(names)
            out += [r for _, r in rows]
            out.append(f"| | | onnxruntime | | {ort_s * 1e3:.3f} | {p.flops / ort_s / 1e9:.1f} "
                       f"| 1.00 |")
            print(f"batch {batch}: {', '.join(names)} done in {time.perf_counter() - t0:.0f} s",
                  flush=True)
        out += ["", f"Sum over conv layers (each distinct layer times the layers sharing it): "
                f"runtime's default choice {default_total * 1e3:.2f} ms, best measured "
                f"{best_total * 1e3:.2f} ms, onnxruntime one-node models "
                f"{ort_total * 1e3:.2f} ms (default / ort = {default_total / ort_total:.2f}, "
                f"best / ort = {best_total / ort_total:.2f})."]
    text = "\n".join(
        ["# Conv layers per kernel family, next to onnxruntime", "",
         f"Command: `python benchmarks/conv_layers.py --model {args.model} --batch "
         f"{args.batch} --sample {args.sample}`", *machine_lines(device),
         f"Date: {time.strftime('%Y-%m-%d')}. boda: median device-event time of a verified "
         "kernel; onnxruntime: median wall time of the layer as a one-node model, in the "
         "same process.", ""] + out) + "\n"
    publish(text, args.out)


def _short(p) -> str:
    k = "x".join(map(str, p.kernel))
    s = f"/s{p.stride[0]}" if p.stride != (1, 1) else ""
    pad = f"/p{p.pad_begin[0]}" if any(p.pad_begin) else ""
    return f"{p.c}->{p.m} {k}{s}{pad} @{p.in_size[0]}x{p.in_size[1]}"


def _params(params) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


if __name__ == "__main__":
    main()
