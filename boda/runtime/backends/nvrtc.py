"""Compiling CUDA C in process with NVRTC, through NVIDIA's cuda-python bindings.

Both come from wheels (cuda-bindings, nvidia-cuda-nvrtc-cu12) and need no GPU and no CUDA
toolkit, so every machine can check that the CUDA rendering of a kernel compiles.
`compile_cached` keeps each cubin on disk, keyed by the source, the options, the target
architecture and the NVRTC version, so a network built again loads its kernels at once.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import CompileError
from . import binary_cache

ARCHS = ("sm_80", "sm_90")


def available() -> bool:
    try:
        from cuda.bindings import nvrtc
        return nvrtc.nvrtcVersion()[0] == nvrtc.nvrtcResult.NVRTC_SUCCESS
    except Exception:  # bindings missing, or libnvrtc not found
        return False


def _check(result, prog=None):
    from cuda.bindings import nvrtc
    err = result[0]
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        log = _log(prog) if prog is not None else ""
        first = next((ln for ln in log.splitlines() if "error" in ln), log.strip() or str(err))
        raise CompileError(f"NVRTC compile failed: {first.strip()}")
    return result[1:] if len(result) > 2 else (result[1] if len(result) == 2 else None)


def _log(prog) -> str:
    from cuda.bindings import nvrtc
    _, size = nvrtc.nvrtcGetProgramLogSize(prog)
    buf = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, buf)
    return buf.decode(errors="replace").rstrip("\x00 ")


def compile_cuda(source: str, arch: str = "sm_90", options: tuple = ()) -> bytes:
    """Compile CUDA C source to a cubin for a real `arch` (sm_80), or to PTX for a virtual
    one (compute_80: NVRTC's front end and NVVM without ptxas, a quicker check that a source
    compiles); raises CompileError."""
    from cuda.bindings import nvrtc
    prog = _check(nvrtc.nvrtcCreateProgram(source.encode(), b"boda.cu", 0, [], []))
    try:
        opts = [f"--gpu-architecture={arch}".encode(), b"-std=c++17",
                *(o.encode() for o in options)]
        _check(nvrtc.nvrtcCompileProgram(prog, len(opts), opts), prog)
        ptx = arch.startswith("compute_")
        size = _check((nvrtc.nvrtcGetPTXSize if ptx else nvrtc.nvrtcGetCUBINSize)(prog))
        image = b" " * size
        _check((nvrtc.nvrtcGetPTX if ptx else nvrtc.nvrtcGetCUBIN)(prog, image))
        return image
    finally:
        nvrtc.nvrtcDestroyProgram(prog)


def cache_dir() -> Path:
    """$BODA_CACHE_DIR/cuda, else ~/.cache/boda/cuda."""
    return binary_cache.cache_dir("cuda")


def version() -> str:
    from cuda.bindings import nvrtc
    major, minor = _check(nvrtc.nvrtcVersion())
    return f"{major}.{minor}"


def compile_cached(source: str, arch: str, options: tuple = ()) -> bytes:
    """compile_cuda through the disk cache. Entries are written whole (a temporary file
    renamed into place), so concurrent builds and a kill never leave a torn cubin; an
    unreadable or damaged entry is compiled again."""
    key = binary_cache.digest(version(), arch, *options, source)
    path = cache_dir() / f"{key}-{arch}.{'ptx' if arch.startswith('compute_') else 'cubin'}"
    data = binary_cache.read(path)
    if data and (data[:4] == b"\x7fELF" or (data.startswith(b"//") and data.rstrip(b"\0 "))):
        return data
    cubin = compile_cuda(source, arch, options)
    binary_cache.write(path, cubin)
    return cubin
