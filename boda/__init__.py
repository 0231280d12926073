"""boda: compile ONNX CNNs into generated OpenCL (and CUDA) kernels and run them.

    import boda
    sess = boda.compile("squeezenet1_1.onnx")          # default device: first GPU, else CPU
    (scores,) = sess.run(None, {"data": x})

`compile` and `Session` are imported on first use, so that the build children
(runtime/backends/opencl_build.py), which need only pyopencl, do not pay for onnx.
"""
from .errors import BodaError
from .version import __version__

__all__ = ["BodaError", "Session", "compile", "__version__"]


def __getattr__(name: str):
    if name in ("Session", "compile"):
        from . import session
        return getattr(session, name)
    raise AttributeError(f"module 'boda' has no attribute {name!r}")
