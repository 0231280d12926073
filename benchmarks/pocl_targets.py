"""PoCL's code-generation target, side by side: whole-network latency of the zoo's models
with PoCL's own target and with each target the agreement rule could use instead
(backends/pocl_target.py), measured in interleaved rounds in one run.

    python benchmarks/pocl_targets.py [--models squeezenet1_1,mobilenet] [--rounds 7]
        [--targets own,x86-64-v4,skylake-avx512,icelake-server] [--out FILE]

Each target runs in its own process (the target is set in the driver before anything is
built, once per process), with its own kernel caches; the parent asks each process in turn
for a block of timed runs, with a pause between blocks, and reports the median of each
process's block medians, and the ratio to PoCL's own target. A target that fails (one that
aborts in LLVM, as Zen 4's znver3 does) is listed with what it printed. Give only targets
the host can execute.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import cpu_name, machine_lines, publish

CHILD = r'''
import json, sys, time
import numpy as np
import boda
from boda.frontend import zoo
from boda.runtime.backends import pocl_target
from boda.devices import select_device
target, names, repeat = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
device = select_device("cpu")
print(json.dumps(pocl_target.apply(device.handle)), flush=True)
x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
sessions = {n: boda.compile(zoo.build(n), device, db=False) for n in names}
for s in sessions.values():
    s.run(None, {"data": x})
print("ready", flush=True)
for line in sys.stdin:
    s = sessions[line.strip()]
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); s.run(None, {"data": x}); times.append(time.perf_counter() - t)
    print(json.dumps(sorted(times)[len(times) // 2]),
          flush=True)
'''


def main():
    from boda.devices import select_device
    from boda.runtime.backends import pocl_target
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="squeezenet1_1,mobilenet")
    ap.add_argument("--targets", default="own,skylake-avx512,x86-64-v4,icelake-server,"
                                         "cascadelake,cooperlake")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=20, help="timed runs a block")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    device = select_device("cpu")
    pick = pocl_target.pocl_pick(device.version)
    if not pick:
        sys.exit("needs PoCL's x86 CPU device")
    flags = pocl_target.host_flags()
    library = pocl_target.library_variant(flags)
    names = args.models.split(",")
    skipped, procs = [], {}
    for target in args.targets.split(","):
        env = dict(os.environ, POCL_CACHE_DIR=tempfile.mkdtemp(prefix="pocl-"),
                   BODA_CACHE_DIR=tempfile.mkdtemp(prefix="boda-"))
        env.pop(pocl_target.FORCE_ENV, None)
        # the build processes inherit it
        env[pocl_target.EXACT_ENV] = pick if target == "own" else target
        procs[target] = subprocess.Popen(
            [sys.executable, "-c", CHILD, target, ",".join(names), str(args.repeat)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env)
    chosen = {}
    for target, p in list(procs.items()):  # one at a time: compiles would disturb each other
        chosen[target] = json.loads(p.stdout.readline())[0]
        if p.stdout.readline().strip() != "ready":
            why = (p.stderr.read().strip().splitlines() or ["died"])[-1]
            skipped.append(f"{chosen[target]}: {why}")
            del procs[target]
    time.sleep(30)  # let the compiles' load settle
    load_before = os.getloadavg()[0]
    blocks = {(t, n): [] for t in procs for n in names}
    for _ in range(args.rounds):
        for n in names:
            for t, p in procs.items():
                p.stdin.write(n + "\n")
                p.stdin.flush()
                blocks[t, n].append(json.loads(p.stdout.readline()))
                time.sleep(0.1)
    load_after = os.getloadavg()[0]
    for p in procs.values():
        p.stdin.close()
        p.wait()
    head = "| target | " + " | ".join(f"{n} (ms) | / own" for n in names) + " |"
    lines = [f"# PoCL code-generation targets on {cpu_name()}", "",
             f"Command: `python benchmarks/pocl_targets.py --models {args.models} "
             f"--targets {args.targets} --rounds {args.rounds} --repeat {args.repeat}`", "",
             *machine_lines(device),
             f"PoCL's own target: {pick}; its kernel library: {library}, compiled for "
             f"{pocl_target.LIBRARY_CPU[library]}, which the rule builds for",
             f"Load average (1 min): {load_before:.2f} before, {load_after:.2f} after", "",
             head, "|---|" + "---|---|" * len(names)]
    own = "own" if "own" in procs else next(iter(procs))
    for t in procs:
        cells = []
        for n in names:
            ms = 1e3 * statistics.median(blocks[t, n])
            ref = 1e3 * statistics.median(blocks[own, n])
            cells.append(f"{ms:.2f} | {ms / ref:.3f}")
        lines.append(f"| {chosen[t]}{' (own)' if t == 'own' else ''} | " + " | ".join(cells)
                     + " |")
    if skipped:
        lines += ["", "Failed: " + "; ".join(skipped)]
    lines += ["", f"Median of {args.rounds} interleaved blocks of {args.repeat} runs each "
              "(each block's median), batch 1, untuned defaults."]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
