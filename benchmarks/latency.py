"""End-to-end latency of boda next to onnxruntime on the same machine, in one run, plus
where boda's time goes per layer.

    python benchmarks/latency.py [--models squeezenet1_1,squeezenet1_0] [--batch 1]
        [--device SEL] [--repeat 30] [--out benchmarks/results/pocl-cpu.md]

Prints a markdown table and writes it (with the machine and versions) to --out.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import boda
from boda.frontend import zoo
from common import interleaved_medians, machine_lines, ort_session, publish


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="squeezenet1_1,squeezenet1_0")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--device", default=None)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    lines = ["| model | batch | GFLOP | boda (ms) | onnxruntime (ms) | boda / ort | boda GFLOP/s |",
             "|---|---|---|---|---|---|---|"]
    layer_tables = []
    for name in args.models.split(","):
        model = zoo.build(name, batch=args.batch)
        x = np.random.default_rng(0).standard_normal((args.batch, 3, 224, 224)
                                                     ).astype(np.float32)
        sess = boda.compile(model, args.device)
        ref = ort_session(model)
        t_boda, t_ort = interleaved_medians([lambda: sess.run(None, {"data": x}),
                                             lambda: ref.run(None, {"data": x})], args.repeat)
        eng = sess.engine
        gflop = sum(layer.step.problem.flops for layer in eng.layers) / 1e9
        lines.append(f"| {name} | {args.batch} | {gflop:.2f} | {t_boda * 1e3:.1f} | "
                     f"{t_ort * 1e3:.1f} | {t_boda / t_ort:.1f}x | {gflop / t_boda:.1f} |")
        prof = eng.profile({"data": x}, repeat=20)
        alone_total = sum(a for _, a, _ in prof)
        seq_total = sum(q for _, _, q in prof)
        rows = sorted(prof, key=lambda r: -r[2])[:12]
        tab = [f"\nTop layers of {name} (batch {args.batch}) by median device-event time inside "
               f"whole runs ('in run'; sum {seq_total * 1e3:.2f} ms) and of the kernel repeated "
               f"by itself ('alone'; sum {alone_total * 1e3:.2f} ms):\n",
               "| layer | kernel | params | problem | in run ms | % | alone ms | GFLOP/s alone |",
               "|---|---|---|---|---|---|---|---|"]
        for layer, alone, seq in rows:
            p = layer.step.problem
            params = " ".join(f"{k}={v}" for k, v in layer.params.items())
            tab.append(f"| {layer.step.name} | {layer.family} | {params} | `{p.signature}` | "
                       f"{seq * 1e3:.2f} | {100 * seq / seq_total:.0f} | {alone * 1e3:.2f} | "
                       f"{p.flops / alone / 1e9:.1f} |")
        layer_tables.append("\n".join(tab))

    dev = sess.device
    header = [
        "# boda latency next to onnxruntime",
        "",
        f"Command: `python benchmarks/latency.py --models {args.models} --batch {args.batch}"
        f" --repeat {args.repeat}`",
        *machine_lines(dev),
        f"Date: {time.strftime('%Y-%m-%d')}. Median of {args.repeat} runs after a warm-up; "
        "both engines measured in the same process, taking turns of 10 runs.",
        "",
    ]
    text = "\n".join(header + lines + layer_tables) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
