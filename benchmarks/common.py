"""What the benchmark scripts share: timing a Python callable and describing the machine."""
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


def interleaved_medians(fns, repeat: int, block: int = 10) -> list[float]:
    """Median seconds of each callable over `repeat` runs, taken in turns of `block` runs
    so a slow spell of a shared machine hits every engine alike. The first run of each turn
    is not counted: it pays for the other engine's threads still spinning down."""
    times = [[] for _ in fns]
    while len(times[0]) < repeat:
        for k, fn in enumerate(fns):
            fn()
            for _ in range(min(block, repeat - len(times[k]))):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def ort_session(model, threads: int = 2):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def machine_lines(device) -> list[str]:
    import onnx
    import onnxruntime as ort
    import pyopencl

    import boda
    return [
        f"Machine: {platform.machine()}, {cpu_name()}, {cores()} cores; device "
        f"{device.name} ({device.platform}, {device.driver_version})",
        f"Versions: boda {boda.__version__}, onnxruntime {ort.__version__} (2 threads), "
        f"pyopencl {pyopencl.VERSION_TEXT}, onnx {onnx.__version__}, "
        f"numpy {np.__version__}, Python {platform.python_version()}",
    ]


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
