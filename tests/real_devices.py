"""Identity strings and limits that real OpenCL devices report, copied from public clinfo dumps
(each with its source), for testing vendor profiles without the hardware.

Only what a dump shows is filled in; a limit it does not show is None. `expect` is what the
strings themselves say (the model in the version string, the gfx target in the name), written
here by reading the dump, not by running boda's parser.
"""
from __future__ import annotations

import dataclasses

from boda.devices import Device

FIXTURES = [
    dict(source="https://github.com/xmrig/xmrig/issues/2383",
         platform="QUALCOMM Snapdragon(TM)", name="QUALCOMM Adreno(TM)", vendor="QUALCOMM",
         version="OpenCL 2.0 Adreno(TM) 650",
         driver_version="OpenCL 2.0 QUALCOMM build: commit #191610ae03 changeid #Ic907de5ed0 "
                        "Date: 09/17/20 Thu Local Branch:  Remote Branch: refs/tags/AU_LINUX_"
                        "ANDROID_LA.UM.9.12.10.00.00.582.274 Compiler E031.37.12.01",
         opencl_c_version="OpenCL C 2.0 Adreno(TM) 650", compute_units=3,
         max_work_group_size=1024, local_mem=32768, vector_width=1,
         extensions="cl_khr_fp16", image_support=True,
         expect=dict(family="adreno", arch="Adreno 650", generation="6xx", fp16=True)),
    dict(source="https://github.com/Oblomov/clinfo/issues/92",
         platform="QUALCOMM Snapdragon(TM)", name="QUALCOMM Adreno(TM) 750", vendor="QUALCOMM",
         version="OpenCL 3.0 Adreno(TM) 750",
         driver_version="OpenCL 3.0 QUALCOMM build: commit unknown Compiler E031.45.02.06",
         opencl_c_version="OpenCL C 3.0 Adreno(TM) 750",
         expect=dict(family="adreno", arch="Adreno 750", generation="7xx")),
    dict(source="https://github.com/BOINC/boinc/issues/1742",
         platform="QUALCOMM Snapdragon(TM)", name="QUALCOMM Adreno(TM)", vendor="QUALCOMM",
         version="OpenCL 2.0 Adreno(TM) 505",
         driver_version="OpenCL 2.0 QUALCOMM build: commit #a7f70d7 changeid #I06947f1a28 "
                        "Date: 11/19/18 Mon Local Branch:  Remote Branch:  Compiler "
                        "E031.36.02.00",
         opencl_c_version="OpenCL C 2.0 Adreno(TM) 505",
         expect=dict(family="adreno", arch="Adreno 505", generation="5xx")),
    dict(source="https://github.com/KhronosGroup/OpenCL-ICD-Loader/issues/265 (Mesa rusticl)",
         platform="rusticl", name="FD630", vendor="Qualcomm", version="OpenCL 3.0 ",
         driver_version="25.0.7-2", opencl_c_version="OpenCL C 1.2 ",
         expect=dict(family="adreno", arch="Adreno 630", generation="6xx")),
    dict(source="https://github.com/rockchip-linux/mpp/issues/607",
         platform="ARM Platform", name="Mali-G610 r0p0", vendor="ARM",
         version="OpenCL 3.0 v1.g13p0-01eac0.9113fb3d6cbac82527a272992153edf9",
         driver_version="3.0",
         opencl_c_version="OpenCL C 3.0 v1.g13p0-01eac0.9113fb3d6cbac82527a272992153edf9",
         expect=dict(family="mali", arch="Mali-G610", generation="valhall")),
    dict(source="https://github.com/96boards-hikey/linux/pull/59",
         platform="ARM Platform", name="Mali-G71", vendor="ARM",
         version="OpenCL 2.0 v1.r9p0-01rel0.37c12a13c46b4c2d9d736e0d5ace2e5e",
         driver_version="2.0",
         opencl_c_version="OpenCL C 2.0 v1.r9p0-01rel0.37c12a13c46b4c2d9d736e0d5ace2e5e",
         compute_units=8, max_work_group_size=384,
         expect=dict(family="mali", arch="Mali-G71", generation="bifrost")),
    dict(source="https://github.com/ARM-software/ComputeLibrary/issues/999",
         platform="ARM Platform", name="Mali-G52", vendor="ARM",
         version="OpenCL 2.0 git.c8adbf9.122c9daed32dbba4b3056f41a2f23c58",
         driver_version="2.0",
         opencl_c_version="OpenCL C 2.0 git.c8adbf9.122c9daed32dbba4b3056f41a2f23c58",
         compute_units=2, max_work_group_size=384,
         expect=dict(family="mali", arch="Mali-G52", generation="bifrost")),
    dict(source="https://github.com/plaidml/plaidml/issues/227",
         platform="ARM Platform", name="Mali-T628", vendor="ARM",
         version="OpenCL 1.2 v1.r12p0-04rel0.03af15950392f3702b248717f4938b82",
         driver_version="1.2",
         opencl_c_version="OpenCL C 1.2 v1.r12p0-04rel0.03af15950392f3702b248717f4938b82",
         compute_units=2, max_work_group_size=256,
         expect=dict(family="mali", arch="Mali-T628", generation="midgard")),
    dict(source="https://github.com/ROCm/legacy-rocm-build/issues/1215",
         platform="AMD Accelerated Parallel Processing", name="gfx1010",
         vendor="Advanced Micro Devices, Inc.", version="OpenCL 2.0 ",
         driver_version="3182.0 (HSA1.1,LC)", opencl_c_version="OpenCL C 2.0 ",
         compute_units=20,
         expect=dict(family="amd", arch="gfx1010", generation="rdna")),
    dict(source="https://github.com/ROCm/clr/issues/269",
         platform="AMD Accelerated Parallel Processing", name="gfx803",
         vendor="Advanced Micro Devices, Inc.", version="OpenCL 1.2",
         driver_version="3581.0 (HSA1.1,LC)", opencl_c_version="OpenCL C 2.0",
         compute_units=8,
         expect=dict(family="amd", arch="gfx803", generation="gcn")),
    dict(source="https://github.com/janhq/jan/issues/1608",
         platform="AMD Accelerated Parallel Processing", name="gfx1035",
         vendor="Advanced Micro Devices, Inc.", version="OpenCL 2.0 AMD-APP (3592.0)",
         driver_version="3592.0 (PAL,LC)", opencl_c_version="OpenCL C 2.0",
         expect=dict(family="amd", arch="gfx1035", generation="rdna")),
    dict(source="https://github.com/ROCm/legacy-rocm-build/issues/361 (Mesa Clover)",
         platform="Clover",
         name="Radeon RX 570 Series (POLARIS10, DRM 3.26.0, 4.16.15-amd, LLVM 6.0.1)",
         vendor="AMD", version="OpenCL 1.1 Mesa 18.2.0-devel",
         driver_version="18.2.0-devel", opencl_c_version="OpenCL C 1.1 ",
         compute_units=32, max_work_group_size=256,
         expect=dict(family="amd")),
    dict(source="https://github.com/intel/compute-runtime/issues/428",
         platform="Intel(R) OpenCL HD Graphics", name="Intel(R) UHD Graphics [0x9bca]",
         vendor="Intel(R) Corporation", version="OpenCL 3.0 NEO ",
         driver_version="21.24.20098", opencl_c_version="OpenCL C 3.0 ",
         compute_units=24, max_work_group_size=256,
         expect=dict(family="intel", arch="Intel(R) UHD Graphics")),
    dict(source="https://github.com/intel/compute-runtime/issues/62",
         platform="Intel(R) OpenCL HD Graphics", name="Intel(R) Gen9 HD Graphics NEO",
         vendor="Intel(R) Corporation", version="OpenCL 1.2 NEO", driver_version="18.29.0",
         opencl_c_version="OpenCL C 1.2", compute_units=12, max_work_group_size=256,
         expect=dict(family="intel", arch="Intel(R) Gen9 HD Graphics NEO")),
    dict(source="https://github.com/xmrig/xmrig/pull/3784",
         platform="NVIDIA CUDA", name="NVIDIA GeForce RTX 3050 Laptop GPU",
         vendor="NVIDIA Corporation", version="OpenCL 3.0 CUDA", driver_version="590.48.01",
         opencl_c_version="OpenCL C 1.2 ",
         expect=dict(family="nvidia", arch="NVIDIA GeForce RTX 3050 Laptop GPU")),
    dict(source="https://github.com/inducer/pyopencl/issues/217",
         platform="NVIDIA CUDA", name="GeForce GTX 970", vendor="NVIDIA Corporation",
         version="OpenCL 1.2 CUDA", driver_version="396.24", opencl_c_version="OpenCL C 1.2 ",
         expect=dict(family="nvidia", arch="GeForce GTX 970")),
    dict(source="pocl-binary-distribution 3.0 on the development machines (boda devices)",
         platform="Portable Computing Language", name="pthread-AMD EPYC",
         vendor="AuthenticAMD",
         version="OpenCL 3.0 PoCL HSTR: pthread-x86_64-unknown-linux-gnu-generic",
         driver_version="3.0-rc2", opencl_c_version="OpenCL C 1.2 PoCL", kind="cpu",
         compute_units=2, max_work_group_size=4096, local_mem=1048576, vector_width=16,
         local_mem_type="global",
         expect=dict(family="cpu", arch="pthread-AMD EPYC", fp16=False, registers=32)),
    dict(source="pocl-binary-distribution 3.0 on an AMD EPYC (Zen 3) development machine "
                "(boda devices)",
         platform="Portable Computing Language", name="pthread-AMD EPYC",
         vendor="AuthenticAMD",
         version="OpenCL 3.0 PoCL HSTR: pthread-x86_64-unknown-linux-gnu-znver3",
         driver_version="3.0-rc2", opencl_c_version="OpenCL C 1.2 PoCL", kind="cpu",
         compute_units=2, max_work_group_size=4096, local_mem=1048576, vector_width=8,
         local_mem_type="global",
         expect=dict(family="cpu", arch="pthread-AMD EPYC", registers=16)),
    dict(source="https://github.com/pocl/pocl/issues/799",
         platform="Portable Computing Language", name="pthread-cortex-a53", vendor="ARM",
         version="OpenCL 1.2 pocl HSTR: pthread-aarch64-unknown-linux-gnu-cortex-a53",
         driver_version="1.4", opencl_c_version="OpenCL C 1.2 pocl", kind="cpu",
         expect=dict(family="cpu", arch="pthread-cortex-a53")),
]

# stand-ins for limits a dump does not show (only tests that do not look at them use them)
UNSHOWN = dict(compute_units=1, max_work_group_size=256, local_mem=32768, vector_width=1)


def device(fixture: dict, **changes) -> Device:
    """A Device with a fixture's identity, as boda.devices would build it."""
    fields = {f.name for f in dataclasses.fields(Device)}
    values = {k: v for k, v in fixture.items() if k in fields}
    values = {**UNSHOWN, "kind": "gpu", "global_mem": 1 << 30, "index": 0, "backend": "opencl",
              **values, **changes}
    return Device(**values)


def with_limits() -> list[dict]:
    """The fixtures whose dump shows the work-group limit and compute units."""
    return [f for f in FIXTURES if f.get("max_work_group_size") and f.get("compute_units")]
