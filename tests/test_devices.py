"""Device selection across backends, nominal peaks, the CUDA pieces that need no GPU
(NVRTC's disk cache, a clear error where no CUDA device exists), and PoCL's worker threads
on CPUs of their own. Fake device lists stand in for an NVIDIA machine: the CUDA driver path
itself runs only on one (benchmarks/nvidia/)."""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import pytest

from boda.devices import Device, list_devices, peak_flops, select_device
from boda.devices.pocl_threads import should_pin
from boda.errors import DeviceError
from boda.runtime.backends import nvrtc
from conftest import assert_one_line_error, boda


def fake(index, backend, ordinal, name, kind="gpu", vendor="NVIDIA Corporation", **kw):
    base = dict(index=index, backend=backend, platform="P", name=name, vendor=vendor,
                version="", driver_version="", opencl_c_version="", kind=kind,
                compute_units=132, global_mem=1 << 34, local_mem=1 << 16,
                max_work_group_size=1024, ordinal=ordinal)
    return Device(**(base | kw))


NVIDIA_BOX = [fake(0, "opencl", 0, "pthread-AMD EPYC", kind="cpu", vendor="AuthenticAMD"),
              fake(1, "opencl", 1, "NVIDIA H100 80GB HBM3"),
              fake(2, "cuda", 0, "NVIDIA H100 80GB HBM3", compute_capability="9.0"),
              fake(3, "cuda", 1, "NVIDIA H100 80GB HBM3", compute_capability="9.0")]


def test_selection_prefers_cuda_for_nvidia_and_takes_explicit_backends():
    assert select_device("nvidia", NVIDIA_BOX) is NVIDIA_BOX[2]
    assert select_device(None, NVIDIA_BOX) is NVIDIA_BOX[2]
    assert select_device("cuda:1", NVIDIA_BOX) is NVIDIA_BOX[3]
    assert select_device("opencl:1", NVIDIA_BOX) is NVIDIA_BOX[1]
    assert select_device("1", NVIDIA_BOX) is NVIDIA_BOX[1]
    assert select_device("cpu", NVIDIA_BOX) is NVIDIA_BOX[0]
    with pytest.raises(DeviceError, match="no device cuda:2; present: .*cuda:1"):
        select_device("cuda:2", NVIDIA_BOX)
    assert NVIDIA_BOX[3].spec == "cuda:1" and "cuda:1" in NVIDIA_BOX[3].describe()


def test_nominal_peaks_match_the_published_fp32_figures():
    # NVIDIA's data sheets: H100 SXM 67 TFLOP/s (132 SMs, 1980 MHz boost), A100 19.5 (108 SMs,
    # 1410 MHz), RTX 4090 82.6 (128 SMs, 2520 MHz)
    cases = [(132, 1980, "9.0", 67e12), (108, 1410, "8.0", 19.5e12), (128, 2520, "8.9", 82.6e12)]
    for sms, mhz, cc, published in cases:
        dev = fake(0, "cuda", 0, "x", compute_units=sms, clock_mhz=mhz, compute_capability=cc)
        assert peak_flops(dev) == pytest.approx(published, rel=0.01)
    cpu = fake(0, "opencl", 0, "cpu", kind="cpu", compute_units=2, clock_mhz=2500,
               vector_width=16)
    assert peak_flops(cpu) == 2 * 2 * 16 * 2 * 2.5e9  # 2 FMA pipes x 16 lanes x 2 flops


def test_no_cuda_device_here_is_one_line(tiny):
    if any(d.backend == "cuda" for d in list_devices()):
        pytest.skip("this machine has a CUDA device")
    res = boda("run", "--model", tiny, "--device", "cuda:0")
    assert_one_line_error(res, "no device cuda:0", "opencl:0")


needs_nvrtc = pytest.mark.skipif(not nvrtc.available(), reason="NVRTC is not installed")
SOURCE = 'extern "C" __global__ void k(float* a) { a[threadIdx.x] = 2.0f; }'


@needs_nvrtc
def test_cubins_are_cached_on_disk_by_source_options_and_arch(tmp_path, monkeypatch):
    monkeypatch.setenv("BODA_CACHE_DIR", str(tmp_path))
    first = nvrtc.compile_cached(SOURCE, "sm_80")
    assert first[:4] == b"\x7fELF" and len(list(tmp_path.glob("cuda/*.cubin"))) == 1
    calls = []
    real = nvrtc.compile_cuda
    monkeypatch.setattr(nvrtc, "compile_cuda", lambda *a: calls.append(a) or real(*a))
    assert nvrtc.compile_cached(SOURCE, "sm_80") == first and calls == []
    nvrtc.compile_cached(SOURCE, "sm_90")
    nvrtc.compile_cached(SOURCE, "sm_80", ("-lineinfo",))
    nvrtc.compile_cached(SOURCE.replace("2.0f", "3.0f"), "sm_80")
    assert len(calls) == 3 and len(list(tmp_path.glob("cuda/*.cubin"))) == 4
    [entry] = [p for p in tmp_path.glob("cuda/*sm_80.cubin") if p.read_bytes() == first]
    entry.write_bytes(b"torn")  # a damaged entry is compiled again
    assert nvrtc.compile_cached(SOURCE, "sm_80") == first and len(calls) == 4


def test_cuda_identity_keys_on_compute_capability():
    from boda.tuner.db_keys import device_identity
    a = device_identity(NVIDIA_BOX[2])
    b = device_identity(dataclasses.replace(NVIDIA_BOX[2], compute_capability="8.0"))
    c = device_identity(dataclasses.replace(NVIDIA_BOX[2], global_mem=1 << 20))
    d = device_identity(dataclasses.replace(NVIDIA_BOX[2], name="NVIDIA H100 PCIe"))
    assert a["key"] != b["key"] and a["arch"] != b["arch"]  # the arch is the sm_XX
    assert a["key"] != d["key"] and a["arch"] == d["arch"]  # another board of one arch
    assert a["key"] == c["key"]  # free memory (what PoCL reports) is not identity


