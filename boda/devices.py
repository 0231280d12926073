"""Device discovery, identity and selection (`--device`).

Every OpenCL device on the machine gets an index; `--device` takes that index, `opencl:N`,
a family name (cpu, nvidia, amd, adreno, mali, intel) or a substring of the device name.
The default is the first GPU, else the first CPU (PoCL's, which every install has).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

from .errors import DeviceError

FAMILIES = ("cpu", "nvidia", "amd", "adreno", "mali", "intel")


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
    handle: object = field(default=None, compare=False, repr=False, hash=False)

    @property
    def family(self) -> str:
        return device_family(self.kind, self.vendor, self.name, self.version)

    def describe(self) -> str:
        return f"{self.index}: {self.name} ({self.family}, {self.platform})"


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
    return kind


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
                handle=d))
    return out


_CACHE: list[Device] | None = None


def list_devices() -> list[Device]:
    global _CACHE
    if _CACHE is None:
        _CACHE = _opencl_devices()
    return _CACHE


def select_device(spec: str | int | Device | None = None) -> Device:
    """Resolve a --device value; raises DeviceError naming what is present."""
    if isinstance(spec, Device):
        return spec
    devices = list_devices()
    if not devices:
        raise DeviceError("no OpenCL device found (is pocl-binary-distribution installed?)")
    if spec is None or spec == "":
        spec = os.environ.get("BODA_DEVICE") or None
    if spec is None:
        gpus = [d for d in devices if d.kind == "gpu"]
        return (gpus or devices)[0]
    text = str(spec).strip().lower()
    if text.startswith("opencl:"):
        text = text.split(":", 1)[1]
    if text.isdigit():
        i = int(text)
        if i < len(devices):
            return devices[i]
        raise DeviceError(f"no device with index {i}; present: {_present(devices)}")
    if text in FAMILIES:
        matches = [d for d in devices if d.family == text]
        if matches:
            return matches[0]
        raise DeviceError(f"no {text} OpenCL device found; present: {_present(devices)}")
    matches = [d for d in devices if text in d.name.lower()]
    if matches:
        return matches[0]
    raise DeviceError(f"no device matches {spec!r} (an index, a family {'/'.join(FAMILIES)}, "
                      f"or part of a name); present: {_present(devices)}")


def _present(devices) -> str:
    return "; ".join(d.describe() for d in devices)
