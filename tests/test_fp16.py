"""float16 storage (--dtype float16): what can be checked with no half-precision device here.

PoCL's CPU device reports no cl_khr_fp16, so it refuses float16 in one line. Every family's
float16 rendering is compiled as CUDA by NVRTC and checked as OpenCL C by clang's front end
(libclang, for a target with cl_khr_fp16); the arithmetic stays float32, only loads and
stores convert. float16 results are recorded and looked up apart from float32 ones. The
numbers themselves are checked on a GPU by test_cuda.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import boda
from boda import kernels
from boda.devices import list_devices
from boda.errors import DeviceError
from boda.frontend import zoo
from boda.ir.numpy_reference import max_rel_error, random_inputs, reference
from boda.kernels.selection import Lookup
from boda.kernels.templating import template_hash
from boda.plan import plan_model
from boda.runtime.backends import backend_for
from boda.tuner.database import TuningDB
from boda.tuner.db_keys import device_identity, params_key
from boda.tuner.measure import FLOAT16_TOLERANCE, tolerance
from boda.tuner.tune import model_tasks
from conftest import assert_one_line_error
from conftest import boda as boda_cmd

CPU = list_devices()[0]
CUDA_COMPILED_HERE = True  # the float16 renderings are compiled by the test below


def test_a_device_without_half_precision_refuses_float16_in_one_line(tiny):
    for command in ("run", "tune"):
        assert_one_line_error(boda_cmd(command, "--model", tiny, "--dtype", "float16"),
                              "no half precision", "cl_khr_fp16", "float32")
    with pytest.raises(DeviceError, match="cl_khr_fp16"):
        boda.compile(str(tiny), "cpu", dtype="float16")


@pytest.mark.parametrize("model", ["squeezenet1_1", "mobilenet", "unet_small"])
def test_every_family_renders_float16_cuda_that_nvrtc_compiles(model):
    pytest.importorskip("cuda.bindings")
    from boda.runtime.backends import nvrtc
    sources = []
    for task in model_tasks(plan_model(zoo.build(model), None)):
        for family in kernels.families_for(task.problem, task.consts, CPU):
            for params in family.sample(task.problem, CPU, 0, edges=False):  # the default
                ks, _ = kernels.render_standalone(family, task.problem, params, "cuda",
                                                  dtype="float16")
                plain, _ = kernels.render_standalone(family, task.problem, params, "cuda")
                assert "GLOBAL float*" not in ks.source and "GLOBAL float*" in plain.source
                assert ks.name != plain.name and ks.dtype == "float16"
                sources.append(ks)
    assert {ks.family for ks in sources} >= {"conv_gemm", "conv_k1", "pool"}
    # unoptimized PTX, as conftest checks every other rendering: the front end is the check
    nvrtc.compile_cached(kernels.program_source(sources, "cuda"), "compute_80", ("-G",))


def opencl_errors(source: str) -> list[str]:
    """clang's errors for OpenCL C 1.2 `source` on a target with every extension (spir64,
    so cl_khr_fp16 is on), with PoCL's declarations of the OpenCL builtins."""
    import importlib.util
    cindex = pytest.importorskip("clang.cindex")
    pocl = importlib.util.find_spec("pocl_binary_distribution")
    include = Path(pocl.submodule_search_locations[0]) / ".libs/share/pocl/include"
    if not (include / "opencl-c.h").is_file():
        pytest.skip("no opencl-c.h in pocl-binary-distribution")
    unit = cindex.Index.create().parse(
        "boda.cl", args=["-x", "cl", "-cl-std=CL1.2", "-target", "spir64", "-I", str(include),
                         "-include", "opencl-c.h"], unsaved_files=[("boda.cl", source)])
    return [f"{d.location.line}: {d.spelling}" for d in unit.diagnostics if d.severity >= 3]


def test_the_opencl_checker_finds_errors():
    assert opencl_errors("__kernel void f(__global float* x) { x[0] = 1.0f; }") == []
    assert opencl_errors("__kernel void f(__global float* x) { x[0] = nothing; }")


@pytest.mark.parametrize("model", ["squeezenet1_1", "mobilenet", "resnet18", "unet_small"])
def test_every_family_renders_float16_opencl_that_clang_accepts(model):
    """PoCL cannot build cl_khr_fp16 code, so clang's front end checks it instead."""
    sources = []
    for task in model_tasks(plan_model(zoo.build(model), None)):
        for family in kernels.families_for(task.problem, task.consts, CPU):
            for params in family.sample(task.problem, CPU, 1, edges=False):
                ks, _ = kernels.render_standalone(family, task.problem, params, "opencl",
                                                  dtype="float16")
                sources.append(ks)
    errors = opencl_errors(kernels.program_source(sources, "opencl"))
    assert not errors, errors[:5]


