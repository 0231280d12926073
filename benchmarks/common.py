"""What the benchmark scripts share: timing (boda.compare.timing), onnxruntime sessions, and
the lines describing the machine."""
from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from boda.compare.onnxruntime import session as ort_session
from boda.compare.timing import cores, cpu_id, cpu_name, interleaved_medians, median_seconds

__all__ = ["cores", "cpu_id", "cpu_name", "interleaved_medians", "machine_lines", "median_seconds",
           "ort_session", "publish"]


def publish(text: str, out=None):
    """Print a benchmark's report, and write it to `out` when given (results/...)."""
    print(text)
    if out:
        Path(out).write_text(text)


def machine_lines(device) -> list[str]:
    import onnx
    import onnxruntime as ort
    import pyopencl

    import boda
    return [
        f"Machine: {platform.machine()}, {cpu_name()} ({cpu_id()}), {cores()} cores; device "
        f"{device.name} ({device.platform}, {device.driver_version})",
        f"Versions: boda {boda.__version__}, onnxruntime {ort.__version__} (2 threads), "
        f"pyopencl {pyopencl.VERSION_TEXT}, onnx {onnx.__version__}, "
        f"numpy {np.__version__}, Python {platform.python_version()}",
    ]
