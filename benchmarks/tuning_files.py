"""Two versions of a shipped tuning file side by side: whole runs of zoo models served by
tuning_db/ as it is, and with one of its files replaced by another export (the file before
a re-tune), in one process.

    python benchmarks/tuning_files.py --file tuning_db/pocl-cpu-zen5.json --against OLD.json
                                      [--models squeezenet1_1:1,...] [--rounds 20] [--out FILE]

For each model, two engines a side on the default CPU device, made in mirrored order (in one
process an engine made later can run faster), first run once on random inputs; then in
interleaved rounds (the order reversed every other round), each engine's turn: a pause, 10
runs not counted, 10 timed `Engine.run` calls (inputs up, outputs down), and, in rounds of
their own, the launch sequence timed by device events. Medians over both engines of a side.
On a machine whose speed swings in spells between processes (a Zen 5 VM here: one session
2.6 ms a run in one process, 4.3 in the next) two benches a process apart do not measure a
file; this does.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_lines, publish  # noqa: E402

from boda.compare.bench import PAUSE, WARMUP  # noqa: E402
from boda.devices.selection import select_device  # noqa: E402
from boda.frontend import zoo  # noqa: E402
from boda.kernels.selection import Lookup  # noqa: E402
from boda.plan import plan_model  # noqa: E402
from boda.tuner.database import load_export, shipped_databases  # noqa: E402
from boda.tuner.side_by_side import in_turns, mirrored_engines, random_feeds  # noqa: E402

MODELS = "squeezenet1_1:1,squeezenet1_0:1,mobilenet:1,resnet18:1,squeezenet1_1:8"
TIMED = 10  # Engine.run calls timed a turn


def _databases(shipped: list, name: str, replacement: Path) -> list:
    """The shipped databases with the one loaded from file `name` replaced by `replacement`."""
    if name not in {d.path.name for d in shipped}:
        sys.exit(f"no shipped tuning file is named {name}")
    db = load_export(replacement)
    return [db if d.path.name == name else d for d in shipped]


def compare(name, batch, device, lookups, rounds) -> dict:
    plan = plan_model(zoo.build(name, batch=batch))
    engines = mirrored_engines(plan, device, lookups)
    feeds = random_feeds(plan)
    for _, engine in engines:
        engine.run(feeds)
    a, b = engines[0][1], next(e for k, e in engines if k == 1)
    differing = sum((x.family, x.params) != (y.family, y.params)
                    for x, y in zip(a.layers, b.layers))
    wall, events = ([[], []] for _ in range(2))
    for r in range(rounds):
        for k, engine in in_turns(engines, r):
            time.sleep(PAUSE)
            for _ in range(WARMUP):
                engine.run(feeds)
            for _ in range(TIMED):
                t0 = time.perf_counter()
                engine.run(feeds)
                wall[k].append(time.perf_counter() - t0)
    with a.backend.busy():
        for r in range(rounds):
            for k, engine in in_turns(engines, r):
                events[k] += [sum(s) for s in engine.backend.time_sequence(engine.launches(), 3)]
    med = [[statistics.median(t) for t in side] for side in (wall, events)]
    return {"layers": len(a.layers), "differing": differing, "wall": med[0], "events": med[1]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", required=True,
                    help="the shipped tuning file to compare (a path in tuning_db/)")
    ap.add_argument("--against", required=True, help="the export to put in its place")
    ap.add_argument("--models", default=MODELS, help=f"zoo models as NAME:BATCH (default {MODELS})")
    ap.add_argument("--rounds", type=int, default=20, help="interleaved rounds (default 20)")
    ap.add_argument("--out", help="also write the report here (markdown)")
    args = ap.parse_args(argv)
    device = select_device("cpu")
    shipped = shipped_databases()
    name = Path(args.file).name
    lookups = [Lookup(shipped), Lookup(_databases(shipped, name, Path(args.against)))]
    load = [os.getloadavg()[0]]
    rows = []
    for spec in args.models.split(","):
        model, _, batch = spec.partition(":")
        print(f"{model} b{batch or 1} ...", file=sys.stderr, flush=True)
        r = compare(model, int(batch or 1), device, lookups, args.rounds)
        rows.append(f"| {model} | {batch or 1} | {r['differing']} of {r['layers']} | "
                    f"{r['wall'][0] * 1e3:.3f} | {r['wall'][1] * 1e3:.3f} | "
                    f"{r['wall'][0] / r['wall'][1]:.3f} | {r['events'][0] * 1e3:.3f} | "
                    f"{r['events'][1] * 1e3:.3f} | {r['events'][0] / r['events'][1]:.3f} |")
    load.append(os.getloadavg()[0])
    lines = [f"# {name} against {Path(args.against).name}, whole runs in one process", "",
             f"Command: `python benchmarks/tuning_files.py --file {args.file} --against "
             f"{args.against} --models {args.models} --rounds {args.rounds}`", "",
             *machine_lines(device), "",
             f"Load average {load[0]:.2f} before, {load[1]:.2f} after; two engines a side made "
             f"in mirrored order, {args.rounds} interleaved rounds; wall: Engine.run medians "
             f"({TIMED} a turn after a {PAUSE} s pause and {WARMUP} runs not counted), kernels:"
             " the launch sequence's device-event sum.", "",
             f"| model | batch | layers served differently | {name} wall ms | "
             f"{Path(args.against).name} wall ms | ratio | {name} kernels ms | "
             f"{Path(args.against).name} kernels ms | ratio |",
             "|---|---|---|---|---|---|---|---|---|", *rows]
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
