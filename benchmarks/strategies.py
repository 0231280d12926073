"""Search strategies compared by replaying recorded trials.

    python benchmarks/strategies.py record [--layers conv8,conv16,conv115] [--repeats 3]
    python benchmarks/strategies.py replay [--trials F.json] [--seeds 30] [--out F.md]

`record` measures, exhaustively and --repeats times, a sub-space of each chosen SqueezeNet
1.1 layer on the device, and writes the trials, each with its median time over the repeats,
to results/strategies-trials.json (a tuning-database export, committed). The sub-space:
every family that applies except conv_splitk (it loses everywhere on a CPU), with the values
in RESTRICT only, about 300 points per layer (a full space of ~10,000 points per layer would
take hours on PoCL). `replay` then runs each strategy against those recorded times, as if
measuring, for many seeds and reports how close to the exhaustive best it gets with 5%, 10%
and 20% of the evaluations, and how many evaluations it needs to come within 5% of it. The
guided strategy's goal: within 5% of the exhaustive best using at most 20% of the
evaluations.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from boda import kernels
from boda.devices import select_device
from boda.frontend import zoo
from boda.kernels.templating import template_hash
from boda.plan import plan_model
from boda.tuner import strategies
from boda.tuner.database import TuningDB, read_export
from boda.tuner.strategies import Candidate
from boda.tuner.tune import Tuner, model_tasks
from common import machine_lines, publish

HERE = Path(__file__).resolve().parent
RESTRICT = {"local": (1, 4), "ku": (1,), "vw": (4, 8, 16), "cb": (4,), "lmem": (0,)}
LEFT_OUT = ("conv_splitk",)
BATCH = 12  # candidates per round, as the tuner proposes them with 2 workers


def in_subspace(cand: Candidate) -> bool:
    return cand.family not in LEFT_OUT and all(v in RESTRICT.get(k, (v,)) for k, v in cand.params)


def chosen_tasks(layers):
    tasks = model_tasks(plan_model(zoo.build("squeezenet1_1")))
    return [t for t in tasks if set(t.layers) & set(layers)]


def record(args):
    """Exhaustive search of each sub-space, `repeats` times (PoCL's cache makes the repeats
    cheap); a candidate's recorded time is its median over the repeats, since single
    measurements on a shared machine drift by 2x in slow spells."""
    device = select_device(args.device)
    runs = []
    for rep in range(args.repeats):
        db = TuningDB(None)
        tuner = Tuner(device, db, "exhaustive", restrict=in_subspace, patience=10**9)
        try:
            for task in chosen_tasks(args.layers.split(",")):
                out = tuner.tune(task, budget=10**9)
                print(f"repeat {rep + 1}: {task.layers[0]}: {out.measured} measured, best "
                      f"{out.family} {out.params} {out.after * 1e3:.3f} ms", flush=True)
        finally:
            tuner.close()
        runs.append(db.export())
    key = ("problem", "family", "params")
    seconds = {}
    for run in runs:
        for row in run["trials"]:
            seconds.setdefault(tuple(row[k] for k in key), []).append(row["seconds"])
    data = runs[0]
    for row in data["trials"]:
        found = seconds[tuple(row[k] for k in key)]
        row["times"] = json.dumps(found)  # each repeat's time, for the record
        if row["status"] == "ok":
            row["seconds"] = None if None in found else statistics.median(found)
            row["status"] = "ok" if row["seconds"] is not None else "failed_in_a_repeat"
    Path(args.trials).write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.trials}")


def recorded_space(db, device, task):
    """The candidates of the sub-space and their recorded times (inf for failures), from
    the one device in the recording; `device` (this machine's) gives the spaces."""
    [key] = [r["key"] for r in db.db["devices"].rows]
    families = kernels.families_for(task.problem, task.consts)
    hashes = {f.name: template_hash(f.template) for f in families}
    times = {}
    for row in db.trials(key, task.problem.signature):
        if hashes.get(row["family"]) == row["template_hash"]:
            cand = Candidate.of(row["family"], json.loads(row["params"]))
            if in_subspace(cand):
                times[cand] = row["seconds"] if row["status"] == "ok" else math.inf
    spaces = {f.name: f.space(task.problem, device) for f in families}
    family, params = kernels.default_choice(task.problem, device, task.consts)
    starts = [Candidate.of(family.name, params)] + [
        Candidate.of(f.name, f.default(task.problem, device)) for f in families]
    return times, spaces, starts


def replay_one(name, times, spaces, starts, seed):
    """The best time found after each evaluation."""
    s = strategies.make(name, list(times), spaces, starts, seed)
    trace, best = [], math.inf
    while batch := s.propose(BATCH):
        for c in batch:
            s.observe(c, times[c])
            best = min(best, times[c])
            trace.append(best)
    return trace


def replay(args):
    device = select_device(args.device)
    db = TuningDB(None)
    db.import_(read_export(args.trials))
    lines = [f"# Search strategies replayed on recorded trials ({device.name})", "",
             "Command: `python benchmarks/strategies.py record && python "
             "benchmarks/strategies.py replay`", *machine_lines(device), "",
             f"Sub-space per layer: every applicable family but {LEFT_OUT}, with {RESTRICT}. "
             f"Each strategy replays the recorded times {args.seeds} times (seeds) in "
             f"rounds of {BATCH}; cells are the mean over seeds of best found / exhaustive "
             "best, and the number of evaluations (share of the space) needed to come "
             "within 5%: median and 90th percentile over seeds.", "",
             "| layer | points | exhaustive best ms | strategy | at 5% | at 10% | at 20% | "
             "evals to 5%, median | 90th percentile |", "|---|---|---|---|---|---|---|---|---|"]
    summary = {}
    for task in chosen_tasks(args.layers.split(",")):
        times, spaces, starts = recorded_space(db, device, task)
        if not times:
            continue
        best = min(times.values())
        n = len(times)
        for name in ("guided", "random"):
            traces = [replay_one(name, times, spaces, starts, seed) for seed in range(args.seeds)]
            cells = []
            for share in (0.05, 0.10, 0.20):
                k = max(1, round(share * n))
                cells.append(statistics.mean(t[k - 1] / best for t in traces))
            needs = sorted(next(i + 1 for i, v in enumerate(t) if v <= 1.05 * best)
                           for t in traces)
            need, p90 = statistics.median(needs), needs[int(0.9 * (len(needs) - 1))]
            summary.setdefault(name, []).append((cells[2], need / n))
            lines.append(f"| {task.layers[0]} | {n} | {best * 1e3:.3f} | {name} | "
                         + " | ".join(f"{c:.3f}" for c in cells)
                         + f" | {need:.0f} ({need / n:.0%}) | {p90} ({p90 / n:.0%}) |")
    lines.append("")
    for name, rows in summary.items():
        lines.append(f"- {name}: at 20% of the evaluations, best/exhaustive best "
                     f"{statistics.mean(r[0] for r in rows):.3f} on average (worst "
                     f"{max(r[0] for r in rows):.3f}); evaluations to within 5%: "
                     f"{statistics.mean(r[1] for r in rows):.0%} of the space on average, "
                     f"{max(r[1] for r in rows):.0%} at worst")
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["record", "replay"])
    ap.add_argument("--layers", default="conv8,conv16,conv115",
                    help="SqueezeNet 1.1 layer names (see boda ops)")
    ap.add_argument("--repeats", type=int, default=3, help="record: exhaustive passes")
    ap.add_argument("--trials", default=str(HERE / "results" / "strategies-trials.json"),
                    help="the recorded trials: written by record, read by replay")
    ap.add_argument("--device", default=None)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--out", default=str(HERE / "results" / "strategies-pocl-cpu.md"))
    args = ap.parse_args()
    (record if args.action == "record" else replay)(args)


if __name__ == "__main__":
    main()
