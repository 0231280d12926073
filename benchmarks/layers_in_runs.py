"""Chosen layers of a zoo model under each of several kernels, timed inside whole runs and
alone: what a kernel costs where an inference meets it, not only on warm caches.

    python benchmarks/layers_in_runs.py [--model resnet18] [--match SIGNATURE-PART]
                                        [--kernels FAMILY:k=v,k=v;...] [--rounds 6] [--out FILE]

The layers are those whose problem signature contains --match (default: ResNet-18's 7x7
512-channel 3x3 convolutions). For each kernel in --kernels (family:params, ';' between
kernels; default: conv_gemm's tuned tile on the Intel Xeon and conv_gemm_panel's default
there), two engines on the default CPU device, made in mirrored order, serve that kernel for
those layers and the tuning databases' choice for the rest, every group of layers apart.
All engines first run once on random inputs, then their whole launch sequences are timed
by device events in interleaved rounds (3 runs an engine a round, the order reversed every
other round); a kernel's "in runs" is the median over both engines' runs of the chosen
layers' summed times, "alone" the same layers each launched three times in a row, the
third timed (the mean of its two engines).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_lines, publish  # noqa: E402

from boda.devices.selection import select_device  # noqa: E402
from boda.frontend import zoo  # noqa: E402
from boda.kernels import BY_NAME  # noqa: E402
from boda.plan import plan_model  # noqa: E402
from boda.tuner.database import open_databases  # noqa: E402
from boda.tuner.in_run import Served  # noqa: E402
from boda.tuner.side_by_side import in_turns, mirrored_engines, random_feeds  # noqa: E402

DEFAULT_MATCH = "c=512,m=512,in_size=7x7,kernel=3x3"
DEFAULT_KERNELS = ("conv_gemm:interior=1,ku=1,local=4,tm=64,tp=4,vw=16;"
                   "conv_gemm_panel:interior=1,kc=32,local=1,panel=16,tm=64,tp=4,vw=16")


def parse_kernel(text: str):
    family, _, params = text.partition(":")
    return BY_NAME[family.strip()], {k: int(v) for k, v in
                                     (p.split("=") for p in params.split(",") if p)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="resnet18", help="zoo model name (default resnet18)")
    ap.add_argument("--match", default=DEFAULT_MATCH,
                    help="the layers whose problem signature contains this "
                         f"(default {DEFAULT_MATCH!r})")
    ap.add_argument("--kernels", default=DEFAULT_KERNELS,
                    help="FAMILY:k=v,k=v for each kernel, ';' between kernels "
                         "(default: conv_gemm's and conv_gemm_panel's ResNet-18 7x7 tiles)")
    ap.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default 6)")
    ap.add_argument("--out", help="also write the report here (markdown)")
    args = ap.parse_args()
    device = select_device("cpu")
    plan = plan_model(zoo.build(args.model, batch=1))
    steps = [s for s in plan.steps if args.match in s.problem.signature]
    if not steps:
        sys.exit(f"no layer of {args.model} matches {args.match!r}")
    kernels = [parse_kernel(k) for k in args.kernels.split(";") if k.strip()]
    databases = open_databases()
    lookups = [Served(databases, {(s.problem.signature, plan.const_operands(s)):
                                  (family, params, "forced") for s in steps})
               for family, params in kernels]
    engines = mirrored_engines(plan, device, lookups)
    load = [os.getloadavg()[0]]
    feeds = random_feeds(plan)
    names = {s.name for s in steps}
    chosen = []
    for _, engine in engines:
        engine.run(feeds)
        chosen.append([i for i, u in enumerate(engine.units)
                       if any(engine.layers[k].step.name in names for k in u.layers)])
    in_runs = [[] for _ in kernels]
    walls = [[] for _ in kernels]
    alone = [[] for _ in kernels]
    with engines[0][1].backend.busy():
        for _, engine in engines:
            engine.backend.time_sequence(engine.launches(), 2)  # warm up
        for r in range(args.rounds):
            for (k, engine), units in in_turns(list(zip(engines, chosen)), r):
                for seq in engine.backend.time_sequence(engine.launches(), 3):
                    in_runs[k].append(sum(seq[i] for i in units))
                    walls[k].append(sum(seq))
        for (k, engine), units in zip(engines, chosen):
            launches = engine.launches()
            alone[k].append(sum(statistics.median(s[2] for s in engine.backend.time_sequence(
                [launches[i]] * 3, 10)) for i in units))
    load.append(os.getloadavg()[0])
    ms = 1e3
    base = statistics.median(in_runs[0])
    lines = [f"# {args.model}: {len(steps)} layers under each kernel, inside whole runs and "
             "alone", "",
             "Command: `python benchmarks/layers_in_runs.py "
             + " ".join(f"--{k} {v!r}" if " " in str(v) or ";" in str(v) else f"--{k} {v}"
                        for k, v in (("model", args.model), ("match", args.match),
                                     ("kernels", args.kernels), ("rounds", args.rounds)))
             + "`", "", *machine_lines(device), "",
             f"Layers: {', '.join(s.name for s in steps)} (signature containing "
             f"`{args.match}`). Load average {load[0]:.2f} before, {load[1]:.2f} after; "
             f"{args.rounds} interleaved rounds of 3 runs an engine, two engines a kernel made in "
             "mirrored order (the turns reversed every other round), device-event medians.", "",
             "| kernel | layers in runs ms | layers alone ms | in runs / alone | "
             "in runs / the first kernel's | whole run's kernels ms |",
             "|---|---|---|---|---|---|"]
    for (family, params), t, a, w in zip(kernels, in_runs, alone, walls):
        med, a = statistics.median(t), statistics.mean(a)
        desc = f"{family.name} " + ",".join(f"{k}={v}" for k, v in sorted(params.items()))
        lines.append(f"| {desc} | {med * ms:.3f} | {a * ms:.3f} | {med / a:.2f} | "
                     f"{med / base:.3f} | {statistics.median(w) * ms:.3f} |")
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