def test_one_program_does_not_mix_storage_types():
    task = model_tasks(plan_model(zoo.build("squeezenet1_1"), None))[0]
    family, params = kernels.default_choice(task.problem, CPU, task.consts)
    half, _ = kernels.render_standalone(family, task.problem, params, "opencl",
                                        dtype="float16")
    full, _ = kernels.render_standalone(family, task.problem, params, "opencl")
    assert "cl_khr_fp16" in kernels.program_source([half], "opencl")
    assert "cl_khr_fp16" not in kernels.program_source([full], "opencl")
    with pytest.raises(ValueError, match="mix"):
        kernels.program_source([half, full], "opencl")


def test_float16_winners_are_kept_apart_from_float32_ones():
    """A float16 winner serves float16 lookups only; pruning keeps it while its templates
    (and the float16 prelude) are unchanged."""
    task = model_tasks(plan_model(zoo.build("squeezenet1_1"), None))[2]
    family, params = kernels.default_choice(task.problem, CPU, task.consts)
    db = TuningDB()
    key = db.add_device(CPU)
    db.add_problem(task.problem)
    db.set_winner({"device": key, "problem": task.problem.signature, "dtype": "float16",
                   "family": family.name, "template_hash": template_hash(family.template,
                                                                         "float16"),
                   "params": params_key(params), "seconds": 1e-3, "gflops": 1.0,
                   "default_seconds": 2e-3})
    lookup = Lookup([db])
    assert lookup.choose(task.problem, CPU, task.consts, "float16")[2] == "exact"
    assert lookup.choose(task.problem, CPU, task.consts, "float32")[2] == "default"
    assert template_hash(family.template, "float16") != template_hash(family.template)

    def current(name, dtype):
        return template_hash(kernels.BY_NAME[name].template, dtype)
    assert db.prune(current)["winners"] == 0
    assert db.counts()["winners"] == 1
    assert device_identity(CPU)["key"] == key


def test_the_float16_tolerance_admits_rounding_and_rejects_wrong_answers():
    """A correct kernel's float16 output differs from the float32 reference by the half
    rounding of its inputs and output; that is within the tolerance, and a kernel that drops
    one input channel is not."""
    for task in model_tasks(plan_model(zoo.build("squeezenet1_1"), None))[:6]:
        if task.problem.kind != "conv":
            continue
        x, w, b = random_inputs(task.problem, seed=1)
        half = [np.asarray(a, np.float16).astype(np.float32) for a in (x, w, b)]
        expected = reference(task.problem, *half)
        stored = np.asarray(reference(task.problem, *half), np.float16).astype(np.float32)
        assert max_rel_error(stored, expected) <= FLOAT16_TOLERANCE / 4
        w_wrong = half[1].copy()
        w_wrong[:, 0] = 0
        wrong = reference(task.problem, half[0], w_wrong, half[2])
        assert max_rel_error(wrong, expected) > FLOAT16_TOLERANCE
    family = kernels.BY_NAME["conv_gemm"]
    assert tolerance(family, "float32") == family.tolerance < FLOAT16_TOLERANCE
    assert tolerance(family, "float16") == FLOAT16_TOLERANCE


@pytest.mark.parametrize("remote", [False, True], ids=["local", "agent"])
def test_buffers_of_half_values_round_trip(remote, request):
    """Half storage in the backends: allocation, upload, fill and read-back by 2-byte items,
    attached here and through an agent."""
    if remote:
        import threading

        from boda.remote.agent import Agent
        server = Agent("127.0.0.1", 0, "t", log=lambda m: None)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        request.addfinalizer(server.shutdown)
        from boda.remote import remote_devices
        device = remote_devices(server.address, "t")[0]
    else:
        device = CPU
    be = backend_for(device)
    x = np.random.default_rng(3).standard_normal(37).astype(np.float16)
    buf = be.alloc(40, itemsize=2)
    be.fill(buf, 1.5, 40, itemsize=2)
    be.upload(buf, x, offset=2)
    out = np.empty(40, np.float16)
    be.download(buf, out)
    be.finish()
    np.testing.assert_array_equal(out[2:39], x)
    assert out[0] == out[1] == out[39] == np.float16(1.5)
