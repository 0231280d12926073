"""Running a planned network on one device.

    engine.py   the Engine: kernels chosen and built once, buffers and launches bound once,
                each run replayed back to back
    backends/   one module per compute API behind one interface (backends/base.py)
"""
from __future__ import annotations

from .engine import Engine, LayerKernel

__all__ = ["Engine", "LayerKernel"]
