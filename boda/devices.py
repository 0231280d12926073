"""Device discovery, identity and selection (`--device`).

Every OpenCL device on the machine, then every CUDA device (through the driver, when one is
installed), gets an index. `--device` takes that index, `opencl:N` or `cuda:N` (the Nth device
of that backend), a family name (cpu, nvidia, amd, adreno, mali, intel, powervr; `nvidia`
prefers CUDA to NVIDIA's OpenCL driver), or a substring of the device name. The default is the
first CUDA GPU, else the first GPU, else the first CPU, a native CPU driver (PoCL's, which
every install has) before a GPU driver rendering on the CPU (Mesa's llvmpipe); a simulator
(Oclgrind) only when named.
The same selection picks among the devices of a `boda agent` (`select_device(..., remote=)`).
What a device's identity says about tuning for it is its vendor profile (profiles.py).
"""
from __future__ import annotations

import ctypes
import os
import warnings
from dataclasses import dataclass, field

from .errors import DeviceError

FAMILY_NAMES = {"cpu": "CPU", "nvidia": "NVIDIA", "amd": "AMD", "adreno": "Adreno",
                "mali": "Mali", "intel": "Intel", "powervr": "PowerVR"}
FAMILIES = tuple(FAMILY_NAMES)  # the --device family names
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
        from .profiles import profile_of
        return profile_of(self)

    def describe(self) -> str:
        where = f" at {self.remote}" if self.remote else ""
        return f"{self.index}: {self.name} ({self.family}, {self.spec}{where})"


def device_family(kind: str, vendor: str, name: str, version: str = "") -> str:
    """Classify a device the way --device families name them."""
    text = f"{vendor} {name} {version}".lower()
    if kind == "cpu":
        return "cpu"
    if "nvidia" in text:
        return "nvidia"
    if "adreno" in text or "qualcomm" in text:
        return "adreno"
    if "mali" in text or vendor.lower().startswith("arm"):
        return "mali"
    if "advanced micro devices" in text or "amd" in text or "gfx" in text:
        return "amd"
    if "intel" in text:
        return "intel"
    if "powervr" in text or "imagination" in text:
        return "powervr"
    return kind


def peak_flops(device) -> float:
    """The device's nominal fp32 peak in flop/s: lanes x 2 (FMA) x clock x compute units.
    CUDA: FP32 lanes per SM by compute capability. OpenCL: the preferred vector width, with
    two FMA pipes per CPU core (AVX2/AVX-512 cores have two); for other OpenCL GPUs a
    64-lane CU. Clock 2 GHz where the driver reports none. A yardstick, not a promise."""
    clock = (device.clock_mhz or 2000) * 1e6
    cus = max(device.compute_units, 1)
    if device.backend == "cuda":
        major, _, minor = device.compute_capability.partition(".")
        lanes = CUDA_FP32_LANES.get((int(major or 0), int(minor or 0)), 128)
    elif device.kind == "cpu":
        lanes = 2 * max(device.vector_width, 1)
    else:
        lanes = 64
    return 2.0 * lanes * clock * cus


# FP32 lanes per SM (CUDA C Programming Guide, "Arithmetic Instructions" throughput table)
CUDA_FP32_LANES = {(7, 0): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 7): 128,
                   (8, 9): 128, (9, 0): 128, (10, 0): 128, (12, 0): 128}


def _opencl_devices() -> list[Device]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pyopencl as cl
            platforms = cl.get_platforms()
    except Exception:  # no ICD loader or no platform: simply no OpenCL devices
        return []
    out = []
    for plat in platforms:
        try:
            devs = plat.get_devices()
        except Exception:
            continue
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


def select_device(spec: str | int | Device | None = None, devices=None,
                  remote: str = "") -> Device:
    """Resolve a --device value among `devices` (default: this machine's; `remote` names the
    agent they are on); raises DeviceError naming what is present."""
    if isinstance(spec, Device):
        return spec
    devices = list_devices() if devices is None else devices
    if not devices:
        raise DeviceError("no OpenCL or CUDA device found "
                          "(is pocl-binary-distribution installed?)")
    if spec is None or spec == "":
        spec = os.environ.get("BODA_DEVICE") or None
    if spec is None:
        return default_device(devices, remote)
    text = str(spec).strip().lower()
    backend, _, number = text.partition(":")
    if backend in ("opencl", "cuda") and number.isdigit():
        matches = [d for d in devices if d.backend == backend and d.ordinal == int(number)]
        if matches:
            return matches[0]
        raise DeviceError(f"no device {text}; present: {_present(devices)}")
    if text.isdigit():
        i = int(text)
        if i < len(devices):
            return devices[i]
        raise DeviceError(f"no device with index {i}; present: {_present(devices)}")
    if text in FAMILIES:
        matches = _by_preference(d for d in devices if d.family == text and not d.simulator)
        if matches:
            return matches[0]
        if remote:
            raise DeviceError(f"the agent at {remote} serves no {FAMILY_NAMES[text]} device "
                              f"(it serves: {_present(devices)})")
        if text == "cpu":
            raise DeviceError(f"no CPU device found; present: {_present(devices)}")
        api = "CUDA or OpenCL" if text == "nvidia" else "OpenCL"
        raise DeviceError(
            f"no {FAMILY_NAMES[text]} {api} device found on this machine (present: "
            f"{_present(devices)}); to use one attached to another machine, run `boda agent` "
            "there and give --remote HOST:PORT --token TOKEN")
    matches = [d for d in devices if text in d.name.lower()]
    if matches:
        return matches[0]
    raise DeviceError(f"no device matches {spec!r} (an index, opencl:N, cuda:N, a family "
                      f"{'/'.join(FAMILIES)}, or part of a name); present: {_present(devices)}")


def _by_preference(devices) -> list[Device]:
    """Best first, as a user would pick: CUDA before NVIDIA's OpenCL driver, GPUs before
    CPUs, a native CPU driver (PoCL) before a GPU driver rendering on the CPU (llvmpipe);
    simulators last. Otherwise in discovery order."""
    return sorted(devices, key=lambda d: (d.simulator, d.software_gpu, d.kind != "gpu",
                                          d.backend != "cuda"))


def default_device(devices, remote: str = "") -> Device:
    """What runs when no --device is given: the most preferred device that is not a
    simulator (one is used only when named)."""
    real = _by_preference(d for d in devices if not d.simulator)
    if not real:
        where = f"the agent at {remote}" if remote else "this machine"
        raise DeviceError(f"{where} has only a simulator ({_present(devices)}); "
                          "name it with --device to use it")
    return real[0]


def _present(devices) -> str:
    return "; ".join(d.describe() for d in devices)
