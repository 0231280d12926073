"""What tuning buys: `boda tune` of a model with the default budget, timed, then boda untuned,
boda tuned and onnxruntime side by side in one run.

    python benchmarks/tuning.py [--model squeezenet1_1] [--db F] [--skip-tune] [--budget S]
        [--repeat 200] [--out benchmarks/results/tuning-pocl-cpu.md]
        [--export tuning_db/pocl-cpu.json]   (the winners only)

Without --skip-tune the database is emptied first and the tuner gets an empty PoCL kernel
cache (POCL_CACHE_DIR), so the tuning time is that of a first tuning. End-to-end times are
wall-clock medians of session.run, the engines taking turns of 10 runs
(benchmarks/common.interleaved_medians), two sessions of untuned and of tuned boda made in
mirrored order (the mean of the two: in one process a session made later can run faster);
the per-layer sums are device-event medians of each kernel inside whole runs
(Engine.profile).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

import boda
from boda.compare.bench import PAUSE, WARMUP
from boda.frontend import zoo
from boda.tuner.database import TuningDB
from common import interleaved_medians, machine_lines, ort_session, publish

HERE = Path(__file__).resolve().parent
DEFAULT_DB = str(HERE / "results" / "tuning.sqlite")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="squeezenet1_1", help="a zoo model name")
    ap.add_argument("--db", default=DEFAULT_DB)
    ap.add_argument("--skip-tune", action="store_true", help="use the database as it is")
    ap.add_argument("--budget", type=float, help="boda tune --budget (default: its default)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--out", default=str(HERE / "results" / "tuning-pocl-cpu.md"))
    ap.add_argument("--export", help="also export the database to this JSON file")
    args = ap.parse_args()

    model = zoo.build(args.model)
    path = Path(tempfile.mkdtemp()) / f"{args.model}.onnx"
    onnx.save(model, path)
    lines = [f"# What tuning buys: {args.model} on one device", ""]
    tune_out = ""
    if not args.skip_tune:
        for suffix in ("", "-wal", "-shm"):
            Path(args.db + suffix).unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "boda.cli", "tune", "--model", str(path), "--db", args.db,
               "--quiet"] + (["--device", args.device] if args.device else []) + (
                   ["--budget", str(args.budget)] if args.budget else [])
        env = dict(os.environ, POCL_CACHE_DIR=tempfile.mkdtemp(prefix="pocl-cold-"))
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        tuned_in = time.perf_counter() - t0
        if res.returncode:
            sys.exit(f"boda tune failed: {res.stderr.strip()}")
        tune_out = res.stdout
        budget = f"--budget {args.budget:g}" if args.budget else "default budget"
        lines += [f"`boda tune --model {args.model}.onnx` ({budget}) took "
                  f"{tuned_in:.0f} s of wall time, from an empty database and an empty PoCL "
                  "kernel cache.", ""]

    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    # two sessions a side, made in mirrored order: of identical ResNet-18 engines in one
    # process each made later ran faster on an Intel Xeon (tuner/in_run.py)
    sessions = [boda.compile(model, args.device, db=db)
                for db in (False, args.db, args.db, False)]
    untuned, tuned = sessions[0], sessions[1]
    ref = ort_session(model)
    levels = [layer.level for layer in tuned.engine.layers]
    # boda bench's turns: a pause, and 10 runs not counted, before each (right after
    # onnxruntime's turn, its threads still spinning made boda's untuned turns read 1.3x
    # slower on an Intel Xeon, which showed as a gain from tuning that whole runs lacked)
    t = interleaved_medians([lambda s=s: s.run(None, {"data": x}) for s in sessions]
                            + [lambda: ref.run(None, {"data": x})],
                            args.repeat, pause=PAUSE, warmup=WARMUP)
    t_untuned, t_tuned, t_ort = (t[0] + t[3]) / 2, (t[1] + t[2]) / 2, t[4]
    sums = []
    for sess in (untuned, tuned):
        prof = sess.engine.profile({"data": x}, repeat=20)
        sums.append((sum(q for _, _, q in prof), sum(a for _, a, _ in prof)))
    lines += [
        f"Command: `python benchmarks/tuning.py --model {args.model} --repeat {args.repeat}"
        f"{' --skip-tune' if args.skip_tune else ''}"
        f"{f' --budget {args.budget:g}' if args.budget else ''}"
        f"{f' --db {args.db}' if args.db != DEFAULT_DB else ''}`",
        *machine_lines(untuned.device),
        f"Date: {time.strftime('%Y-%m-%d')}. Median of {args.repeat} runs, the engines "
        f"(two sessions each of untuned and tuned boda, made in mirrored order: the mean of "
        f"the two) taking turns of 10 runs in one process, each turn after a {PAUSE:g} s pause and "
        f"{WARMUP} runs not counted; load average (1 min) {os.getloadavg()[0]:.2f} after.", "",
        f"Layers served by the database: {levels.count('exact')} of {len(levels)} (exact "
        "device).", "",
        "| engine | end to end ms | vs untuned | vs onnxruntime | kernels in run ms | "
        "kernels alone ms |", "|---|---|---|---|---|---|",
        f"| boda untuned (family defaults) | {t_untuned * 1e3:.2f} | 1.00x | "
        f"{t_untuned / t_ort:.2f}x | {sums[0][0] * 1e3:.2f} | {sums[0][1] * 1e3:.2f} |",
        f"| boda tuned | {t_tuned * 1e3:.2f} | {t_untuned / t_tuned:.2f}x faster | "
        f"{t_tuned / t_ort:.2f}x | {sums[1][0] * 1e3:.2f} | {sums[1][1] * 1e3:.2f} |",
        f"| onnxruntime (2 threads) | {t_ort * 1e3:.2f} | | 1.00x | | |", ""]
    if tune_out:
        lines += ["The tuner's report:", "", "```", tune_out.strip(), "```", ""]
    text = "\n".join(lines)
    publish(text, args.out)
    if args.export:
        data = TuningDB(args.db).export(trials=False)
        Path(args.export).write_text(json.dumps(data, indent=1) + "\n")
        print(f"exported {len(data['winners'])} winners to {args.export}")


if __name__ == "__main__":
    main()
