"""boda: compile ONNX CNNs into generated OpenCL (and CUDA) kernels and run them.

    import boda
    sess = boda.compile("squeezenet1_1.onnx")          # default device: first GPU, else CPU
    (scores,) = sess.run(None, {"data": x})
"""
from .errors import BodaError
from .session import Session, compile
from .version import __version__

__all__ = ["BodaError", "Session", "compile", "__version__"]
