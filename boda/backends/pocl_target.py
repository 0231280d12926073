"""PoCL's code-generation target, made to agree with the kernel library PoCL picked.

pocl-binary-distribution's PoCL 3.0 (LLVM 14) decides two things about an x86 host
separately (lib/CL/pocl_llvm_build.cc):
- the kernel library, the OpenCL built-ins as bitcode, by the host's CPU features: sse2,
  ssse3, sse41, avx, avx_f16c, avx_fma4, avx2, or avx512 (any CPU with AVX-512F);
- the code-generation target (`-target-cpu`), by the name LLVM 14 gives the host CPU.
On CPUs newer than LLVM 14 the two disagree. Zen 4 is called "znver3", which has no AVX-512,
while the library is the AVX-512 one: generating code for its 16-wide built-ins (fma on
float16) aborts the process inside LLVM ("Cannot select"). Zen 5 is called "generic", which
LLVM 14 refuses as a target, so every build fails.

The rule, in terms of features rather than CPU models: the target must have every feature
the library variant was built for (LIBRARY_NEEDS), and nothing the host lacks. PoCL's own
target is kept when it passes, so on every CPU LLVM 14 knows nothing changes (and nothing
can get slower). Otherwise the target becomes the x86-64 micro-architecture level that
matches the library (x86-64-v4 for AVX-512, x86-64-v3 for AVX2, ...): the smallest target
with the library's features, executable on any host that has them, with LLVM's generic
tuning rather than another vendor's (`benchmarks/pocl_targets.py` measures the choices side
by side). The target is the only knob this PoCL has: it takes no -target-feature option, so
the name is replaced in the driver's device structure before any program is built.

Covered: every class PoCL's library selection distinguishes (SSE2 to AVX-512). The tests
force PoCL's pick to one target of each class this machine can execute (SSE4.1, AVX2,
AVX-512, plus "znver3" and "generic", the two real failures) with $BODA_POCL_TARGET and run
the zoo's models on each: a forced pick is what a host reporting that name would give, and
the rule then has to make it work. Not covered: non-x86 hosts (PoCL's library there is not
chosen by variant, and this module leaves them alone).
"""
from __future__ import annotations

import ctypes
import os
import re

FORCE_ENV = "BODA_POCL_TARGET"  # pretend PoCL picked this target (tests, benchmarks)

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
# The library variant each x86 CPU name LLVM 14 accepts has the features of (X86.td,
# X86TargetParser.cpp). A name missing here ("generic", a newer LLVM's "znver4") agrees
# with nothing and is replaced.
_CLASSES = {
    "avx512": "knl knm skylake-avx512 skx cascadelake cooperlake cannonlake icelake-client "
              "rocketlake icelake-server tigerlake sapphirerapids x86-64-v4",
    "avx2": "haswell core-avx2 broadwell skylake alderlake znver1 znver2 znver3 bdver4 "
            "x86-64-v3",
    "avx_fma4": "bdver1 bdver2 bdver3",
    "avx_f16c": "ivybridge core-avx-i btver2",
    "avx": "sandybridge corei7-avx",
    "sse41": "penryn nehalem corei7 westmere silvermont slm goldmont goldmont-plus tremont "
             "x86-64-v2",
    "ssse3": "core2 bonnell atom btver1",
    "sse2": "x86-64 nocona k8 k8-sse3 opteron opteron-sse3 athlon64 "
            "athlon64-sse3 athlon-fx amdfam10 barcelona",
}
TARGET_CLASS = {name: cls for cls, names in _CLASSES.items() for name in names.split()}
# What replaces a target that disagrees: per library variant, targets in order of
# preference with the host features each needs (the x86-64 levels' definitions).
_V2 = {"sse2", "cx16", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3", "lahf_lm"}
_V3 = _V2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
REPLACEMENTS = {
    "avx512": [("x86-64-v4", _V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq",
                                    "avx512vl"}),
               ("knl", _V3 | {"avx512f", "avx512cd", "avx512er", "avx512pf"})],
    "avx2": [("x86-64-v3", _V3), ("haswell", LIBRARY_NEEDS["avx2"])],
    "avx_fma4": [("bdver1", LIBRARY_NEEDS["avx_fma4"])],
    "avx_f16c": [("ivybridge", LIBRARY_NEEDS["avx_f16c"])],
    "avx": [("sandybridge", LIBRARY_NEEDS["avx"])],
    "sse41": [("x86-64-v2", _V2), ("penryn", LIBRARY_NEEDS["sse41"])],
    "ssse3": [("core2", LIBRARY_NEEDS["ssse3"])],
    "sse2": [("x86-64", LIBRARY_NEEDS["sse2"])],
}


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


def agrees(target: str, library: str, flags: set) -> bool:
    """`target` has what `library` was built for, and nothing the host (`flags`) lacks."""
    cls = TARGET_CLASS.get(target)
    return (cls is not None and LIBRARY_NEEDS[library] <= LIBRARY_NEEDS[cls]
            and LIBRARY_NEEDS[cls] <= flags)


def choose(pocl_target: str, flags: set) -> tuple[str, str]:
    """(the target to build for, why) given PoCL's own pick and the host's features."""
    library = library_variant(flags)
    if agrees(pocl_target, library, flags):
        return pocl_target, f"PoCL's own target {pocl_target} agrees with its {library} library"
    for target, needs in REPLACEMENTS[library]:
        if needs <= flags:
            return target, (f"PoCL's target {pocl_target!r} lacks what its {library} kernel "
                            f"library needs; building for {target}")
    return pocl_target, f"no target agrees with the {library} library; kept {pocl_target}"


def pocl_pick(version: str) -> str:
    """PoCL's target from a pthread device's version ("... HSTR: pthread-<triple>-<cpu>")."""
    m = re.search(r"pthread-x86_64-[\w.]+-linux-gnu-(\S+)", version)
    return m.group(1) if m else ""


_APPLIED: dict = {}  # device pointer -> (target, why)


def apply(cl_device, exact: str = "") -> tuple[str, str] | None:
    """Make PoCL's pthread device `cl_device` (a pyopencl Device) build for the target the
    rule chooses, before it builds anything; `exact` builds for that target as it is
    (benchmarks compare choices; it can abort). Returns (target, why), None when the device
    is not PoCL's x86 CPU device."""
    if cl_device.int_ptr in _APPLIED:
        return _APPLIED[cl_device.int_ptr]
    pick = pocl_pick(cl_device.version.strip()) if "PoCL" in cl_device.version else ""
    if not pick:
        return None
    forced = os.environ.get(FORCE_ENV, "").strip()
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
