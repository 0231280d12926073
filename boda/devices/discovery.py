"""Device discovery and identity: every OpenCL device on the machine, then every CUDA device
(through the driver, when one is installed), as a `Device` with an index.
What a device's identity says about tuning for it is its vendor profile (profiles.py).
"""
from __future__ import annotations

import ctypes
import os
import warnings
from dataclasses import dataclass, field

from .pocl_threads import pinned_workers
from .profiles import device_family, profile_of

SIMULATORS = ("oclgrind",)
SOFTWARE_GPUS = ("llvmpipe", "softpipe", "swiftshader", "lavapipe")


@dataclass(frozen=True)
class Device:
    index: int
    backend: str
    platform: str
    name: str
    vendor: str
    version: str
    driver_version: str
    opencl_c_version: str
    kind: str  # "gpu", "cpu", "accelerator"
    compute_units: int
    global_mem: int
    local_mem: int
    max_work_group_size: int  # for 1-D launches: also within max_work_item_sizes[0]
    vector_width: int = 4     # preferred float vector width
    ordinal: int = 0          # the N of opencl:N / cuda:N
    compute_capability: str = ""  # CUDA devices: "9.0"
    clock_mhz: int = 0
    extensions: str = ""      # space-separated, as the driver reports them
    local_mem_type: str = ""  # "local" (on chip) or "global" (emulated), where reported
    image_support: bool = False
    remote: str = ""          # HOST:PORT of the `boda agent` serving it; "" when attached here
    handle: object = field(default=None, compare=False, repr=False, hash=False)

    @property
    def family(self) -> str:
        """The vendor family --device names it by (profiles.device_family)."""
        return device_family(self.kind, self.vendor, self.name, self.version)

    @property
    def simulator(self) -> bool:
        """A device simulator (Oclgrind): checks every access, far too slow to be a default."""
        return any(n in f"{self.platform} {self.name}".lower() for n in SIMULATORS)

    @property
    def software_gpu(self) -> bool:
        """A GPU driver rendering on the CPU (Mesa's llvmpipe): a CPU device, but one a
        native CPU driver (PoCL) outruns."""
        return any(n in self.name.lower() for n in SOFTWARE_GPUS)

    @property
    def spec(self) -> str:
        """The explicit --device value that picks this device."""
        return f"{self.backend}:{self.ordinal}"

    @property
    def profile(self):
        """The vendor profile (profiles.py): architecture, preferences, suitable families."""
        return profile_of(self)

    def describe(self) -> str:
        where = f" at {self.remote}" if self.remote else ""
        return f"{self.index}: {self.name} ({self.family}, {self.spec}{where})"


def _devices_of(platform) -> list:
    try:
        return platform.get_devices()
    except Exception:  # a platform that fails to list its devices: none from it
        return []


def _opencl_devices() -> list[Device]:
    try:
        # PoCL starts its threads here: at the platforms, or at their devices (on a Zen 5
        # the workers came unpinned where only the platforms were inside)
        with warnings.catch_warnings(), pinned_workers():
            warnings.simplefilter("ignore")
            import pyopencl as cl
            platforms = [(plat, _devices_of(plat)) for plat in cl.get_platforms()]
    except Exception:  # no ICD loader or no platform: simply no OpenCL devices
        return []
    out = []
    for plat, devs in platforms:
        for d in devs:
            kind = ("gpu" if d.type & cl.device_type.GPU else
                    "cpu" if d.type & cl.device_type.CPU else "accelerator")
            out.append(Device(
                index=len(out), backend="opencl", platform=plat.name.strip(),
                name=d.name.strip(), vendor=d.vendor.strip(), version=d.version.strip(),
                driver_version=d.driver_version.strip(),
                opencl_c_version=getattr(d, "opencl_c_version", "").strip(), kind=kind,
                compute_units=d.max_compute_units, global_mem=d.global_mem_size,
                local_mem=d.local_mem_size,
                max_work_group_size=min(d.max_work_group_size, d.max_work_item_sizes[0]),
                vector_width=max(int(d.preferred_vector_width_float), 1),
                ordinal=len(out), clock_mhz=int(d.max_clock_frequency or 0),
                extensions=" ".join(d.extensions.split()),
                local_mem_type=("local" if d.local_mem_type == cl.device_local_mem_type.LOCAL
                                else "global"),
                image_support=bool(d.image_support), handle=d))
    return out


def _cuda_devices(first_index: int) -> list[Device]:
    """CUDA devices through the driver API; none where no NVIDIA driver is installed.
    Their vector width is 4: float4 is the widest load, and the templates' CUDA vectors are
    register arrays, so wider tiles are still worth searching."""
    try:
        ctypes.CDLL("libcuda.so.1" if os.name != "nt" else "nvcuda.dll")  # quick: no driver
        from cuda.bindings import driver as cu
        if cu.cuInit(0)[0] != cu.CUresult.CUDA_SUCCESS:
            return []
        err, count = cu.cuDeviceGetCount()
        _, driver = cu.cuDriverGetVersion()
    except Exception:  # no bindings, or no libcuda: simply no CUDA devices
        return []
    attr = cu.CUdevice_attribute
    out = []
    for i in range(count if err == cu.CUresult.CUDA_SUCCESS else 0):
        _, dev = cu.cuDeviceGet(i)

        def get(name):  # 0 where this driver does not know the attribute
            which = getattr(attr, "CU_DEVICE_ATTRIBUTE_" + name, None)
            err, value = cu.cuDeviceGetAttribute(which, dev) if which else (None, 0)
            return int(value) if err == cu.CUresult.CUDA_SUCCESS else 0
        name = cu.cuDeviceGetName(256, dev)[1].split(b"\0")[0].decode().strip()
        cc = f"{get('COMPUTE_CAPABILITY_MAJOR')}.{get('COMPUTE_CAPABILITY_MINOR')}"
        drv = f"{driver // 1000}.{driver % 1000 // 10}"
        out.append(Device(
            index=first_index + i, backend="cuda", platform="CUDA", name=name,
            vendor="NVIDIA Corporation", version=f"CUDA {drv}", driver_version=drv,
            opencl_c_version="", kind="gpu", compute_units=get("MULTIPROCESSOR_COUNT"),
            global_mem=int(cu.cuDeviceTotalMem(dev)[1]),
            local_mem=get("MAX_SHARED_MEMORY_PER_BLOCK"),
            max_work_group_size=get("MAX_THREADS_PER_BLOCK"), vector_width=4, ordinal=i,
            compute_capability=cc, clock_mhz=get("CLOCK_RATE") // 1000, handle=i))
    return out


_CACHE: list[Device] | None = None


def list_devices() -> list[Device]:
    global _CACHE
    if _CACHE is None:
        opencl = _opencl_devices()
        _CACHE = opencl + _cuda_devices(len(opencl))
    return _CACHE
