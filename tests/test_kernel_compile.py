"""Every kernel family's renderings for every SqueezeNet 1.0 / 1.1 layer compile: as OpenCL C
on the default device, and as CUDA C with NVRTC to optimized cubins for sm_80 and sm_90 (no
GPU needed), as the CUDA backend builds them. (Every other kernel the tests render is checked
in CUDA by conftest's cuda_renderings_compile.)

Spaces run to thousands of points, so each (layer, family) contributes its default and a
random sample, drawn with a different seed per layer so the layers together cover more of
each space; the edges of every range are compiled and run in test_conv_families.py.
All kernels of one layer are built as one program, as the tuner builds them.
"""
from __future__ import annotations

import functools

import pytest

from boda import kernels
from boda.frontend import zoo
from boda.plan import plan_model
from boda.runtime.backends import nvrtc
from boda.runtime.backends.opencl import OpenCLBackend

SAMPLE = 2
CUDA_COMPILED_HERE = True  # conftest need not check these kernels' CUDA renderings again


@functools.lru_cache(maxsize=None)
def squeezenet_problems() -> list:
    seen = {}
    for name in ("squeezenet1_0", "squeezenet1_1"):
        for step in plan_model(zoo.build(name), batch=1).steps:
            seen.setdefault(step.problem.signature, step.problem)
    return list(seen.values())


def layer_sources(problem, device, lang, seed):
    out = []
    for family in kernels.families_for(problem):
        for params in family.sample(problem, device, SAMPLE, seed=seed, edges=False):
            out.append(kernels.render_standalone(family, problem, params, lang)[0])
    return out


def test_every_layer_has_a_tiled_conv_family(device):
    convs = [p for p in squeezenet_problems() if p.kind == "conv"]
    assert len(convs) >= 20
    for p in convs:
        names = {f.name for f in kernels.families_for(p)}
        assert names & {"conv_gemm", "conv_k1", "conv_winograd"}, p.signature


@pytest.mark.parametrize("index", range(len(squeezenet_problems())),
                         ids=[f"{i}-{p.kind}" for i, p in enumerate(squeezenet_problems())])
def test_layer_compiles(index, device):
    problem = squeezenet_problems()[index]
    OpenCLBackend(device).compile(kernels.program_source(
        layer_sources(problem, device, "opencl", index), "opencl"))
    if not nvrtc.available():
        pytest.skip("NVRTC is not installed (pip install cuda-bindings nvidia-cuda-nvrtc-cu12)")
    source = kernels.program_source(layer_sources(problem, device, "cuda", index), "cuda")
    for arch in nvrtc.ARCHS:
        assert nvrtc.compile_cached(source, arch)[:4] == b"\x7fELF"


def test_nvrtc_is_installed_with_the_test_extra():
    """Without NVRTC the CUDA renderings would go unchecked; the test extra brings it."""
    assert nvrtc.available(), "pip install cuda-bindings nvidia-cuda-nvrtc-cu12 (boda[cuda])"


def test_a_cuda_only_error_is_reported():
    from boda.kernels import KernelSource
    from conftest import _nvrtc_failures

    def kernel(name, body):
        return KernelSource(name, f'KERNEL void {name}(float* a) {{ a[0] = {body}; }}',
                            1, 1, "test", ())
    items = [(kernel("ok", "1.0f"), "good"), (kernel("bad", "undeclared"), "bad one"),
             (kernel("ok2", "2.0f"), "good 2")]
    assert _nvrtc_failures(items) == ["bad one"]
