"""Timing Python callables fairly on a shared machine, and describing that machine."""
from __future__ import annotations

import os
import platform
import time

import numpy as np


def median_seconds(fn, repeat: int) -> float:
    fn()  # warm up: PoCL finishes code generation at the first launch
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def interleaved_medians(fns, repeat: int, block: int = 10, pause: float = 0.0,
                        warmup: int = 1) -> list[float]:
    """Median seconds of each callable over `repeat` runs, taken in turns of `block` runs
    so a slow spell of a shared machine hits every engine alike. The first `warmup` runs of
    each turn are not counted: they pay for the other engine's threads still spinning down,
    and for the engine's own way back from idle; `pause` seconds before each turn let the
    other's threads stop (issue 16 measured onnxruntime's spinning workers slowing boda's
    next turn: SqueezeNet 1.1 read 2.06x without a 0.1 s pause, 1.62x with it). After an
    idle spell PoCL's kernels ran about 1.5x slower for the next 10-15 runs while its worker
    threads were not pinned (measured: MobileNet's kernel sum 2.25 -> 3.6 ms after 1.5 s
    idle; devices/pocl_threads.py pins them now), so one warm-up run measured that recovery,
    not the steady state a stream of inferences sees."""
    times = [[] for _ in fns]
    while len(times[0]) < repeat:
        for k, fn in enumerate(fns):
            if pause:
                time.sleep(pause)
            for _ in range(max(warmup, 1)):
                fn()
            for _ in range(min(block, repeat - len(times[k]))):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def _cpuinfo() -> dict:
    """The first CPU's fields in /proc/cpuinfo (empty where there is none)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_name() -> str:
    return _cpuinfo().get("model name") or platform.processor() or "unknown CPU"


def cpu_id() -> str:
    """Vendor, family and model as /proc/cpuinfo gives them (a VM may hide the name)."""
    fields = _cpuinfo()
    return (f"{fields.get('vendor_id', '?')} family {fields.get('cpu family', '?')} model "
            f"{fields.get('model', '?')}")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
