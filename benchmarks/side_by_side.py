"""Independent layers side by side in one launch (kernels.side_by_side) against the same
layers apart, whole runs, with onnxruntime beside them.

    python benchmarks/side_by_side.py [--models squeezenet1_1,squeezenet1_0,resnet18]
                                      [--rounds 6] [--out FILE]

For each zoo model, four engines on the default CPU device with the kernels the runtime
serves (tuning databases, else defaults): two as boda runs it (groups side by side where
the lookup says so: by default on CPUs) and two with every group apart, made in mirrored
order (in one process an engine made later can run faster; each way's figure is the mean
of its pair), all through Engine.run, so none pays the session's feed checks. Per round,
each engine's median of 20 runs after 10 not counted and a 0.1 s pause
(compare/timing.py), the engines and onnxruntime in turns; reported: the median over
rounds of each, and of the per-round ratios.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import interleaved_medians, machine_lines, ort_session, publish  # noqa: E402

import boda  # noqa: E402
from boda.frontend import zoo  # noqa: E402
from boda.runtime import Engine  # noqa: E402
from boda.tuner.database import open_databases  # noqa: E402
from boda.tuner.side_by_side import ForcedGroups  # noqa: E402


def apart_engine(session):
    """An engine of the session's plan with the same kernels, every group apart (whatever
    the databases say of groups)."""
    engine = session.engine
    return Engine(engine.plan, engine.device, engine.backend,
                  ForcedGroups(open_databases(), 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="squeezenet1_1,squeezenet1_0,resnet18")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--out")
    args = ap.parse_args()
    lines = ["| model | launches apart -> side by side | apart ms | side by side ms | "
             "side by side / apart (median of rounds, range) | onnxruntime ms | "
             "boda / onnxruntime |", "|---|---|---|---|---|---|---|"]
    load = [os.getloadavg()[0]]
    for name in args.models.split(","):
        model = zoo.build(name)
        x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
        # two engines a way, made in mirrored order: in one process an engine made later
        # can run faster (tuner/in_run.py)
        together = boda.compile(model, device="cpu")
        apart = apart_engine(together)
        engines = [together.engine, apart, apart_engine(together),
                   boda.compile(model, device="cpu").engine]
        ref = ort_session(model)
        fns = [lambda e=e: e.run({"data": x}) for e in engines]
        fns.append(lambda: ref.run(None, {"data": x}))
        rounds = [interleaved_medians(fns, 20, block=20, pause=0.1, warmup=10)
                  for _ in range(args.rounds)]
        t1, a1, a2, t2, o = (np.array(v) for v in zip(*rounds))
        t, a = (t1 + t2) / 2, (a1 + a2) / 2
        ratio = t / a
        lines.append(
            f"| {name} | {len(apart.units)} -> {len(together.engine.units)} | "
            f"{np.median(a) * 1e3:.3f} | {np.median(t) * 1e3:.3f} | {np.median(ratio):.3f} "
            f"({ratio.min():.3f}-{ratio.max():.3f}) | {np.median(o) * 1e3:.3f} | "
            f"{np.median(t / o):.3f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    load.append(os.getloadavg()[0])
    dev = together.device
    text = "\n".join([
        "# Layers side by side against apart, whole runs",
        "",
        f"Command: `python benchmarks/side_by_side.py --models {args.models} "
        f"--rounds {args.rounds}`",
        *machine_lines(dev),
        f"Date: {time.strftime('%Y-%m-%d')}. Load average (1 min) {load[0]:.2f} before, "
        f"{load[1]:.2f} after. {args.rounds} rounds; in each, every engine's median of 20 "
        "runs (10 not counted first, 0.1 s pause), in turns; two engines a way, made in "
        "mirrored order, their mean.",
        "",
        *lines, ""])
    publish(text, args.out)


if __name__ == "__main__":
    main()
