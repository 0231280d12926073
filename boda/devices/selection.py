"""`--device`: picking a device among those discovered (here, or on a `boda agent`).

`--device` takes a device's index, `opencl:N` or `cuda:N` (the Nth device of that backend), a
vendor family (cpu, nvidia, amd, adreno, mali, intel, powervr; `nvidia` prefers CUDA to
NVIDIA's OpenCL driver), or a substring of the device name. The default is the first CUDA GPU,
else the first GPU, else the first CPU, a native CPU driver (PoCL's, which every install has)
before a GPU driver rendering on the CPU (Mesa's llvmpipe); a simulator (Oclgrind) only when
named. The same selection picks among the devices of an agent (`select_device(..., remote=)`).
"""
from __future__ import annotations

import os

from ..errors import DeviceError
from .discovery import Device, list_devices

VENDOR_NAMES = {"cpu": "CPU", "nvidia": "NVIDIA", "amd": "AMD", "adreno": "Adreno",
                "mali": "Mali", "intel": "Intel", "powervr": "PowerVR"}
VENDOR_FAMILIES = tuple(VENDOR_NAMES)  # the --device family names


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
    if text in VENDOR_FAMILIES:
        matches = _by_preference(d for d in devices if d.family == text and not d.simulator)
        if matches:
            return matches[0]
        if remote:
            raise DeviceError(f"the agent at {remote} serves no {VENDOR_NAMES[text]} device "
                              f"(it serves: {_present(devices)})")
        if text == "cpu":
            raise DeviceError(f"no CPU device found; present: {_present(devices)}")
        api = "CUDA or OpenCL" if text == "nvidia" else "OpenCL"
        raise DeviceError(
            f"no {VENDOR_NAMES[text]} {api} device found on this machine (present: "
            f"{_present(devices)}); to use one attached to another machine, run `boda agent` "
            "there and give --remote HOST:PORT --token TOKEN")
    matches = [d for d in devices if text in d.name.lower()]
    if matches:
        return matches[0]
    raise DeviceError(f"no device matches {spec!r} (an index, opencl:N, cuda:N, a family "
                      f"{'/'.join(VENDOR_FAMILIES)}, or part of a name); present: "
                      f"{_present(devices)}")


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
