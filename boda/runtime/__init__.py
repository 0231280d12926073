"""Running a planned network on one device.

    engine.py   the Engine: kernels chosen and built once, buffers and launches bound once,
                each run replayed back to back
    backends/   one module per compute API behind one interface (backends/base.py)
"""
from __future__ import annotations

__all__ = ["Engine", "LayerKernel"]


def __getattr__(name: str):
    # imported on first use: the build children import backends/ alone (see boda/__init__)
    if name in __all__:
        from . import engine
        return getattr(engine, name)
    raise AttributeError(f"module 'boda.runtime' has no attribute {name!r}")
