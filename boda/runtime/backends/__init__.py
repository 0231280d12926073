"""Backends: one module per compute API, behind the interface declared in base.py.

    base.py          the interface (Backend) and what every backend shares
    opencl.py        OpenCL through pyopencl
    opencl_build.py  OpenCL programs built in child processes, binaries cached per kernel
    pocl_target.py   PoCL's code-generation target made to agree with its kernel library
    cuda.py          CUDA through cuda-python's driver API (launches, events, graphs)
    nvrtc.py         CUDA C -> cubin in process, cached (no GPU needed)
    binary_cache.py  the on-disk cache of compiled kernels both APIs use
    remote.py        a device served by `boda agent` on another machine
"""
from __future__ import annotations

from .base import ITEM, Backend, storage_array


def backend_for(device) -> Backend:
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


__all__ = ["ITEM", "Backend", "backend_for", "storage_array"]
