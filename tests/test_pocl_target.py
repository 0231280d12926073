"""PoCL's code-generation target agrees with its kernel library (backends/pocl_target.py):
the rule on the feature sets of real CPU classes, the CPU table against PoCL's own compiler,
and the abort it prevents, planted by forcing the target Zen 4 gets."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from boda.runtime.backends import pocl_target as pt

# /proc/cpuinfo features of real hosts, reduced to what the rule reads
AVX2 = pt.LIBRARY_NEEDS["avx2"] | {"sse4_2", "pni", "movbe", "xsave"}
ZEN4 = AVX2 | {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "sse4a"}
NEHALEM = {"sse2", "pni", "ssse3", "cx16", "sse4_1", "sse4_2", "popcnt", "lahf_lm"}
BULLDOZER = pt.LIBRARY_NEEDS["avx_fma4"] | {"sse4_2", "pni", "lahf_lm"}


@pytest.mark.parametrize("flags, pick, library, target", [
    (ZEN4, "znver3", "avx512", "skylake-avx512"),       # the abort
    (ZEN4 | {"avx_vnni"}, "generic", "avx512", "skylake-avx512"),  # Zen 5: LLVM 14 has no name
    (ZEN4, "rocketlake", "avx512", "skylake-avx512"),   # built-ins would not inline
    (ZEN4, "skylake-avx512", "avx512", "skylake-avx512"),
    (AVX2, "znver2", "avx2", "haswell"),
    (AVX2, "generic", "avx2", "haswell"),
    (NEHALEM, "nehalem", "sse41", "penryn"),
    (BULLDOZER, "bdver1", "avx_fma4", "bdver1"),
])
def test_rule(flags, pick, library, target):
    assert pt.library_variant(flags) == library
    chosen, why = pt.choose(pick, flags)
    assert chosen == target, why
    assert pt.agrees(chosen, library)


def test_pick_is_read_from_the_device_version():
    v = "OpenCL 3.0 PoCL HSTR: pthread-x86_64-unknown-linux-gnu-skylake-avx512"
    assert pt.pocl_pick(v) == "skylake-avx512"
    assert pt.pocl_pick("OpenCL 3.0 Mesa 22.3.6") == ""


def _pocl_python(code: str, env=None):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, **(env or {})))


PROBE = r'''
import json, pyopencl as cl
from boda.runtime.backends import pocl_target as pt
from boda.devices import select_device
dev = select_device("cpu").handle
ctx = cl.Context([dev])
order = ["sse2", "ssse3", "sse41", "avx", "avx_f16c", "avx_fma4", "avx2", "avx512"]
probe = """
#if defined(__AVX512F__)
#define C 7
#elif defined(__AVX2__)
#define C 6
#elif defined(__XOP__)
#define C 5
#elif defined(__F16C__)
#define C 4
#elif defined(__AVX__)
#define C 3
#elif defined(__SSE4_1__)
#define C 2
#elif defined(__SSSE3__)
#define C 1
#else
#define C 0
#endif
__kernel void k(__global int *o) { o[0] = C; }
"""
wrong, current = [], pt.pocl_pick(dev.version)
for cls, name in pt.LIBRARY_CPU.items():
    assert pt._replace_name(dev, current.encode(), name.encode()); current = name
    src = probe + "#if C != %d\n#error class\n#endif\n" % order.index(cls)
    try:
        cl.Program(ctx, src).compile(options=["-cl-std=CL1.2"])
    except Exception:
        wrong.append(name)
print(json.dumps(wrong))
'''


def test_library_cpus_have_their_librarys_features(device):
    """Each library's CPU has, by PoCL's own clang (its predefined feature macros), the
    features of that library's class: the table matches LLVM 14's definitions."""
    if not pt.pocl_pick(device.version):
        pytest.skip("needs PoCL's x86 CPU device")
    res = _pocl_python(PROBE)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout.splitlines()[-1]) == []


FMA16 = r'''
import sys, numpy as np, pyopencl as cl
from boda.runtime.backends import pocl_target
from boda.devices import select_device
dev = select_device("cpu")
print(pocl_target.apply(dev.handle, sys.argv[1]), flush=True)
ctx = cl.Context([dev.handle]); q = cl.CommandQueue(ctx)
src = ("__kernel void k(__global float16 *a, __global float16 *b) "
       "{ int i = get_global_id(0); b[i] = fma(a[i], a[i], b[i]); }")
p = cl.Program(ctx, src).build(options=["-cl-std=CL1.2"])
rng = np.random.default_rng(0)
a, b = rng.random(1024, np.float32), rng.random(1024, np.float32)
mf = cl.mem_flags
A = cl.Buffer(ctx, mf.COPY_HOST_PTR | mf.READ_WRITE, hostbuf=a)
B = cl.Buffer(ctx, mf.COPY_HOST_PTR | mf.READ_WRITE, hostbuf=b)
p.k(q, (64,), (8,), A, B); out = np.empty_like(b); cl.enqueue_copy(q, out, B); q.finish()
print("maxerr", float(np.abs(out - (a * a + b)).max()))
'''


def test_forced_zen4_target_aborts_without_the_rule_and_runs_with_it(device, tmp_path):
    if not pt.pocl_pick(device.version) or pt.library_variant(pt.host_flags()) != "avx512":
        pytest.skip("needs PoCL on a host with AVX-512 (where PoCL loads its AVX-512 library)")
    env = {"POCL_CACHE_DIR": str(tmp_path / "pocl")}
    raw = subprocess.run([sys.executable, "-c", FMA16, "znver3"], capture_output=True,
                         text=True, timeout=600, env=dict(os.environ, **env))
    assert raw.returncode != 0 and "LLVM ERROR" in raw.stderr, raw.stdout + raw.stderr
    env[pt.FORCE_ENV] = "znver3"
    fixed = subprocess.run([sys.executable, "-c", FMA16, ""], capture_output=True, text=True,
                           timeout=600, env=dict(os.environ, **env))
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert "skylake-avx512" in fixed.stdout
    assert float(fixed.stdout.split("maxerr")[1]) < 1e-5
