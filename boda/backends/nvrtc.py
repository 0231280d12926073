"""Compiling CUDA C in process with NVRTC, through NVIDIA's cuda-python bindings.

Both come from wheels (cuda-bindings, nvidia-cuda-nvrtc-cu12) and need no GPU and no CUDA
toolkit, so every machine can check that the CUDA rendering of a kernel compiles.
"""
from __future__ import annotations

from ..errors import CompileError

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
    """Compile CUDA C source to a cubin for `arch` (e.g. sm_80); raises CompileError."""
    from cuda.bindings import nvrtc
    prog = _check(nvrtc.nvrtcCreateProgram(source.encode(), b"boda.cu", 0, [], []))
    try:
        opts = [f"--gpu-architecture={arch}".encode(), b"-std=c++17",
                *(o.encode() for o in options)]
        _check(nvrtc.nvrtcCompileProgram(prog, len(opts), opts), prog)
        size = _check(nvrtc.nvrtcGetCUBINSize(prog))
        cubin = b" " * size
        _check(nvrtc.nvrtcGetCUBIN(prog, cubin))
        return cubin
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
