"""Backends: the small interface the runtime needs from a compute API.

    backend = backend_for(device)
    program = backend.compile(source)
    programs, crashed = build_kernels(backend, builds)   (name -> program; OpenCL: cached
                                               binaries, optionally built in child processes)
    kern = backend.kernel(program, name, args) (arguments bound once)
    buf = backend.alloc(nelems, itemsize=4)    (itemsize 2: float16 storage)
    backend.upload(buf, array, offset=0)       (asynchronous; array must stay alive)
    backend.download(buf, array, offset=0)     (asynchronous until finish())
    backend.fill(buf, value, nelems, itemsize=4)
    backend.launch(kern, global_size, local_size)
    replay = backend.record([(kern, global_size, local_size), ...])   (replay() enqueues all;
                                               a CUDA graph on CUDA)
    backend.finish()
    backend.time_launches(...) / time_sequence(...)   (device-event seconds)
    backend.faults_are_fatal                   (True: after a failed launch, start afresh)

opencl.py holds the OpenCL backend (pyopencl), cuda.py the CUDA one (cuda-python: NVRTC and
the driver API), remote.py the OpenCL backend of a device served by `boda agent` elsewhere.

Offsets are in elements of the array's dtype (float32, or float16 for float16 storage).
"""
from __future__ import annotations

import numpy as np


def storage_array(array) -> np.ndarray:
    """`array` as contiguous float32, or float16 if it is float16: what a buffer holds."""
    array = np.asarray(array)
    return np.ascontiguousarray(array, np.float16 if array.dtype == np.float16 else np.float32)


def build_kernels(backend, builds, isolated: bool = False, progress=None):
    """(kernel name -> program, kernel name -> crash) for opencl_build.Build items: OpenCL
    through its binary cache (`isolated`: built in child processes), the others as one
    program compiled here (CUDA's NVRTC caches its own; an agent builds on its device)."""
    if hasattr(backend, "programs"):
        return backend.programs(builds, isolated, progress)
    from ..kernels import program_source
    program = backend.compile(program_source([b.kernel for b in builds], backend.lang))
    return {b.name: program for b in builds}, {}


def backend_for(device):
    if getattr(device, "remote", ""):
        from .remote import RemoteBackend
        return RemoteBackend(device)
    if device.backend == "opencl":
        from .opencl import OpenCLBackend
        return OpenCLBackend(device)
    if device.backend == "cuda":
        from .cuda import CUDABackend
        return CUDABackend(device)
    raise ValueError(f"no backend for {device.backend}")
