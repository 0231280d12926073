"""Make PoCL 3.0 usable on CPUs its LLVM 14 does not know (e.g. AMD Zen 5).

pocl-binary-distribution's PoCL asks LLVM for the host CPU name; on a CPU newer than LLVM 14
the answer is "generic", which PoCL passes to clang as `-target-cpu generic`, and every
program build fails with "unknown target CPU 'generic'" (pocl/pocl#1049). That PoCL has no
option to override the name, so we replace the device's CPU-name string in the driver's
device structure with the name of a CPU LLVM knows and whose features the host has. This runs
only when the device reports the "-generic" build string, before any program is built.
"""
from __future__ import annotations

import ctypes

_PATCHED: set = set()


def _readable_ranges():
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            addr, perms = line.split()[:2]
            if perms[0] == "r":
                a, b = (int(x, 16) for x in addr.split("-"))
                ranges.append((a, b))
    return ranges


def _host_cpu_name() -> bytes:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln for ln in f if ln.startswith("flags")), "").split()
    except OSError:
        flags = []
    if "avx512f" in flags:
        return b"skylake-avx512"
    if "avx2" in flags and "fma" in flags:
        return b"haswell"
    if "avx" in flags:
        return b"sandybridge"
    return b"x86-64"


def needs_fix(cl_device) -> bool:
    version = cl_device.version.strip()
    return "PoCL" in version and "pthread" in version and version.endswith("-generic")


def apply(cl_device) -> bool:
    """Patch `cl_device` (a pyopencl Device) if it needs it; True if something was patched."""
    if cl_device.int_ptr in _PATCHED or not needs_fix(cl_device):
        return False
    ranges = _readable_ranges()

    def readable(p, n):
        return any(a <= p and p + n <= b for a, b in ranges)

    base, size = cl_device.int_ptr, 16384
    while size and not readable(base, size):
        size //= 2
    raw = ctypes.string_at(base, size)
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    name = _host_cpu_name() + b"\0"
    hits = 0
    for off in range(0, size - 8, 8):
        p = int.from_bytes(raw[off:off + 8], "little")
        if p and readable(p, 8) and ctypes.string_at(p, 8) == b"generic\0":
            new = libc.malloc(len(name))  # malloc'd: PoCL may free() it at exit
            ctypes.memmove(new, name, len(name))
            ctypes.c_uint64.from_address(base + off).value = new
            hits += 1
    _PATCHED.add(cl_device.int_ptr)
    return hits > 0
