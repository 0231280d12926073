"""How fast boda's runs are after an idle spell, with PoCL's worker threads pinned to CPUs of
their own (what boda sets: boda/devices/pocl_threads.py) and left to the scheduler.

    python benchmarks/idle_recovery.py [--models mobilenet,squeezenet1_1] [--rounds 10]
                                       [--out FILE]

In one process, for each zoo model (batch 1): the workers are pinned and unpinned in turns
(os.sched_setaffinity on their thread ids), and onnxruntime (2 threads) takes its turn
beside them. Each turn measures, in this order:
- after a 0.1 s pause, the first runs one by one (the way back from idle);
- a stream of runs with 33 ms between them (a 30 frames-a-second camera), after its first;
- back-to-back runs (the steady state `boda bench` reports).
Medians over the rounds. PoCL's worker threads are found as the threads of the process,
other than the main thread, that used the most CPU time over 100 warm-up runs (as many as the
device has compute units).
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_lines, ort_session, publish  # noqa: E402

import boda  # noqa: E402
from boda.devices import select_device  # noqa: E402
from boda.frontend import zoo  # noqa: E402

FIRST = 15        # runs timed one by one after the pause
PAUSE = 0.1
FRAME_GAP = 0.033
FRAMES = 10
STEADY = 20


def _cpu_ticks(tid: int) -> int:
    fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def busiest_threads(run, count: int) -> list[int]:
    """The `count` threads other than this one that used the most CPU during 100 runs."""
    me = threading.get_native_id()
    tids = lambda: [int(t) for t in os.listdir("/proc/self/task") if int(t) != me]  # noqa: E731
    before = {t: _cpu_ticks(t) for t in tids()}
    for _ in range(100):
        run()
    used = {t: _cpu_ticks(t) - before.get(t, 0) for t in tids()}
    return sorted(used, key=used.get, reverse=True)[:count]


def turn(run) -> dict:
    """One turn's timings (ms): the first runs after a pause, the frame stream, the steady
    state."""
    def timed():
        t0 = time.perf_counter()
        run()
        return (time.perf_counter() - t0) * 1e3
    time.sleep(PAUSE)
    first = [timed() for _ in range(FIRST)]
    frames = []
    for k in range(FRAMES + 1):
        time.sleep(FRAME_GAP)
        frames.append(timed())
    steady = [timed() for _ in range(STEADY)]
    return {"first": first, "frames": float(np.median(frames[1:])),
            "steady": float(np.median(steady))}


def measure(name: str, rounds: int, device):
    model = zoo.build(name)
    session = boda.compile(model, device)
    engine = session.engine
    feeds = {n: np.random.default_rng(0).standard_normal(s).astype(np.float32)
             for n, s, _ in session.specs}
    reference = ort_session(model)
    runs = {"boda, pinned": lambda: engine.run(feeds), "boda, unpinned": lambda: engine.run(feeds),
            "onnxruntime": lambda: reference.run(None, feeds)}
    workers = busiest_threads(runs["boda, pinned"], device.compute_units)
    started = [sorted(os.sched_getaffinity(tid)) for tid in workers]  # as boda left them
    allowed = sorted(os.sched_getaffinity(0))
    results = {k: [] for k in runs}
    try:
        for _ in range(rounds):
            for label, run in runs.items():
                for k, tid in enumerate(workers):
                    os.sched_setaffinity(tid, {allowed[k % len(allowed)]}
                                         if label == "boda, pinned" else set(allowed))
                results[label].append(turn(run))
    finally:  # as they were, for the next model (the same PoCL, the same threads)
        for tid, cpus in zip(workers, started):
            os.sched_setaffinity(tid, cpus)
    rows = []
    for label, turns in results.items():
        first = np.median(np.array([t["first"] for t in turns]), axis=0)
        rows.append((label, first, float(np.median([t["frames"] for t in turns])),
                     float(np.median([t["steady"] for t in turns]))))
    return rows, started


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mobilenet,squeezenet1_1")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    device = select_device("cpu")
    load = os.getloadavg()[0]
    lines = ["# boda after an idle spell: PoCL's workers pinned and unpinned", "",
             f"Command: `python benchmarks/idle_recovery.py --models {args.models} "
             f"--rounds {args.rounds}`", *machine_lines(device),
             f"Load average before: {load:.2f}", "",
             f"Milliseconds per run, medians over {args.rounds} rounds. Runs 1..{FIRST}: the "
             f"runs after a {PAUSE} s pause, one by one; frames: runs {int(FRAME_GAP * 1e3)} ms "
             f"apart (30 a second); steady: back to back.", ""]
    head = " | ".join(str(k + 1) for k in range(FIRST))
    for name in args.models.split(","):
        rows, started = measure(name, args.rounds, device)
        lines += [f"## {name}", "", "PoCL's worker threads as boda started them, on CPUs "
                  + ", ".join(str(c) for c in started) + ".", "",
                  f"| engine | {head} | frames | steady |", "|---|" + "---|" * (FIRST + 2)]
        for label, first, frames, steady in rows:
            lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in first)
                         + f" | {frames:.2f} | {steady:.2f} |")
        lines.append("")
    lines.append(f"Load average after: {os.getloadavg()[0]:.2f}")
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
