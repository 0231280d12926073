"""PoCL's code-generation target, made to agree with the kernel library PoCL picked.

pocl-binary-distribution's PoCL 3.0 (LLVM 14) decides two things about an x86 host
separately (lib/CL/pocl_llvm_build.cc):
- the kernel library, the OpenCL built-ins as bitcode, by the host's CPU features: sse2,
  ssse3, sse41, avx, avx_f16c, avx_fma4, avx2, or avx512 (any CPU with AVX-512F); each
  variant is compiled for one CPU (its functions carry target-cpu "skylake-avx512",
  "haswell", "penryn", ...);
- the code-generation target (`-target-cpu`), by the name LLVM 14 gives the host CPU.
Where the two disagree, things break or slow down. Zen 4 is called "znver3", which has no
AVX-512, while the library is the AVX-512 one: generating code for its 16-wide built-ins (fma
on float16) aborts the process inside LLVM ("Cannot select"). Zen 5 is called "generic",
which LLVM 14 refuses as a target, so every build fails. And a target that lacks any feature
the library was compiled with (rocketlake and x86-64-v4 lack skylake-avx512's CLWB and
PKU) cannot inline the library's built-ins: kernels call fma and friends as functions, and
SqueezeNet 1.1 ran 4.1x slower (benchmarks/results/pocl-targets.md).

The rule, by features rather than by CPU models: build for the CPU the kernel library was
compiled for (LIBRARY_CPU), the choice later PoCL releases make themselves
(pocl_get_distro_cpu_name). Its features are the library's, so every built-in inlines, and
PoCL only picks a library whose requirements the host meets. The target is the only knob
this PoCL has (it takes no -target-feature option), so the name is replaced in the driver's
device structure before any program is built.

Covered: every class PoCL's library selection distinguishes (SSE2 to AVX-512); the tests
check each class's CPU name against PoCL's own compiler. They also force PoCL's pick to one
target of each class this machine can execute (SSE4, AVX2, AVX-512, plus "znver3" and
"generic", the two real failures) with $BODA_POCL_TARGET and run the zoo's models on each:
whatever PoCL picked, the target built for is the library's. Not covered: non-x86 hosts
(PoCL's library there is not chosen by variant; this module leaves them alone).
"""
from __future__ import annotations

import ctypes
import os
import re

FORCE_ENV = "BODA_POCL_TARGET"  # pretend PoCL picked this target (tests)
EXACT_ENV = "BODA_POCL_EXACT_TARGET"  # build for this target, rule or not (benchmarks)

# getX86KernelLibName in PoCL 3.0, as /proc/cpuinfo names the features; later entries win.
LIBRARY_NEEDS = {
    "sse2": {"sse2"},
    "ssse3": {"sse2", "ssse3", "cx16"},
    "sse41": {"sse2", "ssse3", "cx16", "sse4_1"},
    "avx": {"sse2", "ssse3", "cx16", "sse4_1", "avx", "popcnt"},
    "avx_f16c": {"sse2", "ssse3", "cx16", "sse4_1", "avx", "popcnt", "f16c"},
    "avx_fma4": {"sse2", "ssse3", "cx16", "sse4_1", "avx", "popcnt", "xop", "fma4"},
    "avx2": {"sse2", "ssse3", "cx16", "sse4_1", "avx", "popcnt", "f16c", "avx2", "fma",
             "bmi1", "bmi2", "abm"},
    "avx512": {"sse2", "ssse3", "cx16", "sse4_1", "avx", "popcnt", "f16c", "avx2", "fma",
               "bmi1", "bmi2", "abm", "avx512f"},
}
# The CPU each library variant was compiled for (PoCL's kernellib_feature_map)
LIBRARY_CPU = {"sse2": "x86-64", "ssse3": "core2", "sse41": "penryn", "avx": "sandybridge",
               "avx_f16c": "ivybridge", "avx_fma4": "bdver1", "avx2": "haswell",
               "avx512": "skylake-avx512"}


def host_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            return set(next((ln for ln in f if ln.startswith("flags")), "").split()[2:])
    except OSError:
        return set()


def library_variant(flags: set) -> str:
    """The kernel library PoCL loads on a host with these features."""
    variant = "sse2"
    for name, needs in LIBRARY_NEEDS.items():
        if needs <= flags:
            variant = name
    return variant


def agrees(target: str, library: str) -> bool:
    """`target` is the CPU the kernel library was compiled for."""
    return target == LIBRARY_CPU[library]


def choose(pocl_target: str, flags: set) -> tuple[str, str]:
    """(the target to build for, why) given PoCL's own pick and the host's features."""
    library = library_variant(flags)
    target = LIBRARY_CPU[library]
    if target == pocl_target:
        return target, f"PoCL's own target {target} is its {library} library's"
    return target, (f"PoCL's target {pocl_target!r} is not its {library} kernel library's; "
                    f"building for {target}, as the library was")


def pocl_pick(version: str) -> str:
    """PoCL's target from a pthread device's version ("... HSTR: pthread-<triple>-<cpu>")."""
    m = re.search(r"pthread-x86_64-[\w.]+-linux-gnu-(\S+)", version)
    return m.group(1) if m else ""


_APPLIED: dict = {}  # device pointer -> (target, why)


def apply(cl_device, exact: str = "") -> tuple[str, str] | None:
    """Make PoCL's pthread device `cl_device` (a pyopencl Device) build for the target the
    rule chooses, before it builds anything; `exact` builds for that target as it is
    (benchmarks compare choices; it can abort). Returns (target, why), None when the device
    is not PoCL's x86 CPU device. $BODA_POCL_EXACT_TARGET is `exact` for this process and
    its children (the build processes)."""
    if cl_device.int_ptr in _APPLIED:
        return _APPLIED[cl_device.int_ptr]
    pick = pocl_pick(cl_device.version.strip()) if "PoCL" in cl_device.version else ""
    if not pick:
        return None
    forced = os.environ.get(FORCE_ENV, "").strip()
    exact = exact or os.environ.get(EXACT_ENV, "").strip()  # children inherit it
    if exact:
        target, why = exact, "exact target, no rule"
    else:
        target, why = choose(forced or pick, host_flags())
        if forced:
            why = f"forced pick {forced}: {why}"
    if target != pick and not _replace_name(cl_device, pick.encode(), target.encode()):
        why = f"could not set the target ({why}); kept {pick}"
        target = pick
    _APPLIED[cl_device.int_ptr] = (target, why)
    return target, why


def _readable_ranges():
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            addr, perms = line.split()[:2]
            if perms[0] == "r":
                a, b = (int(x, 16) for x in addr.split("-"))
                ranges.append((a, b))
    return ranges


def _replace_name(cl_device, old: bytes, new: bytes) -> bool:
    """Point the device structure's CPU-name field (a char * holding `old`) at `new`."""
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
    old, new = old + b"\0", new + b"\0"
    hits = 0
    for off in range(0, size - 8, 8):
        p = int.from_bytes(raw[off:off + 8], "little")
        if p and readable(p, len(old)) and ctypes.string_at(p, len(old)) == old:
            copy = libc.malloc(len(new))  # malloc'd: PoCL may free() it at exit
            ctypes.memmove(copy, new, len(new))
            ctypes.c_uint64.from_address(base + off).value = copy
            hits += 1
    return hits > 0