def test_cuda_backend_calls_are_well_formed_without_a_driver():
    """With no NVIDIA driver, every driver call fails to load libcuda, but only after the
    bindings have checked its arguments, so a wrongly typed argument still shows here as a
    TypeError (the GPU itself is exercised by test_cuda.py)."""
    import numpy as np
    pathfinder = pytest.importorskip("cuda.pathfinder")
    if any(d.backend == "cuda" for d in list_devices()):
        pytest.skip("a driver is present: test_cuda.py runs the real thing")
    from cuda.bindings import driver as cu

    from boda.runtime.backends import cuda
    be = object.__new__(cuda.CUDABackend)
    be.stream, be._pending, be.arch = cu.CUstream(0), [], "sm_90"
    buf = object.__new__(cuda.Buffer)
    buf.ptr, buf.nbytes = 1 << 20, 64
    kern = cuda.Kernel(cu.CUfunction(0), [buf, buf])
    host = np.zeros(16, np.float32)
    calls = [lambda: cuda.CUDABackend(NVIDIA_BOX[2]), lambda: cuda.Buffer(64),
             lambda: be.compile(SOURCE), lambda: be.upload(buf, host, 4),
             lambda: be.download(buf, host, 4), lambda: be.fill(buf, float("nan"), 16),
             lambda: be.kernel(cu.CUmodule(0), "k", [buf]), lambda: be.launch(kern, 128, 64),
             lambda: be.finish(), lambda: be.record([(kern, 128, 64)]),
             lambda: be.time_launches(kern, 128, 64, 2)]
    for call in calls:
        with pytest.raises(pathfinder.DynamicLibNotFoundError):
            call()


def test_with_several_opencl_stacks_the_default_is_what_a_user_wants():
    """Oclgrind (a simulator that reports a GPU) and Mesa's llvmpipe (a GPU driver on the
    CPU) listed before PoCL: the default and `cpu` are PoCL; Oclgrind only when named."""
    devs = [fake(0, "opencl", 0, "Oclgrind Simulator", vendor="Oclgrind", platform="Oclgrind"),
            fake(1, "opencl", 1, "llvmpipe (LLVM 15.0.6, 256 bits)", kind="cpu",
                 vendor="Mesa/X.org", platform="rusticl"),
            fake(2, "opencl", 2, "pthread-AMD Ryzen 9", kind="cpu", vendor="AuthenticAMD",
                 platform="Portable Computing Language")]
    assert select_device(None, devs).index == 2
    assert select_device("cpu", devs).index == 2
    assert select_device("llvmpipe", devs).index == 1
    assert select_device("oclgrind", devs).index == 0
    assert devs[1].profile.subgroup == 8 and devs[1].profile.vector_width == 1
    with pytest.raises(DeviceError, match="only a simulator"):
        select_device(None, devs[:1])
    gpu = fake(3, "opencl", 3, "gfx1030", vendor="Advanced Micro Devices, Inc.")
    assert select_device(None, devs + [gpu]).index == 3  # a real GPU first


def test_pocl_workers_are_pinned_only_where_every_cpu_they_take_is_allowed():
    assert should_pin({}, {0, 1, 2, 3}, 4)
    assert not should_pin({}, {0, 1}, 4)           # a cpuset smaller than the machine
    assert not should_pin({}, {1, 2, 3, 4}, 4)     # CPU 0 not allowed: PoCL would abort
    assert not should_pin({"POCL_AFFINITY": "0"}, {0, 1}, 2)   # the user's choice is kept
    assert not should_pin({"POCL_MAX_PTHREAD_COUNT": "8"}, {0, 1}, 2)
    assert not should_pin({}, {0}, None)


THREAD_CPUS = """
import os
from boda.devices import select_device
device = select_device("cpu")
cpus = [line.split(":")[1].strip() for t in os.listdir("/proc/self/task")
        for line in open(f"/proc/self/task/{t}/status") if line.startswith("Cpus_allowed_list")]
print(os.environ.get("POCL_AFFINITY", "unset"), device.platform, "|", " ".join(cpus))
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 or
                    os.sched_getaffinity(0) != set(range(os.cpu_count() or 0)),
                    reason="needs two CPUs, all of the machine's allowed")
def test_pocl_worker_threads_each_run_on_a_cpu_of_their_own():
    def threads(env=None, cpus=None):
        env = {k: v for k, v in os.environ.items() if k != "POCL_AFFINITY"} | (env or {})
        out = subprocess.run(
            [sys.executable, "-c", THREAD_CPUS], env=env, capture_output=True, text=True,
            check=True, preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        setting, platform, cpu_lists = re.fullmatch(r"(\S+) (.*) \| (.*)\n",
                                                    out.stdout).groups()
        if "Portable Computing Language" not in platform:
            pytest.skip(f"the default CPU device is not PoCL's ({platform})")
        return setting, sorted((c for c in cpu_lists.split() if c.isdigit()), key=int)
    n = os.cpu_count()
    # each worker on its own CPU, and the variable gone again (children may have fewer CPUs)
    assert threads() == ("unset", [str(k) for k in range(n)])
    assert threads({"POCL_AFFINITY": "0"}) == ("0", [])  # the user's choice is kept
    # where the process may not run on every CPU, PoCL is left alone (it would abort)
    assert threads(cpus={1})[0] == "unset"
