"""Shared fixtures. Tests that need no device live in test_frontend.py;
everything else runs on the default OpenCL device (PoCL's CPU device on every machine)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

# Tests never read or write the user's tuning database or binary cache (subprocesses
# inherit these), so every test run builds its kernels (PoCL's own cache still helps).
_TMP = tempfile.mkdtemp(prefix="boda-test-")
os.environ["BODA_DB"] = os.path.join(_TMP, "tuning.sqlite")
os.environ.setdefault("BODA_CACHE_DIR", os.path.join(_TMP, "cache"))


# Every kernel a test renders for OpenCL is rendered as CUDA C too, and at the end of each test
# module all of those compile with NVRTC for compute_80 and compute_90, so a template that
# breaks only in CUDA fails CI, which has no GPU (one dialect, two languages). To PTX, without
# optimization (-G): 3x quicker than optimized cubins, and it is the front end that catches
# a template's CUDA errors; test_kernel_compile.py builds SqueezeNet's kernels to cubins.
CUDA_RENDERINGS: dict = {}  # kernel name -> (CUDA KernelSource, what it renders)
CUDA_BATCH = 200


def _also_render_cuda(make):
    def wrapper(family, template, lang, problem, params, views, *args, **ctx):
        ks = make(family, template, lang, problem, params, views, *args, **ctx)
        if lang == "opencl":
            try:
                cu = make(family, template, "cuda", problem, params, views, *args, **ctx)
                CUDA_RENDERINGS.setdefault(cu.name, (cu, f"{family} {params} on "
                                                         f"{problem.signature}"))
            except Exception as exc:  # rendering for CUDA failed where OpenCL rendered
                CUDA_RENDERINGS[f"{family}-{len(CUDA_RENDERINGS)}"] = (
                    None, f"{family} {params} on {problem.signature}: {exc}")
        return ks
    return staticmethod(wrapper)


@pytest.fixture(autouse=True, scope="module")
def cuda_renderings_compile(request):
    from boda.kernels.templating import KernelSource
    from boda.runtime.backends import nvrtc
    if getattr(request.module, "CUDA_COMPILED_HERE", False):
        yield
        return
    original = KernelSource.__dict__["make"]
    KernelSource.make = _also_render_cuda(original.__func__)
    CUDA_RENDERINGS.clear()
    yield
    KernelSource.make = original
    if not nvrtc.available() or not CUDA_RENDERINGS:
        return
    failures = [what for ks, what in CUDA_RENDERINGS.values() if ks is None]
    items = [(ks, what) for ks, what in CUDA_RENDERINGS.values() if ks is not None]
    CUDA_RENDERINGS.clear()
    for dtype in sorted({ks.dtype for ks, _ in items}):  # one program, one storage type
        group = [item for item in items if item[0].dtype == dtype]
        for i in range(0, len(group), CUDA_BATCH):
            failures += _nvrtc_failures(group[i:i + CUDA_BATCH])
    assert not failures, f"{len(failures)} kernels fail in CUDA; first: {failures[0]}"


def _nvrtc_failures(items) -> list:
    from boda import kernels
    from boda.errors import CompileError
    from boda.runtime.backends import nvrtc

    def compiles(batch) -> bool:
        source = kernels.program_source([ks for ks, _ in batch], "cuda")
        try:
            for arch in nvrtc.ARCHS:
                nvrtc.compile_cached(source, arch.replace("sm_", "compute_"), ("-G",))
            return True
        except CompileError:
            return False
    if compiles(items):
        return []
    if len(items) == 1:
        return [items[0][1]]
    half = len(items) // 2
    return _nvrtc_failures(items[:half]) + _nvrtc_failures(items[half:])


@pytest.fixture(scope="session")
def device():
    from boda.devices import select_device
    return select_device()


def ort_run(model, feeds):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_close(out, ref, tol=1e-4):
    """max|out - ref| <= tol * max|ref|, the bar the issue sets against onnxruntime."""
    out, ref = np.asarray(out), np.asarray(ref)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    assert np.all(np.isfinite(out)), "non-finite values in the output"
    scale = float(np.abs(ref).max())
    err = float(np.abs(out.astype(np.float64) - ref).max())
    assert err <= tol * max(scale, 1e-12), f"max|out-ref| = {err:.3g}, max|ref| = {scale:.3g}"


def boda(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "boda.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def assert_one_line_error(res, *words):
    assert res.returncode != 0
    err = res.stderr.strip()
    assert "Traceback" not in res.stderr and len(err.splitlines()) == 1, res.stderr
    assert err.startswith("boda: error:"), err
    for w in words:
        assert w in err, err


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small conv net: Conv+Relu -> MaxPool -> Conv -> GlobalAveragePool -> Flatten."""
    rng = np.random.default_rng(0)
    w1 = onnx.numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = onnx.numpy_helper.from_array(rng.standard_normal((16, 8, 1, 1)).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2"], ["c2"]),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"]),
             helper.make_node("Flatten", ["g"], ["y"])]
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                        [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
                          [w1, w2])
    path = tmp_path_factory.mktemp("m") / "tiny.onnx"
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what the onnxruntime of the test extra reads
    onnx.save(model, path)
    return path
