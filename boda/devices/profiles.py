"""Vendor profiles: what a device's identity strings say about how to search kernels for it.

Drivers report a device as a handful of strings and limits (`Device`). `profile_of(device)`
reads them, the way each vendor's driver writes them, into a `Profile`:
- the architecture: the Adreno model from "OpenCL C 2.0 Adreno(TM) 640" (older Qualcomm
  drivers name every GPU just "QUALCOMM Adreno(TM)"; Mesa's rusticl says "FD630"), the AMD
  gfx target ("gfx1030"), the CUDA compute capability ("sm_90"), the Mali model ("Mali-G610",
  without the core count or revision), the Intel GPU name without its PCI id, or the CPU name;
- preferences: the subgroup (warp, wavefront, wave) width, which work-group sizes and float
  vector widths are worth searching, whether local memory is on chip (the driver's
  CL_DEVICE_LOCAL_MEM_TYPE; on Mali and CPUs it is ordinary memory), image and fp16 support,
  and how many accumulators a work-item may hold before it spills;
- which kernel families suit it (`suits(family)`).

The kernel families ask the profile for their parameter ranges and defaults (conv_common,
kernels.family.Family), so the tuner searches a space shaped for the device, and the tuning
database files winners under the profile's architecture (the "same architecture" lookup level).
Sources of the vendor facts are cited beside them; tests/real_devices.py holds identity
strings that real devices report. Also here: the vendor family a device's strings name
(`device_family`, what --device families match) and its nominal peak (`peak_flops`).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..errors import DeviceError

VECTOR_WIDTHS = (1, 2, 4, 8, 16)
GROUP_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class Profile:
    family: str          # cpu, nvidia, amd, adreno, mali, intel, powervr, or the device kind
    arch: str            # the architecture the "same architecture" lookup level groups by
    generation: str = ""  # e.g. "6xx" (Adreno), "valhall" (Mali), "rdna" (AMD)
    subgroup: int = 1    # SIMD width a work-group should fill (1: a CPU core runs a loop)
    vector_widths: tuple = VECTOR_WIDTHS  # float vector widths worth searching
    vector_width: int = 4  # the default float vector width
    local_memory: bool = True  # staging through local memory is worth searching
    images: bool = False
    fp16: bool = False   # half arithmetic (cl_khr_fp16, or CUDA compute capability >= 5.3)
    accumulators: int = 0  # floats a work-item may accumulate in registers (0: by vectors)
    registers: int = 0   # a CPU core's vector registers (0: not a CPU core's vectors)
    avoid: tuple = ()    # kernel families that do not suit the device

    @property
    def is_gpu(self) -> bool:
        return self.subgroup > 1

    def suits(self, family_name: str) -> bool:
        return family_name not in self.avoid

    def group_sizes(self, device, sizes=GROUP_SIZES) -> list[int]:
        """The work-group sizes worth searching: within the device's limit and, on a GPU,
        at least a subgroup wide (a narrower group leaves SIMD lanes idle)."""
        fit = [s for s in sizes if s <= device.max_work_group_size] or [1]
        wide = [s for s in fit if s >= self.subgroup]
        return wide or fit[-1:]

    def default_group_sizes(self, device, sizes=(1, 2, 4)) -> list[int]:
        """Work-group sizes a family default chooses among: small ones on a CPU (PoCL runs a
        group's work-items in a loop), one to four subgroups on a GPU."""
        if not self.is_gpu:
            return self.group_sizes(device, sizes)
        return self.group_sizes(device, tuple(self.subgroup * k for k in (1, 2, 4)))

    def vector_widths_upto(self, upto: int = 16) -> list[int]:
        return [v for v in self.vector_widths if v <= upto]

    def fits_registers(self, tile_floats: int, tile_vectors: int) -> bool:
        """Whether a work-item's accumulator tile is worth searching: a number of floats on
        GPUs; on CPUs twice the core's vector registers (spills to L1 are cheap: 64 with
        AVX-512's 32 registers, 32 with AVX2's 16), 64 vectors where the file is unknown."""
        if self.accumulators:
            return tile_floats <= self.accumulators
        return tile_vectors <= (2 * self.registers if self.registers else 64)

    def fits_default(self, tile_floats: int, tile_vectors: int) -> bool:
        """Whether a family default's accumulator tile fits: on CPUs half the core's vector
        registers, leaving the rest for the loaded inputs and weights. Measured on PoCL:
        with AVX-512 (32 registers) the defaults tuned in sequence hold up to 16 vectors;
        with AVX2 (16 registers, Zen 3) those same tiles of 16 vectors spilled and ran
        1.5-3x slower than tiles of 8 (SqueezeNet 1.1's classifier 6.0 -> 1.8-2.1 ms)."""
        if self.registers and not self.accumulators:
            return tile_vectors <= self.default_vectors
        return self.fits_registers(tile_floats, tile_vectors)

    @property
    def default_vectors(self) -> int:
        """The accumulator vectors a default tile may hold: half a CPU core's register
        file; 16, the AVX-512 figure, where the profile names no register file."""
        return self.registers // 2 or 16


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


DTYPES = ("float32", "float16")


def require_dtype(device, dtype: str):
    """Refuse, in one line, a storage dtype the device cannot run."""
    if dtype not in DTYPES:
        raise DeviceError(f"unknown dtype {dtype!r} (float32 or float16)")
    if dtype == "float16" and not profile_of(device).fp16:
        need = ("compute capability 5.3 or later" if device.backend == "cuda"
                else "the cl_khr_fp16 extension")
        raise DeviceError(f"{device.name} ({device.family}) has no half precision ({need}), "
                          "so --dtype float16 cannot run there; use float32")


def profile_of(device) -> Profile:
    """The profile of a `Device` (or anything with its identity fields)."""
    return _profile(device.backend, device.kind, device.vendor, device.name, device.version,
                    device.opencl_c_version, device.compute_capability,
                    getattr(device, "extensions", ""), getattr(device, "local_mem_type", ""),
                    bool(getattr(device, "image_support", False)),
                    max(int(device.vector_width or 1), 1))


@functools.lru_cache(maxsize=None)
def _profile(backend, kind, vendor, name, version, opencl_c, cc, extensions, local_mem_type,
             images, vector_width) -> Profile:
    family = device_family(kind, vendor, name, version)
    text = f"{name} {version} {opencl_c}"
    fp16 = "cl_khr_fp16" in extensions.split()
    # the driver's word on local memory, where it gives one (pyopencl: device.local_mem_type)
    on_chip = {"local": True, "global": False}.get(local_mem_type.lower())
    common = dict(images=images, fp16=fp16)
    lanes = re.search(r"llvmpipe.*?(\d+) bits", name)
    if lanes:
        # Mesa's llvmpipe (rusticl): a GPU-style driver on the CPU. It runs a work-group's
        # items as SIMD lanes of the host's vectors ("256 bits": 8 floats) and each
        # work-group as a coroutine, so groups must be lane-multiples and wide, as on a GPU;
        # its preferred vector width is 1 (the lanes are the work-items).
        width = max(int(lanes.group(1)) // 32, 1)
        return Profile("cpu", name, "llvmpipe", width, (1, 2, 4), 1, **common)
    if kind == "cpu":
        # PoCL and other CPU drivers: the families' spaces as tuned on PoCL. Its local memory
        # is a cache-resident buffer, so staged variants stay in the search.
        return Profile("cpu", name, "cpu", 1, VECTOR_WIDTHS, vector_width,
                       registers=cpu_vector_registers(text, vector_width), **common)
    if backend == "cuda" or family == "nvidia":
        return _nvidia(name, cc, backend, **common)
    if family == "adreno":
        return _adreno(text, on_chip, **common)
    if family == "amd":
        return _amd(name, on_chip, **common)
    if family == "mali":
        return _mali(name, **common)
    if family == "intel":
        return _intel(name, on_chip, **common)
    if "powervr" in text.lower() or "imagination" in vendor.lower():
        # PowerVR Rogue: 32-wide USCs; GE8320 and kin report no cl_khr_fp16
        return Profile("powervr", name, "rogue", 32, (1, 2, 4), 4,
                       local_memory=on_chip is not False, accumulators=64, **common)
    return Profile(family, name, "", 32 if kind == "gpu" else 1, VECTOR_WIDTHS, vector_width,
                   local_memory=on_chip is not False, **common)


def cpu_vector_registers(text: str, vector_width: int) -> int:
    """A CPU core's vector registers, from the driver's target (PoCL's version string names
    the LLVM triple) and preferred float vector width: 32 on AArch64 (NEON, SVE) and with
    AVX-512 (16 floats), 16 with SSE and AVX/AVX2 on x86-64 (Intel's and AMD's ISA
    manuals). 0 (unknown: the spaces and defaults as before) where the driver prefers
    scalars, as drivers that vectorize across work-items do."""
    if vector_width < 4:
        return 0
    if re.search(r"aarch64|arm64|riscv", text, re.I):
        return 32
    return 32 if vector_width >= 16 else 16


def _nvidia(name, cc, backend, images, fp16):
    # warps of 32; float4 is the widest load; 255 registers a thread (CUDA C Programming
    # Guide, "Compute Capabilities"); half arithmetic from compute capability 5.3
    major, _, minor = cc.partition(".")
    arch = f"sm_{major}{minor}" if major.isdigit() else _strip_brand(name)
    if backend == "cuda" and major.isdigit():
        fp16 = (int(major), int(minor or 0)) >= (5, 3)
    return Profile("nvidia", arch, arch if major.isdigit() else "", 32, (1, 2, 4), 4,
                   local_memory=True, accumulators=128, images=images, fp16=fp16)


ADRENO = re.compile(r"adreno\s*(?:\(tm\))?\s*(\d{3})", re.I)
FREEDRENO = re.compile(r"\bFD(\d{3})\b")


def adreno_model(text: str) -> int | None:
    """The Adreno model number (e.g. 640) from the name or version strings: Qualcomm's driver
    writes "OpenCL C 2.0 Adreno(TM) 640"; Mesa's freedreno names the GPU "FD640"."""
    m = ADRENO.search(text) or FREEDRENO.search(text)
    return int(m.group(1)) if m else None


def _adreno(text, on_chip, images, fp16):
    # Qualcomm's OpenCL optimization guide for Adreno: vectorized (float4/half4) loads and
    # stores, on-chip local memory from Adreno 5xx, half precision at twice the float rate,
    # and waves of 64 or 128 fibres on Adreno 6xx and 7xx (32/64 before). A fibre has a
    # small register file: big tiles cut the waves in flight.
    model = adreno_model(text)
    generation = f"{model // 100}xx" if model else ""
    wave = 64 if model and model >= 600 else 32
    local = on_chip if on_chip is not None else bool(model and model >= 500)
    return Profile("adreno", f"Adreno {model}" if model else "Adreno", generation, wave,
                   (1, 2, 4, 8), 4, local_memory=local, accumulators=64, images=images,
                   fp16=fp16, avoid=() if local else ("conv_splitk",))


GFX = re.compile(r"\bgfx(\d{1,2}[0-9a-f]{2})\b", re.I)  # major, minor, stepping


def amd_gfx(text: str) -> str | None:
    """The gfx target ("gfx1030") that ROCm's OpenCL reports as the device name."""
    m = GFX.search(text)
    return f"gfx{m.group(1).lower()}" if m else None


def _amd(name, on_chip, images, fp16):
    # GCN/CDNA run wavefronts of 64, RDNA (gfx10 and later) of 32; 64 KiB LDS per CU
    # (AMD's RDNA and GCN ISA documents)
    gfx = amd_gfx(name)
    rdna = bool(gfx) and int(gfx[3:-2]) >= 10  # the major version: gfx1030 -> 10
    return Profile("amd", gfx or _strip_brand(name), "rdna" if rdna else "gcn" if gfx else "",
                   32 if rdna else 64, (1, 2, 4), 4,
                   local_memory=on_chip is not False, accumulators=128, images=images,
                   fp16=fp16)


MALI = re.compile(r"Mali-([GT])(\d+)", re.I)
# Bifrost: the first Mali-G GPUs (Arm's Mali GPU datasheets); later G models are Valhall or
# newer ("5th Gen" G720/G925 keep Valhall's 16-wide warps)
BIFROST = {31, 51, 52, 71, 72, 76}


def mali_model(text: str) -> tuple[str, int] | None:
    """("G", 610) from "Mali-G610 r0p0", ("T", 628) from "Mali-T628"."""
    m = MALI.search(text)
    return (m.group(1).upper(), int(m.group(2))) if m else None


def _mali(name, images, fp16):
    # Arm's Mali GPU OpenCL guides: local memory is ordinary system memory (no gain from
    # staging through it, and barriers cost); Midgard (T) is 128-bit SIMD per thread, so
    # float4 is its natural width; Bifrost runs quads/octets, Valhall warps of 16; 64
    # registers a thread keep full occupancy
    model = mali_model(name)
    if model and model[0] == "T":
        generation, warp, widths = "midgard", 4, (1, 2, 4, 8)
    elif model and model[1] in BIFROST:
        generation, warp, widths = "bifrost", 8, (1, 2, 4)
    else:
        generation, warp, widths = "valhall", 16, (1, 2, 4)
    arch = f"Mali-{model[0]}{model[1]}" if model else name
    return Profile("mali", arch, generation, warp, widths, 4, local_memory=False,
                   accumulators=64, images=images, fp16=fp16, avoid=("conv_splitk",))


def _intel(name, on_chip, images, fp16):
    # Intel Gen9 to Xe: SIMD8/16/32 subgroups; shared local memory on chip
    return Profile("intel", _strip_brand(name), "", 16, (1, 2, 4, 8), 4,
                   local_memory=on_chip is not False, accumulators=64, images=images,
                   fp16=fp16)


def _strip_brand(name: str) -> str:
    """A device model without its PCI id suffix ("Intel(R) UHD Graphics [0x9bca]")."""
    return re.sub(r"\s*\[0x[0-9a-f]+\]\s*$", "", name, flags=re.I).strip()
