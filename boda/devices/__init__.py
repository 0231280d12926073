"""Devices: what can run kernels here, which one `--device` means, and what its identity says
about tuning for it.

    discovery.py  every OpenCL and CUDA device on the machine, as a `Device`
    selection.py  --device values and the default device
    profiles.py   vendor profiles: identity strings -> family, architecture, preferences
    pocl_threads.py, pocl_spin.py   PoCL's worker threads: pinned, and spinning during runs
"""
from __future__ import annotations

from .discovery import Device, list_devices
from .profiles import Profile, peak_flops, profile_of, require_dtype
from .selection import VENDOR_FAMILIES, default_device, select_device

__all__ = ["Device", "Profile", "VENDOR_FAMILIES", "default_device", "list_devices",
           "peak_flops", "profile_of", "require_dtype", "select_device"]
