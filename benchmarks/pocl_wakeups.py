"""What PoCL's workers going to sleep at every kernel boundary costs boda: whole runs with
the workers as PoCL runs them, with them spinning for a while before they sleep (a shim),
and with boda's own spinning during runs (boda/devices/pocl_spin.py).

    python benchmarks/pocl_wakeups.py [--models mobilenet,squeezenet1_1] [--rounds 5]
                                      [--spin-us 300] [--out FILE]

PoCL 3.0's pthread workers wait on a condition variable as soon as they find no work, so at
every kernel boundary one of them sleeps and the next kernel runs on one thread until the
kernel's push wakes it. benchmarks/pocl_spin_shim.c, built here with the system C compiler
and loaded with LD_PRELOAD, makes that wait spin for --spin-us microseconds first (returning
as a spurious wake-up, which POSIX allows). It was the experiment that led to
boda/devices/pocl_spin.py, which does the same from inside the process (an installed boda
cannot preload a library into its user's process) while a run is in flight.

Each round runs one child process per setting (the shim loaded in all three: spinning 0 us
with boda's spinning off, --spin-us with it off, 0 us with it on), in turns; a child
measures boda's whole run and onnxruntime's (2 threads) in interleaved blocks (0.1 s
pause, 10 warm-up runs a turn, 60 timed runs each) and reports both medians. Reported:
the medians over the rounds of each child's boda/onnxruntime ratio and times.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import interleaved_medians, machine_lines, ort_session, publish  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def build_shim(folder: str) -> str:
    out = os.path.join(folder, "pocl_spin_shim.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", out,
                    os.path.join(HERE, "pocl_spin_shim.c"), "-ldl"], check=True)
    return out


def child(name: str):
    import boda
    from boda.frontend import zoo
    model = zoo.build(name)
    session = boda.compile(model, "cpu")
    engine = session.engine
    feeds = {n: np.random.default_rng(0).standard_normal(s).astype(np.float32)
             for n, s, _ in session.specs}
    reference = ort_session(model)
    b, o = interleaved_medians([lambda: engine.run(feeds), lambda: reference.run(None, feeds)],
                               60, block=10, pause=0.1, warmup=10)
    print(json.dumps({"boda": b * 1e3, "ort": o * 1e3}))


# the workers, as each setting has them: (boda's spinning on, the shim spinning)
SETTINGS = {"sleep at once (PoCL)": (False, False),
            "shim: spin {us} us, then sleep": (False, True),
            "boda's spin: during runs, then 300 us": (True, False)}


def measure(name: str, shim: str, spin_us: int, rounds: int) -> dict:
    runs = {how: [] for how in SETTINGS}
    for _ in range(rounds):
        for how, (boda_spin, shim_spin) in SETTINGS.items():
            env = dict(os.environ, LD_PRELOAD=shim, BODA_POCL_SPIN=str(int(boda_spin)),
                       SPIN_US=str(spin_us if shim_spin else 0))
            res = subprocess.run([sys.executable, __file__, "--child", name], env=env,
                                 capture_output=True, text=True, check=True)
            runs[how].append(json.loads(res.stdout.strip().splitlines()[-1]))
    return {how.format(us=spin_us): {k: float(np.median([r[k] for r in rs]))
                                     for k in ("boda", "ort")}
            | {"ratio": float(np.median([r["boda"] / r["ort"] for r in rs]))}
            for how, rs in runs.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mobilenet,squeezenet1_1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--spin-us", type=int, default=300)
    ap.add_argument("--out")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child)
    from boda.devices import select_device
    device = select_device("cpu")
    lines = ["# PoCL's workers asleep at kernel boundaries, spinning first, and spinning "
             "during runs", "",
             f"Command: `python benchmarks/pocl_wakeups.py --models {args.models} "
             f"--rounds {args.rounds} --spin-us {args.spin_us}`", *machine_lines(device),
             f"Load average before: {os.getloadavg()[0]:.2f}", "",
             f"Whole runs (ms), medians over {args.rounds} rounds of one child process per "
             "setting; each child times boda and onnxruntime in interleaved blocks.", "",
             "| model | workers | boda ms | onnxruntime ms | boda / onnxruntime |",
             "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        shim = build_shim(folder)
        for name in args.models.split(","):
            for how, r in measure(name, shim, args.spin_us, args.rounds).items():
                lines.append(f"| {name} | {how} | {r['boda']:.3f} | {r['ort']:.3f} | "
                             f"{r['ratio']:.3f} |")
    lines += ["", f"Load average after: {os.getloadavg()[0]:.2f}"]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
