"""The CUDA backend on a real NVIDIA GPU: whole networks against onnxruntime through the CUDA
graph the runtime records, event timing, tuning with CUDA workers, and `boda bench` against
cuDNN. Skipped where the CUDA driver sees no device (CI, developer machines); run on the GPU
machines by benchmarks/nvidia/run.sh."""
from __future__ import annotations

import json

import numpy as np
import pytest

import boda
from boda.devices import list_devices
from boda.frontend import zoo
from conftest import assert_close, ort_run
from conftest import boda as boda_cmd

CUDA = [d for d in list_devices() if d.backend == "cuda"]
pytestmark = pytest.mark.skipif(not CUDA, reason="no CUDA device")


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1", "mobilenet", "resnet18"])
def test_networks_match_onnxruntime_through_the_cuda_graph(name):
    model = zoo.build(name, batch=2)
    sess = boda.compile(model, "cuda:0", db=False)
    assert sess.engine.backend.lang == "cuda"
    rng = np.random.default_rng(1)
    for _ in range(2):  # a replay reads the newly uploaded input, not the first one
        x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
        feeds = {model.graph.input[0].name: x}
        assert_close(sess.run(None, feeds)[0], ort_run(model, feeds)[0])


def test_event_timing_and_profile():
    sess = boda.compile(zoo.build("squeezenet1_1"), "cuda:0", db=False)
    x = np.random.default_rng(2).standard_normal((1, 3, 224, 224)).astype(np.float32)
    prof = sess.engine.profile(sess.check_feeds({"data": x})[2], repeat=5)
    assert all(0 < alone < 0.1 and 0 < seq < 0.1 for _, alone, seq in prof)


def test_tune_on_cuda_then_run_uses_the_winners(tmp_path):
    path = tmp_path / "m.onnx"
    import onnx
    onnx.save(zoo.build("squeezenet1_1"), path)
    db = tmp_path / "t.sqlite"
    res = boda_cmd("tune", "--model", path, "--device", "cuda:0", "--budget", 60, "--db", db,
                   "--quiet")
    assert res.returncode == 0, res.stderr
    sess = boda.compile(str(path), "cuda:0", db=db)
    assert sum(layer.level == "exact" for layer in sess.engine.layers) >= 5
    x = np.random.default_rng(4).standard_normal((1, 3, 224, 224)).astype(np.float32)
    assert_close(sess.run(None, {"data": x})[0], ort_run(onnx.load(path), {"data": x})[0])


def test_bench_against_cudnn(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "sq.onnx"
    import onnx
    onnx.save(zoo.build("squeezenet1_1"), path)
    res = boda_cmd("bench", "--model", path, "--device", "cuda:0", "--against", "cudnn",
                   "--repeat", 5, "--json", tmp_path / "r.json")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert {"cudnn-heuristic", "cudnn-find"} <= set(report["layers"][0]["reference_ms"])
    for n in report["network"]:
        assert n["max_rel_diff"] <= 1e-3, n  # PyTorch computes the same network


def test_float16_storage_matches_onnxruntime():
    """--dtype float16: half tensors, float arithmetic; within half rounding of onnxruntime."""
    model = zoo.build("squeezenet1_1", batch=2)
    sess = boda.compile(model, "cuda:0", db=False, dtype="float16")
    x = np.random.default_rng(4).standard_normal((2, 3, 224, 224)).astype(np.float32)
    feeds = {model.graph.input[0].name: x}
    got, want = sess.run(None, feeds)[0], ort_run(model, feeds)[0]
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= 3e-2 * np.abs(want).max()
