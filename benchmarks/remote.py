"""What reaching a device through `boda agent` costs: whole-network latency attached here and
through an agent on loopback, measured in turns in one run, and one request's round trip.

    python benchmarks/remote.py [--models squeezenet1_1,squeezenet1_0] [--repeat 50]
        [--out benchmarks/results/remote-loopback.md]

The agent is a separate process on 127.0.0.1 serving the same PoCL device, so the difference
is the protocol and the sockets, not the device. A real phone adds its link's round trip
(three per inference: upload the input, replay the launches, read the output back).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np

import boda
from boda.frontend import zoo
from boda.remote import remote_devices
from boda.remote.client import Connection
from common import interleaved_medians, machine_lines, publish

TOKEN = "benchmark"


def start_agent():
    proc = subprocess.Popen([sys.executable, "-m", "boda.cli", "agent", "--port", "0",
                             "--token", TOKEN, "--device", "cpu"], stderr=subprocess.PIPE,
                            text=True)
    line = proc.stderr.readline()
    return proc, line.split("listening on ")[1].split(",")[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="squeezenet1_1,squeezenet1_0")
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    proc, address = start_agent()
    try:
        remote = remote_devices(address, TOKEN)[0]
        conn = Connection(address, TOKEN, device=0)
        trips = []
        for _ in range(200):
            t0 = time.perf_counter()
            conn.request({"op": "finish"})
            trips.append(time.perf_counter() - t0)
        conn.close()
        lines = ["| model | attached (ms) | through the agent (ms) | agent / attached |",
                 "|---|---|---|---|"]
        for name in args.models.split(","):
            model = zoo.build(name)
            x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
            here = boda.compile(model, "cpu")
            there = boda.compile(model, remote)
            a, b = here.run(None, {"data": x})[0], there.run(None, {"data": x})[0]
            assert np.array_equal(a, b), "the same kernels on the same device differ"
            t_here, t_there = interleaved_medians([lambda: here.run(None, {"data": x}),
                                                   lambda: there.run(None, {"data": x})],
                                                  args.repeat)
            lines.append(f"| {name} | {t_here * 1e3:.2f} | {t_there * 1e3:.2f} | "
                         f"{t_there / t_here:.2f} |")
    finally:
        proc.kill()
    text = "\n".join(
        ["# Reaching a device through `boda agent` (loopback)", "",
         f"Command: `python benchmarks/remote.py --models {args.models} --repeat "
         f"{args.repeat}`", "", *machine_lines(remote), "",
         f"One request's round trip (an empty `finish`): median "
         f"{statistics.median(trips) * 1e6:.0f} us over {len(trips)}.", "",
         "Whole network at batch 1, median of interleaved turns (outputs identical):", "",
         *lines, ""])
    publish(text, args.out)


if __name__ == "__main__":
    main()
