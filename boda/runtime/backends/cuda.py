"""The CUDA backend, through NVIDIA's cuda-python bindings: NVRTC compiles the CUDA rendering
of the kernels in process (cubins cached on disk, nvrtc.compile_cached), and the driver API
loads, launches and times them with CUDA events on one non-blocking stream.

`record(launches)` captures a whole network's launches into a CUDA graph once; a run then
replays the graph with one call, which is what makes batch-1 latency more than launch overhead.
"""
from __future__ import annotations

import numpy as np

from ...errors import BodaError
from . import nvrtc
from .base import ITEM, Backend, storage_array


def _driver():
    from cuda.bindings import driver
    return driver


def _ok(result):
    """Unpack a driver call's (CUresult, values...) and raise on an error."""
    cu = _driver()
    err, rest = result[0], result[1:]
    if err != cu.CUresult.CUDA_SUCCESS:
        name = cu.cuGetErrorName(err)[1]
        raise CudaError(f"CUDA error {name.decode() if isinstance(name, bytes) else name}")
    return rest[0] if len(rest) == 1 else (rest or None)


class CudaError(BodaError):
    """A CUDA driver call failed (a launch error is the kernel's; the tuner records it)."""


class Buffer:
    """A device allocation; freed when dropped."""

    def __init__(self, nbytes: int):
        self.ptr = int(_ok(_driver().cuMemAlloc(max(int(nbytes), ITEM))))
        self.nbytes = nbytes

    def __del__(self):
        try:
            _driver().cuMemFree(self.ptr)
        except Exception:  # the context may be gone at interpreter exit
            pass


class Kernel:
    """A function with its pointer arguments bound once, in the layout cuLaunchKernel reads:
    an array of pointers, each to the value of one argument."""

    def __init__(self, function, args):
        self.function = function
        self.values = [np.array([b.ptr], np.uint64) for b in args]
        self.pointers = np.array([v.ctypes.data for v in self.values], np.uint64)
        self.args = args  # the buffers stay alive as long as the kernel


class Graph:
    """A captured, instantiated sequence of launches; calling it replays them."""

    def __init__(self, backend, graph, executable):
        self.backend, self.graph, self.executable = backend, graph, executable

    def __call__(self):
        _ok(_driver().cuGraphLaunch(self.executable, self.backend.stream))


class CUDABackend(Backend):
    lang = "cuda"
    faults_are_fatal = True  # a kernel that faults leaves the context unusable

    def __init__(self, device):
        cu = _driver()
        self.device = device
        _ok(cu.cuInit(0))
        self._dev = _ok(cu.cuDeviceGet(device.ordinal))
        self.context = _ok(cu.cuDevicePrimaryCtxRetain(self._dev))
        _ok(cu.cuCtxSetCurrent(self.context))
        self.stream = _ok(cu.cuStreamCreate(int(cu.CUstream_flags.CU_STREAM_NON_BLOCKING)))
        self.arch = "sm_" + device.compute_capability.replace(".", "")
        self._pending = []  # host arrays of copies in flight, kept alive until finish()

    def compile(self, source: str, options: tuple = ()):
        cubin = nvrtc.compile_cached(source, self.arch, options)
        return _ok(_driver().cuModuleLoadData(cubin))

    def alloc(self, nelems: int, itemsize: int = ITEM):
        return Buffer(int(nelems) * itemsize)

    def upload(self, buf, array: np.ndarray, offset: int = 0):
        host = storage_array(array)
        self._pending.append(host)
        _ok(_driver().cuMemcpyHtoDAsync(buf.ptr + offset * host.itemsize, host.ctypes.data,
                                        host.nbytes, self.stream))

    def download(self, buf, array: np.ndarray, offset: int = 0):
        _ok(_driver().cuMemcpyDtoHAsync(array.ctypes.data, buf.ptr + offset * array.itemsize,
                                        array.nbytes, self.stream))

    def fill(self, buf, value: float, nelems: int, itemsize: int = ITEM):
        if itemsize == 2:
            bits = int(np.array([value], np.float16).view(np.uint16)[0])
            _ok(_driver().cuMemsetD16Async(buf.ptr, bits, int(nelems), self.stream))
            return
        bits = int(np.array([value], np.float32).view(np.uint32)[0])
        _ok(_driver().cuMemsetD32Async(buf.ptr, bits, int(nelems), self.stream))

    def kernel(self, program, name: str, args):
        return Kernel(_ok(_driver().cuModuleGetFunction(program, name.encode())), args)

    def launch(self, kernel, global_size: int, local_size: int):
        # the templates' global sizes are multiples of the local size, as OpenCL 1.2 needs
        _ok(_driver().cuLaunchKernel(kernel.function, global_size // local_size, 1, 1,
                                     local_size, 1, 1, 0, self.stream,
                                     kernel.pointers.ctypes.data, 0))

    def finish(self):
        _ok(_driver().cuStreamSynchronize(self.stream))
        self._pending.clear()

    def record(self, launches):
        """Capture `launches` ((kernel, global, local), in order) into a CUDA graph."""
        cu = _driver()
        if not launches:
            return lambda: None
        _ok(cu.cuStreamBeginCapture(
            self.stream, cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))
        try:
            for kern, g, lsz in launches:
                self.launch(kern, g, lsz)
        finally:
            graph = _ok(cu.cuStreamEndCapture(self.stream))
        return Graph(self, graph, _ok(cu.cuGraphInstantiate(graph, 0)))

    def _timed(self, enqueue, count: int) -> list:
        """Event seconds of `count` calls of enqueue(), each between two events."""
        cu = _driver()
        events = [(_ok(cu.cuEventCreate(0)), _ok(cu.cuEventCreate(0))) for _ in range(count)]
        for start, end in events:
            _ok(cu.cuEventRecord(start, self.stream))
            enqueue()
            _ok(cu.cuEventRecord(end, self.stream))
        self.finish()
        out = [1e-3 * _ok(cu.cuEventElapsedTime(s, e)) for s, e in events]
        for s, e in events:
            cu.cuEventDestroy(s)
            cu.cuEventDestroy(e)
        return out

    def time_sequence(self, launches, count: int, repeat: int = 1) -> list:
        """Backend.time_sequence, each launch between two CUDA events."""
        sequence = [launch for launch in launches for _ in range(repeat)]
        out = []
        for _ in range(count):
            it = iter(sequence)
            out.append(self._timed(lambda: self.launch(*next(it)), len(sequence)))
        return out
